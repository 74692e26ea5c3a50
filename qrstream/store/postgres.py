"""PostgreSQL through an asyncpg pool, for several server processes sharing one database.

The domain writes portable SQL with `?` placeholders; here they become `$1…$n`.
Arguments are coerced to the parameter types PostgreSQL reports (SQLite takes
anything anywhere; asyncpg refuses an int for a TEXT column), and NUMERIC
results (`SUM` of BIGINTs) come back as int or float, as SQLite gives them.
Transactions run at READ COMMITTED: a conditional `UPDATE … WHERE status = ?`
re-checks its condition after waiting for a competing writer, so exactly one wins.
"""

from __future__ import annotations

import asyncio
import decimal
import functools
import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg
from asyncpg import exceptions as pg

from qrstream.errors import StoreUnavailable
from qrstream.redact import safe_url
from qrstream.store import Row, StoreError
from qrstream.store.migrations import migrate

CONNECT_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 5.0
POOL_MAX = 10
MIGRATION_LOCK = 0x71727374  # pg_advisory_lock key: one process migrates at a time

_TEXT = {"text", "varchar", "bpchar", "name"}
_INT = {"int2", "int4", "int8"}
_FLOAT = {"float4", "float8", "numeric"}


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """Number the `?` placeholders as `$1…$n`, leaving quoted text and identifiers alone."""
    out: list[str] = []
    quote = ""
    n = 0
    for ch in sql:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "?":
            n += 1
            out.append(f"${n}")
            continue
        out.append(ch)
    return "".join(out)


def _coerce(value: Any, type_name: str) -> Any:
    """Adapt one argument to its parameter's type the way SQLite would have stored it."""
    if value is None:
        return None
    if type_name in _TEXT and not isinstance(value, str):
        return str(value)
    if type_name in _INT and isinstance(value, (bool, float)) and float(value).is_integer():
        return int(value)
    if type_name in _FLOAT and isinstance(value, int) and not isinstance(value, bool):
        return float(value) if type_name != "numeric" else value
    if type_name == "bool" and isinstance(value, int):
        return bool(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _row(record: asyncpg.Record) -> dict[str, Any]:
    return {key: _plain(value) for key, value in record.items()}


def _rowcount(status: str) -> int:
    """`UPDATE 3`, `INSERT 0 1`, `DELETE 0` → the last number; statements without one → 0."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


ParamTypes = dict[str, tuple[str, ...]]

UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable; TimeoutError (a connect past its timeout) is one too
    pg.PostgresConnectionError,  # class 08: the connection failed or went away mid-statement
    pg.InterfaceError,  # a connection closed under asyncpg, a pool closing
    pg.InternalClientError,  # a connection's protocol state broken by its loss mid-operation
    pg.CannotConnectNowError,  # starting up or shutting down
    pg.AdminShutdownError,  # pg_ctl stop -m fast / -m immediate: sessions terminated
    pg.CrashShutdownError,
    pg.InsufficientResourcesError,  # class 53: disk full, out of memory, too many connections
    pg.ReadOnlySQLTransactionError,  # a standby during a fail-over
)
"""What the store reports when PostgreSQL cannot be reached or cannot take work now: StoreUnavailable."""


def _reason(exc: BaseException) -> str:
    """A short cause, without addresses (it is shown by the public /readyz)."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError):  # asyncio's own strerror names the address
        return os.strerror(exc.errno) if exc.errno else "connection failed"
    if isinstance(exc, (pg.InterfaceError, pg.InternalClientError)):
        return "connection lost"
    return _one_line(exc)  # PostgreSQL's own message, e.g. "the database system is shutting down"


@contextmanager
def _unreachable() -> Iterator[None]:
    try:
        yield
    except UNREACHABLE as exc:
        raise StoreUnavailable(_reason(exc)) from exc


class _Statements:
    """Statements on one connection (a transaction's, or one borrowed for a single statement)."""

    def __init__(self, conn: asyncpg.Connection, types: ParamTypes) -> None:
        self._conn = conn
        self._types = types

    async def _prepare(self, sql: str, args: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
        query = translate(sql)
        if not args:
            return query, args
        types = self._types.get(query)
        if types is None:
            # One extra round trip per distinct statement per process; asyncpg caches the
            # statement itself, so later calls pay nothing.
            stmt = await self._conn.prepare(query)
            types = self._types[query] = tuple(t.name for t in stmt.get_parameters())
        return query, tuple(_coerce(a, t) for a, t in zip(args, types, strict=False))

    async def execute(self, sql: str, *args: Any) -> int:
        query, params = await self._prepare(sql, args)
        return _rowcount(await self._conn.execute(query, *params))

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        query, params = await self._prepare(sql, args)
        record = await self._conn.fetchrow(query, *params)
        return _row(record) if record is not None else None

    async def fetchall(self, sql: str, *args: Any) -> Sequence[Row]:
        query, params = await self._prepare(sql, args)
        return [_row(r) for r in await self._conn.fetch(query, *params)]


class PostgresDatabase:
    """The store shared by several processes."""

    dialect = "postgres"

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self._pool = pool
        self._types: ParamTypes = {}
        self.url = safe_url(url)

    @classmethod
    async def open(cls, url: str) -> PostgresDatabase:
        """Connect a pool and migrate; StoreError (one line, no password) when that fails."""
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=POOL_MAX,
                timeout=CONNECT_TIMEOUT_S,
                server_settings={"application_name": "qrstream", "jit": "off"},
            )
        except Exception as exc:  # asyncpg raises many kinds (OverflowError for a bad port, …)
            raise StoreError(f"cannot open database {safe_url(url)!r}: {_one_line(exc)}") from None
        db = cls(pool, url)
        try:
            async with pool.acquire() as conn:
                # Held on its own session while `migrate` uses other pooled connections:
                # processes starting together migrate one after another.
                await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
                try:
                    await migrate(db)
                finally:
                    await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            await db.close()
            raise StoreError(f"cannot use database {db.url!r}: {_one_line(exc)}") from None
        return db

    async def _one(self, run: Callable[[_Statements], Any]) -> Any:
        with _unreachable():
            async with self._pool.acquire() as conn:
                return await run(_Statements(conn, self._types))

    async def execute(self, sql: str, *args: Any) -> int:
        return await self._one(lambda s: s.execute(sql, *args))  # type: ignore[no-any-return]

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        return await self._one(lambda s: s.fetchone(sql, *args))  # type: ignore[no-any-return]

    async def fetchall(self, sql: str, *args: Any) -> Sequence[Row]:
        return await self._one(lambda s: s.fetchall(sql, *args))  # type: ignore[no-any-return]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Statements]:
        # A connection lost inside the transaction fails its statement, and then its ROLLBACK:
        # PostgreSQL keeps none of it, and the caller hears StoreUnavailable either way.
        with _unreachable():
            async with self._pool.acquire() as conn, conn.transaction():
                yield _Statements(conn, self._types)

    async def ping(self) -> None:
        """One round trip on a pooled connection; StoreUnavailable if none can be had."""
        await self.fetchone("SELECT 1 AS ok")

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self._pool.close(), CLOSE_TIMEOUT_S)
        except TimeoutError:
            self._pool.terminate()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

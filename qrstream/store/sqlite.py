"""SQLite through aiosqlite: one connection, WAL, statements serialised by a lock.

aiosqlite runs statements on one worker thread; the lock keeps a transaction's
statements together so another coroutine's statement never lands inside it.
A single-row read (`fetchone` outside a transaction) goes instead to a second,
read-only connection on the event loop's own thread: a point lookup takes tens of
microseconds, while the hop to the worker thread and back costs far more under
load (bench/rest.py). WAL lets it read the last committed state without the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from qrstream.errors import StoreUnavailable
from qrstream.store import Row, StoreError
from qrstream.store.migrations import migrate

UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,  # "database is locked" past busy_timeout: another process holds it
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,  # "database or disk is full"
        sqlite3.SQLITE_CANTOPEN,
    }
)
"""Primary result codes that mean "not now" rather than a bad statement: StoreUnavailable."""


def _unavailable(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF in UNAVAILABLE_CODES


@contextmanager
def _unreachable() -> Iterator[None]:
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        if _unavailable(exc):
            raise StoreUnavailable(str(exc)) from exc
        raise


def _parent_folder(path: str) -> Path:
    return Path(path).expanduser().absolute().parent


def _probe(path: str) -> None:
    """Raise StoreError unless `path` opens as an SQLite database."""
    try:
        probe = sqlite3.connect(path)
        try:
            probe.execute("PRAGMA schema_version").fetchone()
        finally:
            probe.close()
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open database {path!r}: {exc}") from exc


def _open_reader(path: str) -> sqlite3.Connection:
    """A read-only connection for point lookups on the loop thread; never waits for a lock."""
    reader = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True, isolation_level=None)
    reader.row_factory = sqlite3.Row
    reader.execute("PRAGMA busy_timeout=0")
    return reader


class _Statements:
    """Statements on the connection; callers hold the lock."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        cursor = await self._conn.execute(sql, args)
        count = cursor.rowcount
        await cursor.close()
        return count

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        async with self._conn.execute(sql, args) as cursor:
            row = await cursor.fetchone()
        return dict(row) if row is not None else None

    async def fetchall(self, sql: str, *args: Any) -> Sequence[Row]:
        async with self._conn.execute(sql, args) as cursor:
            rows = await cursor.fetchall()
        return [dict(r) for r in rows]


class SqliteDatabase:
    """The embedded default store."""

    dialect = "sqlite"

    def __init__(
        self, conn: aiosqlite.Connection, path: str, reader: sqlite3.Connection | None = None
    ) -> None:
        self._conn = conn
        self._reader = reader
        self._lock = asyncio.Lock()
        self._statements = _Statements(conn)
        self.path = path

    @classmethod
    async def open(cls, path: str) -> SqliteDatabase:
        if path.startswith("sqlite:///"):
            path = path[len("sqlite:///") :]
        if path != ":memory:":
            parent = _parent_folder(path)
            if not parent.is_dir():
                raise StoreError(f"cannot open database {path!r}: folder {str(parent)!r} does not exist")
        # Probe on a plain thread first: aiosqlite's worker thread outlives a failed connect
        # and would report into a closed loop after we exit.
        await asyncio.to_thread(_probe, path)
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a commit survives a process crash; only power loss may lose
            # the newest commits. FULL would cost an fsync per write.
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA busy_timeout=5000")
            await conn.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.Error, OSError) as exc:
            await conn.close()
            raise StoreError(f"cannot open database {path!r}: {exc}") from exc
        db = cls(conn, path)
        try:
            await migrate(db)
        except sqlite3.Error as exc:
            await conn.close()
            raise StoreError(f"cannot use database {path!r}: {exc}") from exc
        if path != ":memory:":  # another connection to :memory: would be another database
            db._reader = _open_reader(path)
        return db

    async def execute(self, sql: str, *args: Any) -> int:
        with _unreachable():
            async with self._lock:
                return await self._statements.execute(sql, *args)

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        if self._reader is not None:
            try:
                cursor = self._reader.execute(sql, args)
                row = cursor.fetchone()
                cursor.close()  # ends the read transaction now: an open one would hold back checkpoints
            except sqlite3.OperationalError:
                pass  # busy (a checkpoint at a bad moment): wait for it on the worker thread
            else:
                return dict(row) if row is not None else None
        with _unreachable():
            async with self._lock:
                return await self._statements.fetchone(sql, *args)

    async def fetchall(self, sql: str, *args: Any) -> Sequence[Row]:
        with _unreachable():
            async with self._lock:
                return await self._statements.fetchall(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Statements]:
        with _unreachable():
            async with self._lock:
                await self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._statements
                    await self._conn.execute("COMMIT")
                except BaseException:
                    # Also when COMMIT itself failed (disk full, I/O error): SQLite may leave the
                    # transaction open, and the next BEGIN would fail for good.
                    await self._rollback()
                    raise

    async def _rollback(self) -> None:
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error, OSError):  # the first error is the one to tell
                await self._conn.execute("ROLLBACK")

    async def ping(self) -> None:
        """One statement on the writing connection (behind any running transaction)."""
        await self.fetchall("SELECT 1 AS ok")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        await self._conn.close()

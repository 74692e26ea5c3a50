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
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from qrstream.store import Row, StoreError
from qrstream.store.migrations import migrate


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
        async with self._lock:
            return await self._statements.fetchone(sql, *args)

    async def fetchall(self, sql: str, *args: Any) -> Sequence[Row]:
        async with self._lock:
            return await self._statements.fetchall(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Statements]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._statements
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        await self._conn.close()

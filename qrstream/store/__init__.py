"""Storage: one small interface over SQL, SQLite by default, PostgreSQL by URL.

Domain modules write portable SQL with `?` placeholders; each backend adapts it.
Every state move is one conditional write (`UPDATE … WHERE status = ?`) whose
row count says whether this caller won.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

Row = Mapping[str, Any]


class StoreError(Exception):
    """The database cannot be opened or used (at start: a bad option, exit 2).

    Once running, a store that cannot be reached or cannot take work now raises
    `qrstream.errors.StoreUnavailable` from every method instead (answered 503)."""


class Queries(Protocol):
    """Statements, in or out of a transaction."""

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; return the number of rows it changed."""
        ...

    async def fetchone(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchall(self, sql: str, *args: Any) -> Sequence[Row]: ...


class Database(Queries, Protocol):
    """A connection (or pool) with transactions; `dialect` is 'sqlite' or 'postgres'."""

    dialect: str

    def transaction(self) -> AbstractAsyncContextManager[Queries]:
        """All statements inside commit together, or none do."""
        ...

    async def ping(self) -> None:
        """One round trip; StoreUnavailable when the store does not answer."""
        ...

    async def close(self) -> None: ...


async def open_database(url: str) -> Database:
    """Open (and migrate) the database named by `url`: a file path or a postgresql:// URL."""
    if url.startswith(("postgresql://", "postgres://")):
        from qrstream.store.postgres import PostgresDatabase

        return await PostgresDatabase.open(url)
    from qrstream.store.sqlite import SqliteDatabase

    return await SqliteDatabase.open(url)

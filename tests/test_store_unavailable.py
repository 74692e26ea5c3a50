"""The store layer turns "cannot reach the store now" into one domain error, StoreUnavailable.

Real failures, each made the way it happens: a PostgreSQL cluster stopped with `pg_ctl stop -m
fast` and started again, an SQLite file locked by another process past the busy timeout, an
SQLite database that cannot grow (SQLite's own SQLITE_FULL through `max_page_count`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from qrstream.errors import StoreUnavailable
from qrstream.store import Database, open_database
from tests.backends import PostgresServer

TABLE = "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"


async def test_both_stores_answer_a_ping(tmp_path: Path, postgres_url: str) -> None:
    """ping() returns on a working SQLite file and a working PostgreSQL database."""
    for url in (str(tmp_path / "ping.db"), postgres_url):
        db = await open_database(url)
        try:
            await db.ping()
        finally:
            await db.close()


async def test_postgres_stopped_then_started_is_unavailable_then_back(own_postgres: PostgresServer) -> None:
    """While the cluster is stopped every operation (and ping) raises StoreUnavailable, none a
    driver error; a transaction cut by the stop kept nothing; once started, the same pool works."""
    db = await open_database(own_postgres.url())
    try:
        await db.execute("CREATE TABLE notes (id SERIAL PRIMARY KEY, body TEXT NOT NULL)")
        await db.execute("INSERT INTO notes (body) VALUES (?)", "before")
        cut = asyncio.Event()

        async def cut_transaction() -> None:
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO notes (body) VALUES (?)", "half")
                cut.set()
                await tx.execute("SELECT pg_sleep(30)")

        writing = asyncio.ensure_future(cut_transaction())
        await asyncio.wait_for(cut.wait(), 10)
        await asyncio.to_thread(own_postgres.pause)
        with pytest.raises(StoreUnavailable):
            await asyncio.wait_for(writing, 10)
        for attempt in (
            db.ping(),
            db.execute("INSERT INTO notes (body) VALUES (?)", "during"),
            db.fetchone("SELECT body FROM notes"),
            db.fetchall("SELECT body FROM notes"),
            _in_transaction(db),
        ):
            with pytest.raises(StoreUnavailable) as caught:
                await attempt
            assert caught.value.status == 503 and caught.value.retry_after
        await asyncio.to_thread(own_postgres.resume)
        await db.ping()
        await db.execute("INSERT INTO notes (body) VALUES (?)", "after")
        assert [r["body"] for r in await db.fetchall("SELECT body FROM notes ORDER BY id")] == [
            "before",
            "after",
        ]
    finally:
        await db.close()


async def _in_transaction(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO notes (body) VALUES (?)", "during")


async def test_sqlite_locked_past_its_timeout_is_unavailable(tmp_path: Path) -> None:
    """Another process holding the write lock past busy_timeout: writes and transactions raise
    StoreUnavailable; once it lets go, they work."""
    path = str(tmp_path / "locked.db")
    db = await open_database(path)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        await db.execute(TABLE)
        await db.execute("PRAGMA busy_timeout=50")
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreUnavailable, match="locked"):
            await db.execute("INSERT INTO notes (body) VALUES (?)", "blocked")
        with pytest.raises(StoreUnavailable):
            await _in_transaction(db)
        other.execute("ROLLBACK")
        await _in_transaction(db)
        await db.execute("INSERT INTO notes (body) VALUES (?)", "after")
        assert [r["body"] for r in await db.fetchall("SELECT body FROM notes ORDER BY id")] == [
            "during",
            "after",
        ]
    finally:
        other.close()
        await db.close()


async def test_sqlite_full_is_unavailable_and_half_a_transaction_is_not_kept(tmp_path: Path) -> None:
    """A database that cannot grow (SQLITE_FULL): the transaction raises StoreUnavailable and keeps
    nothing of itself, and the connection is usable afterwards."""
    db = await open_database(str(tmp_path / "full.db"))
    try:
        await db.execute(TABLE)
        row = await db.fetchone("PRAGMA page_count")
        assert row is not None
        await db.execute(f"PRAGMA max_page_count={int(next(iter(row.values()))) + 2}")
        with pytest.raises(StoreUnavailable, match="full"):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO notes (body) VALUES (?)", "small")
                await tx.execute("INSERT INTO notes (body) VALUES (?)", "x" * 1_000_000)
        assert await db.fetchall("SELECT body FROM notes") == []
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO notes (body) VALUES (?)", "fits")
        assert [r["body"] for r in await db.fetchall("SELECT body FROM notes")] == ["fits"]
    finally:
        await db.close()

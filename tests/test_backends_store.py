"""The same conformance tests on both stores: SQLite (the default) and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from qrstream.store import Database, StoreError, open_database
from qrstream.store.migrations import MIGRATIONS, migrate
from qrstream.store.postgres import safe_url, translate
from qrstream.store.settings import get_or_create
from tests.backends import free_port
from tests.serverproc import error_line

TABLE = """
CREATE TABLE things (
    id {serial},
    name TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'new',
    score {float},
    big {bigint},
    raw {blob}
)
"""


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = await open_database(db_url)
    from qrstream.store.migrations import TYPES

    await database.execute(TABLE.format(**TYPES[database.dialect]))
    yield database
    await database.close()


async def test_statements_return_row_counts_and_rows_as_dicts(db: Database) -> None:
    """execute gives the changed-row count; fetchone/fetchall give dicts (None when nothing)."""
    assert await db.execute("INSERT INTO things (name, score, big) VALUES (?, ?, ?)", "a", 1.5, 2**40) == 1
    assert await db.execute("INSERT INTO things (name) VALUES (?)", "b") == 1
    assert await db.execute("UPDATE things SET status = ? WHERE status = ?", "old", "new") == 2
    assert await db.execute("UPDATE things SET status = ? WHERE name = ?", "x", "nobody") == 0
    row = await db.fetchone("SELECT name, status, score, big FROM things WHERE name = ?", "a")
    assert row == {"name": "a", "status": "old", "score": 1.5, "big": 2**40}
    assert await db.fetchone("SELECT name FROM things WHERE name = ?", "zzz") is None
    rows = await db.fetchall("SELECT name FROM things ORDER BY name")
    assert [dict(r) for r in rows] == [{"name": "a"}, {"name": "b"}]
    assert await db.execute("DELETE FROM things WHERE name IN (?, ?)", "a", "b") == 2


async def test_values_keep_their_types_both_ways(db: Database) -> None:
    """Floats, big integers, bytes and NULL round-trip; SUM and COUNT come back as int."""
    await db.execute(
        "INSERT INTO things (name, score, big, raw) VALUES (?, ?, ?, ?)", "t", 3, 7.0, b"\x00\xff"
    )
    await db.execute("INSERT INTO things (name, big) VALUES (?, ?)", "u", 5)
    row = await db.fetchone("SELECT score, big, raw FROM things WHERE name = ?", "t")
    assert row is not None
    assert row["score"] == 3.0 and isinstance(row["score"], float)
    assert row["big"] == 7 and isinstance(row["big"], int)
    assert bytes(row["raw"]) == b"\x00\xff"
    total = await db.fetchone("SELECT SUM(big) AS s, COUNT(*) AS n, MAX(score) AS m FROM things")
    assert total == {"s": 12, "n": 2, "m": 3.0}
    assert type(total["s"]) is int and type(total["n"]) is int
    null = await db.fetchone("SELECT score, raw FROM things WHERE name = ?", "u")
    assert null == {"score": None, "raw": None}


async def test_question_marks_inside_quotes_are_not_placeholders(db: Database) -> None:
    """A `?` in a string literal stays text; only bare ones take arguments."""
    await db.execute("INSERT INTO things (name, status) VALUES ('what?', ?)", "ok?")
    row = await db.fetchone("SELECT name, status FROM things WHERE name = 'what?' AND status = ?", "ok?")
    assert row == {"name": "what?", "status": "ok?"}


async def test_returning_gives_the_new_row(db: Database) -> None:
    """INSERT … RETURNING hands back the generated id; ids grow."""
    first = await db.fetchone("INSERT INTO things (name) VALUES (?) RETURNING id, status", "r1")
    second = await db.fetchone("INSERT INTO things (name) VALUES (?) RETURNING id", "r2")
    assert first is not None and second is not None
    assert first["status"] == "new"
    assert isinstance(first["id"], int) and second["id"] > first["id"]
    gone = await db.fetchall("DELETE FROM things WHERE id = ? RETURNING name", first["id"])
    assert [r["name"] for r in gone] == ["r1"]


async def test_on_conflict_do_nothing_and_do_update(db: Database) -> None:
    """ON CONFLICT DO NOTHING changes 0 rows; DO UPDATE changes the existing one."""
    sql = "INSERT INTO things (name, status) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"
    assert await db.execute(sql, "c", "first") == 1
    assert await db.execute(sql, "c", "second") == 0
    upsert = (
        "INSERT INTO things (name, status) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET status = excluded.status"
    )
    assert await db.execute(upsert, "c", "third") == 1
    assert await db.fetchone("SELECT status FROM things WHERE name = ?", "c") == {"status": "third"}


async def test_transaction_commits_together(db: Database) -> None:
    """Statements in a transaction see each other and are all there afterwards."""
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO things (name) VALUES (?)", "t1")
        await tx.execute("UPDATE things SET status = ? WHERE name = ?", "done", "t1")
        assert await tx.fetchone("SELECT status FROM things WHERE name = ?", "t1") == {"status": "done"}
    assert await db.fetchone("SELECT status FROM things WHERE name = ?", "t1") == {"status": "done"}


async def test_transaction_rolls_back_on_error(db: Database) -> None:
    """An exception inside the block undoes every statement of it and propagates."""
    await db.execute("INSERT INTO things (name) VALUES (?)", "keep")
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO things (name) VALUES (?)", "lost")
            await tx.execute("UPDATE things SET status = ? WHERE name = ?", "changed", "keep")
            raise RuntimeError("boom")
    rows = await db.fetchall("SELECT name, status FROM things ORDER BY name")
    assert [dict(r) for r in rows] == [{"name": "keep", "status": "new"}]


async def test_transaction_rolls_back_on_a_failed_statement(db: Database) -> None:
    """A statement the database refuses (unique violation) undoes the transaction's earlier writes."""
    await db.execute("INSERT INTO things (name) VALUES (?)", "dup")
    with pytest.raises(Exception):  # noqa: B017 - each driver raises its own IntegrityError
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO things (name) VALUES (?)", "first-in-tx")
            await tx.execute("INSERT INTO things (name) VALUES (?)", "dup")
    assert await db.fetchone("SELECT name FROM things WHERE name = ?", "first-in-tx") is None
    assert await db.execute("INSERT INTO things (name) VALUES (?)", "after") == 1


async def test_conditional_update_race_has_exactly_one_winner(db: Database) -> None:
    """50 concurrent `UPDATE … WHERE status = ?` attempts at one move: one changes a row."""
    await db.execute("INSERT INTO things (name, status) VALUES (?, ?)", "race", "generated")

    async def attempt(n: int) -> int:
        return await db.execute(
            "UPDATE things SET status = ?, big = ? WHERE name = ? AND status = ?",
            "in_progress",
            n,
            "race",
            "generated",
        )

    results = await asyncio.gather(*(attempt(n) for n in range(50)))
    assert sorted(results) == [0] * 49 + [1]
    row = await db.fetchone("SELECT status, big FROM things WHERE name = ?", "race")
    assert row is not None and row["status"] == "in_progress" and row["big"] == results.index(1)


async def test_conditional_move_with_outbox_row_in_transactions_has_one_winner(db: Database) -> None:
    """50 concurrent transactions each try the move and write a log row only if they won: one row."""
    await db.execute("INSERT INTO things (name, status) VALUES (?, ?)", "race", "a")

    async def attempt(n: int) -> bool:
        async with db.transaction() as tx:
            won = await tx.execute(
                "UPDATE things SET status = ? WHERE name = ? AND status = ?", "b", "race", "a"
            )
            if won:
                await tx.execute("INSERT INTO things (name, big) VALUES (?, ?)", f"log-{n}", n)
            return bool(won)

    winners = [n for n, won in enumerate(await asyncio.gather(*(attempt(n) for n in range(50)))) if won]
    assert len(winners) == 1
    logs = await db.fetchall("SELECT big FROM things WHERE name LIKE 'log-%'")
    assert [r["big"] for r in logs] == winners


async def test_get_or_create_setting_races_to_one_value(db: Database) -> None:
    """Concurrent first reads of a generated secret all see the same stored value."""
    results = await asyncio.gather(*(get_or_create(db, "race_key") for _ in range(20)))
    assert len({value for value, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_migrations_are_idempotent(db_url: str) -> None:
    """Migrating again changes nothing; reopening the database keeps its schema version."""
    first = await open_database(db_url)
    try:
        assert await migrate(first) == len(MIGRATIONS)
        rows = await first.fetchall("SELECT version FROM schema_version ORDER BY version")
        assert [r["version"] for r in rows] == list(range(1, len(MIGRATIONS) + 1))
    finally:
        await first.close()
    again = await open_database(db_url)
    try:
        rows = await again.fetchall("SELECT version FROM schema_version")
        assert len(rows) == len(MIGRATIONS)
    finally:
        await again.close()


async def test_processes_starting_together_migrate_once(postgres_url: str) -> None:
    """Several pools opening one fresh PostgreSQL database at once apply each migration once."""
    dbs = await asyncio.gather(*(open_database(postgres_url) for _ in range(4)))
    try:
        rows = await dbs[0].fetchall("SELECT version FROM schema_version")
        assert sorted(r["version"] for r in rows) == list(range(1, len(MIGRATIONS) + 1))
    finally:
        for database in dbs:
            await database.close()


def test_placeholders_are_numbered_outside_quotes() -> None:
    """`?` → `$n` in order; quoted text and identifiers keep theirs."""
    assert translate("SELECT ? , '?', \"a?\" FROM t WHERE a = ? AND b = 'it''s?'") == (
        "SELECT $1 , '?', \"a?\" FROM t WHERE a = $2 AND b = 'it''s?'"
    )


def test_passwords_stay_out_of_messages() -> None:
    """The URL shown in errors hides the password."""
    assert safe_url("postgresql://me:s3cret@db.example:5433/q") == "postgresql://me:***@db.example:5433/q"
    assert safe_url("postgresql://me@db/q") == "postgresql://me@db/q"


def test_passwords_in_the_query_or_without_a_user_stay_out_of_messages() -> None:
    """`?password=` and `:pw@` (no user name) are hidden as well."""
    assert safe_url("postgresql://db/q?user=me&password=s3cret") == "postgresql://db/q?user=me&password=***"
    assert safe_url("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"


async def test_unreachable_server_is_a_one_line_store_error() -> None:
    """Nobody listening → StoreError with one line and no password."""
    url = f"postgresql://me:s3cret@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(StoreError) as caught:
        await open_database(url)
    message = str(caught.value)
    assert "\n" not in message and "s3cret" not in message and "cannot open database" in message


async def test_unknown_database_is_a_store_error(postgres_server: object) -> None:
    """A reachable server without that database → StoreError."""
    url = postgres_server.url("no_such_database")  # type: ignore[attr-defined]
    with pytest.raises(StoreError, match="no_such_database"):
        await open_database(url)


@pytest.mark.parametrize(
    "url", ["postgresql://u:pw@127.0.0.1:{port}/x", "postgresql://u:pw@127.0.0.1:99999/x"]
)
def test_run_py_exits_2_with_one_line_for_unusable_postgres(url: str) -> None:
    """`run.py --db postgresql://…` with no server or a bad port: one line on stderr, exit status 2."""
    url = url.format(port=free_port())
    line = error_line(["--port", "0", "--db", url])
    assert line.startswith("qrstream: error:") and "pw" not in line

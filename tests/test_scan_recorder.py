"""The write-behind scan queue and the readers, on a real SQLite file (no server)."""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from qrstream.cards.recorder import Scan, ScanRecorder
from qrstream.cards.scans import DayRange, card_stats, csv_chunks, prune
from qrstream.cards.visitors import AgentParser, VisitorKeys
from qrstream.store import Database, open_database
from tests.uastrings import BOTS, HUMANS

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC
PHONE = HUMANS[0].ua


@pytest.fixture(scope="module")
def parser() -> AgentParser:
    return AgentParser()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(str(tmp_path / "scans.db"))
    for uuid in ("card-a", "card-b"):
        await database.execute(
            "INSERT INTO cards (uuid, name, code, created_at, updated_at) VALUES (?, ?, ?, 0, 0)",
            uuid,
            uuid,
            f"code-{uuid}",
        )
    yield database
    await database.close()


def recorder_for(db: Database, parser: AgentParser, **kwargs: float) -> ScanRecorder:
    recorder = ScanRecorder(db, parser, VisitorKeys("secret"), **kwargs)  # type: ignore[arg-type]
    recorder.start()
    return recorder


def scan(at: float = T0, ua: str = PHONE, card: str = "card-a", referer: str | None = None) -> Scan:
    return Scan(card, at, "198.51.100.7", ua, referer)


async def test_a_batch_writes_scans_daily_and_bot_counts(db: Database, parser: AgentParser) -> None:
    """Scans and bots queued together are written together; flush waits for them."""
    recorder = recorder_for(db, parser)
    for n in range(5):
        assert recorder.record(scan(T0 + n))
    recorder.record(scan(T0, BOTS[0].ua))
    await recorder.flush()
    stats = await card_stats(db, "card-a", DayRange())
    assert stats["scans"] == 5 and stats["daily"] == {"2026-01-01": 5}
    assert stats["bots"] == {"Slackbot": 1}
    assert (recorder.recorded, recorder.bots, recorder.queued) == (5, 1, 0)
    await recorder.close()


async def test_a_full_queue_drops_and_counts_without_waiting(
    db: Database, parser: AgentParser, tmp_path: Path
) -> None:
    """While the writer is stuck behind a lock, record() still returns at once; past capacity it drops."""
    recorder = recorder_for(db, parser, capacity=3, linger_s=0.01)
    blocker = sqlite3.connect(tmp_path / "scans.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the writer's transaction now waits for this one
    recorder.record(scan())
    await asyncio.sleep(0.1)  # let the writer take it and block on the lock
    accepted = [recorder.record(scan(T0 + n)) for n in range(5)]
    assert accepted == [True, True, False, False, False]  # the first is still queued: 3 in all
    assert recorder.dropped == 3
    blocker.execute("ROLLBACK")
    blocker.close()
    await asyncio.wait_for(recorder.flush(), 10)
    assert (await card_stats(db, "card-a", DayRange()))["scans"] == 3
    await recorder.close()


async def test_close_writes_everything_queued(db: Database, parser: AgentParser) -> None:
    recorder = recorder_for(db, parser, linger_s=60)  # only close() makes it write now
    for n in range(1500):  # more than one batch
        recorder.record(scan(T0 + n / 1000))
    await recorder.close()
    assert (await card_stats(db, "card-a", DayRange()))["scans"] == 1500
    assert not recorder.record(scan())  # closed: refused, counted
    assert recorder.dropped == 1


async def test_scans_of_a_deleted_card_are_not_kept(db: Database, parser: AgentParser) -> None:
    recorder = recorder_for(db, parser)
    await db.execute("DELETE FROM cards WHERE uuid = ?", "card-b")
    recorder.record(scan(card="card-b"))
    recorder.record(scan(card="card-b", ua=BOTS[1].ua))
    recorder.record(scan(card="card-a"))
    await recorder.flush()
    rows = await db.fetchall("SELECT card_uuid FROM scan_events")
    assert [r["card_uuid"] for r in rows] == ["card-a"]
    assert await db.fetchall("SELECT * FROM card_bot_visits WHERE card_uuid = 'card-b'") == []
    assert await db.fetchall("SELECT * FROM card_scans WHERE card_uuid = 'card-b'") == []
    await recorder.close()


async def test_csv_pages_follow_on_without_gaps_or_repeats(db: Database, parser: AgentParser) -> None:
    """Paging through rows of equal times still gives each row once, oldest first."""
    recorder = recorder_for(db, parser)
    times = [T0 + n // 3 for n in range(10)]  # three scans share each second
    for n, at in enumerate(times):
        recorder.record(scan(at, referer=f"https://site{n}.example/"))
    await recorder.flush()
    text = "".join([chunk async for chunk in csv_chunks(db, "card-a", DayRange(), page=4)])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["time", "device", "os", "browser", "referrer"]
    assert sorted(r[4] for r in rows[1:]) == sorted(f"site{n}.example" for n in range(10))
    assert [r[0] for r in rows[1:]] == sorted(r[0] for r in rows[1:])
    await recorder.close()


async def test_prune_deletes_old_rows_only(db: Database, parser: AgentParser) -> None:
    recorder = recorder_for(db, parser)
    for at in (T0, T0 + 10, T0 + 86400):
        recorder.record(scan(at))
    await recorder.flush()
    assert await prune(db, T0 + 11) == 2
    stats = await card_stats(db, "card-a", DayRange())
    assert stats["devices"] == {"mobile": 1}
    assert stats["daily"] == {"2026-01-01": 2, "2026-01-02": 1}  # the daily counts stay
    await recorder.close()


async def test_listeners_hear_each_committed_batch(db: Database, parser: AgentParser) -> None:
    """After a batch is written, listeners get the scans added per card (bots are not scans)."""
    recorder = recorder_for(db, parser)
    heard: list[tuple[dict[str, int], float]] = []

    async def listen(added: dict[str, int], at: float) -> None:
        heard.append((added, at))

    recorder.listeners.append(listen)
    recorder.record(scan(T0, card="card-a"))
    recorder.record(scan(T0 + 1, card="card-b"))
    recorder.record(scan(T0 + 2, card="card-a"))
    recorder.record(scan(T0 + 3, BOTS[0].ua, card="card-b"))
    await recorder.flush()
    assert heard == [({"card-a": 2, "card-b": 1}, T0 + 3)]
    await recorder.close()


async def test_close_gives_up_on_a_store_that_stays_away(db: Database, parser: AgentParser) -> None:
    """Stopping with the store gone ends after a few tries and says what was lost, without hanging."""
    recorder = recorder_for(db, parser, linger_s=60)
    recorder.record(scan())
    await db.close()  # every write now fails
    await asyncio.wait_for(recorder.close(), 10)
    assert recorder.failures == 3 and recorder.queued == 0 and recorder.recorded == 0

"""Recording scans without slowing the redirect: a bounded write-behind queue.

The redirect only appends the raw facts (card, time, address, User-Agent, Referer) to a
list, which takes microseconds and never waits. One task takes what has gathered, at most
`linger_s` after the first of them (sooner when `batch` are waiting or someone flushes),
parses it (User-Agent families, bots, visitor key, referrer host), and writes it in one
transaction: the scan rows, the daily counts, the bots' counts. So a crash loses at most
the last `linger_s` plus one write (well under a second); `close()` writes everything
(SIGTERM: the server stops taking requests, then the cleanup closes the recorder).

A full queue (the store is down or far behind) never blocks the redirect: the scan is
dropped and counted (`dropped`, in /metrics). A batch that fails is kept and tried again
with backoff. Addresses live only in the queue, in memory, until their batch is written.

    redirect ──record()──▶ [pending ≤ capacity] ──writer task──▶ one transaction a batch
                                │ full: dropped += 1
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from qrstream.cards.visitors import AgentParser, VisitorKeys, referrer_host, shared_parser
from qrstream.store import Database, Queries
from qrstream.store.settings import get_or_create

log = logging.getLogger(__name__)

CAPACITY = 20_000  # QRSTREAM_SCAN_QUEUE_CAPACITY
BATCH = 1000
LINGER_S = 0.25
ROWS_PER_INSERT = 100  # 8 parameters a row: far below either backend's limit
RETRY_MAX_S = 5.0
CLOSE_TRIES = 3  # while stopping, give up after this many failed writes in a row
_COLUMNS = ("card_uuid", "at", "day", "device", "os", "browser", "referrer", "visitor")


VISITOR_SECRET = "visitor_key_secret"  # the stored secret the daily visitor keys derive from


def utc_day(now: float) -> str:
    """The UTC calendar day of a unix time, as YYYY-MM-DD."""
    return time.strftime("%Y-%m-%d", time.gmtime(now))


@dataclass(frozen=True, slots=True)
class Scan:
    """One GET of a dynamic link, as the redirect saw it."""

    card_uuid: str
    at: float
    address: str
    user_agent: str
    referer: str | None


BatchListener = Callable[[dict[str, int], float], Awaitable[None]]
"""Awaited after each committed batch with {card uuid: scans added} and the newest scan's time
(the admin event stream's `scan` messages); a failing listener is logged, the batch stays written."""


class ScanRecorder:
    """The queue and its writer; `start()` in the app's cleanup context, `close()` after."""

    @classmethod
    async def open(cls, db: Database, **options: Any) -> ScanRecorder:
        """A recorder with the stored visitor secret (made at first use) and the shared parser."""
        secret, _ = await get_or_create(db, VISITOR_SECRET)
        parser = await asyncio.to_thread(shared_parser)  # loading the rules takes ~0.3 s once
        return cls(db, parser, VisitorKeys(secret), **options)

    def __init__(
        self,
        db: Database,
        parser: AgentParser,
        keys: VisitorKeys,
        *,
        capacity: int = CAPACITY,
        batch: int = BATCH,
        linger_s: float = LINGER_S,
    ) -> None:
        self._db = db
        self._parser = parser
        self._keys = keys
        self._capacity = capacity
        self._batch = batch
        self._linger_s = linger_s
        self._pending: list[Scan] = []
        self._wake = asyncio.Event()
        self._hurry = asyncio.Event()
        self._accepted = 0  # scans ever queued
        self._done = 0  # of those, written (or given up with the store closing)
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.listeners: list[BatchListener] = []
        self.dropped = 0
        self.recorded = 0
        self.bots = 0
        self.failures = 0

    @property
    def queued(self) -> int:
        return self._accepted - self._done

    def parse_cache(self) -> functools._CacheInfo:
        """Hits and misses of the User-Agent parse cache (shared by the process)."""
        return self._parser.parse.cache_info()

    def record(self, scan: Scan) -> bool:
        """Queue one scan; False (and counted) when the queue is full. Never waits."""
        if len(self._pending) >= self._capacity or self._closing:
            self.dropped += 1
            return False
        self._pending.append(scan)
        self._accepted += 1
        if len(self._pending) == 1:
            self._wake.set()
        if len(self._pending) >= self._batch:
            self._hurry.set()
        return True

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="scan-recorder")

    async def flush(self) -> None:
        """Wait until every scan queued before this call is written (bound it with asyncio.timeout)."""
        target = self._accepted
        if self._done >= target:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        self._hurry.set()
        self._wake.set()
        await future

    async def close(self) -> None:
        """Write everything queued (retrying while the store allows), then stop the writer."""
        self._closing = True
        self._hurry.set()
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._pending:
            log.error("%d scans could not be written before shutdown", len(self._pending))
            self._finish(len(self._pending))
            self._pending.clear()

    async def _run(self) -> None:
        backoff = LINGER_S
        streak = 0  # failed writes in a row
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if not self._closing and not self._hurry.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._hurry.wait(), self._linger_s)
            self._hurry.clear()
            batch = self._pending[: self._batch]
            try:
                await self._write(batch)
            except Exception:
                self.failures += 1
                streak += 1
                if streak == 1 or streak % 100 == 0:
                    log.warning("could not write %d scans (will retry)", len(batch), exc_info=True)
                if self._closing and streak >= CLOSE_TRIES:
                    return  # the store stays away while stopping: close() reports what is left
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RETRY_MAX_S)
                continue
            backoff, streak = LINGER_S, 0
            del self._pending[: len(batch)]
            self._finish(len(batch))

    def _finish(self, count: int) -> None:
        self._done += count
        still = []
        for target, future in self._waiters:
            if target <= self._done:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((target, future))
        self._waiters = still

    async def _write(self, batch: Sequence[Scan]) -> None:
        rows: list[tuple[Any, ...]] = []
        daily: Counter[tuple[str, str]] = Counter()
        bots: Counter[tuple[str, str, str]] = Counter()
        for n, scan in enumerate(batch):
            if n % 100 == 99:
                await asyncio.sleep(0)  # cache misses cost tens of µs each: let requests in
            day = utc_day(scan.at)
            agent = self._parser.parse(scan.user_agent)
            if agent.bot is not None:
                bots[scan.card_uuid, day, agent.bot] += 1
                continue
            visitor = self._keys.key(day, scan.address, scan.user_agent)
            referrer = referrer_host(scan.referer)
            rows.append(
                (scan.card_uuid, scan.at, day, agent.device, agent.os, agent.browser, referrer, visitor)
            )
            daily[scan.card_uuid, day] += 1
        cards = {scan.card_uuid for scan in batch}
        async with self._db.transaction() as tx:
            await _insert_events(tx, rows)
            for (card_uuid, day), count in daily.items():
                await tx.execute(
                    "INSERT INTO card_scans (card_uuid, day, count)"
                    " SELECT uuid, ?, ? FROM cards WHERE uuid = ?"
                    " ON CONFLICT (card_uuid, day) DO UPDATE SET count = card_scans.count + excluded.count",
                    day,
                    count,
                    card_uuid,
                )
            for (card_uuid, day, bot), count in bots.items():
                await tx.execute(
                    "INSERT INTO card_bot_visits (card_uuid, day, bot, count)"
                    " SELECT uuid, ?, ?, ? FROM cards WHERE uuid = ?"
                    " ON CONFLICT (card_uuid, day, bot)"
                    " DO UPDATE SET count = card_bot_visits.count + excluded.count",
                    day,
                    bot,
                    count,
                    card_uuid,
                )
            if rows:  # a card deleted since its scans were queued keeps none of them
                marks = ", ".join("?" for _ in cards)
                await tx.execute(
                    f"DELETE FROM scan_events WHERE card_uuid IN ({marks})"
                    " AND card_uuid NOT IN (SELECT uuid FROM cards)",
                    *cards,
                )
        self.recorded += len(rows)
        self.bots += sum(bots.values())
        if rows and self.listeners:
            added: Counter[str] = Counter()
            for (card_uuid, _), count in daily.items():
                added[card_uuid] += count
            for listener in list(self.listeners):
                try:
                    await listener(dict(added), batch[-1].at)
                except Exception:
                    log.exception("scan listener failed")


async def _insert_events(tx: Queries, rows: Sequence[tuple[Any, ...]]) -> None:
    row_marks = "(" + ", ".join("?" for _ in _COLUMNS) + ")"
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start : start + ROWS_PER_INSERT]
        await tx.execute(
            f"INSERT INTO scan_events ({', '.join(_COLUMNS)}) VALUES {', '.join(row_marks for _ in chunk)}",
            *_flat(chunk),
        )


def _flat(rows: Iterable[tuple[Any, ...]]) -> list[Any]:
    return [value for row in rows for value in row]

"""Reading scans back: the statistics of a card over a range of UTC days, the CSV, retention.

`scans` and `daily` come from the daily counts, which are kept for good; every breakdown
comes from the scan rows, which are deleted after the retention period (and did not exist
before migration 9), so over such old days the breakdowns cover fewer scans than `scans`.
`uniqueVisitors` counts distinct visitor keys per day, summed over the days: a key changes
every UTC day, so one person on two days is two. `referrers` counts the scans that came with
a referrer; a scan without one (most QR scans) is in no referrer's count.
"""

from __future__ import annotations

import asyncio
import calendar
import csv
import io
import logging
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from qrstream.clock import Clock
from qrstream.errors import BadRequest
from qrstream.store import Database

log = logging.getLogger(__name__)

DAY_S = 86400.0
CSV_HEADER = ("time", "device", "os", "browser", "referrer")
CSV_PAGE = 1000
PRUNE_CHUNK = 5000
RETENTION_PERIOD_S = 3600.0
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_BREAKDOWNS = (("devices", "device"), ("os", "os"), ("browsers", "browser"), ("referrers", "referrer"))


def parse_day(values: Sequence[str], field: str) -> str | None:
    """The one YYYY-MM-DD of a query parameter (None when absent); BadRequest naming `field`."""
    if not values:
        return None
    value = values[0]
    ok = len(values) == 1 and _DAY.match(value) is not None
    if ok:
        try:
            date.fromisoformat(value)
        except ValueError:
            ok = False
    if not ok:
        raise BadRequest(f"{field} must be one date, YYYY-MM-DD", field=field)
    return value


@dataclass(frozen=True)
class DayRange:
    """UTC days from `first` to `last`, both included; None: open on that side."""

    first: str | None = None
    last: str | None = None

    @classmethod
    def from_query(cls, first: Sequence[str], last: Sequence[str]) -> DayRange:
        days = cls(parse_day(first, "from"), parse_day(last, "to"))
        if days.first and days.last and days.first > days.last:
            raise BadRequest("from must not be after to", field="from")
        return days

    def day_clause(self) -> tuple[str, list[Any]]:
        """SQL conditions on a `day` column, and their arguments."""
        sql, args = "", list[Any]()
        if self.first:
            sql, args = sql + " AND day >= ?", [*args, self.first]
        if self.last:
            sql, args = sql + " AND day <= ?", [*args, self.last]
        return sql, args

    def time_clause(self) -> tuple[str, list[Any]]:
        """SQL conditions on an `at` column (unix seconds), which its index serves."""
        sql, args = "", list[Any]()
        if self.first:
            sql, args = sql + " AND at >= ?", [*args, _midnight(self.first)]
        if self.last:
            sql, args = sql + " AND at < ?", [*args, _midnight(self.last) + DAY_S]
        return sql, args


def _midnight(day: str) -> float:
    return float(calendar.timegm(date.fromisoformat(day).timetuple()))


def iso_time(at: float) -> str:
    """ISO-8601 UTC with milliseconds: 2026-01-01T09:30:00.250Z."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _counts(rows: Sequence[Any], key: str) -> dict[str, int]:
    pairs = [(str(r[key]), int(r["n"])) for r in rows if r[key] is not None]
    return dict(sorted(pairs, key=lambda p: (-p[1], p[0])))


async def card_stats(db: Database, card_uuid: str, days: DayRange) -> dict[str, Any]:
    """The §11 statistics of one card over `days`."""
    day_sql, day_args = days.day_clause()
    at_sql, at_args = days.time_clause()
    rows = await db.fetchall(
        f"SELECT day, count FROM card_scans WHERE card_uuid = ?{day_sql} ORDER BY day", card_uuid, *day_args
    )
    daily = {str(r["day"]): int(r["count"]) for r in rows if int(r["count"])}
    row = await db.fetchone(
        "SELECT COUNT(*) AS n FROM (SELECT DISTINCT day, visitor FROM scan_events"
        f" WHERE card_uuid = ?{at_sql}) AS visits",
        card_uuid,
        *at_args,
    )
    stats: dict[str, Any] = {
        "scans": sum(daily.values()),
        "uniqueVisitors": int(row["n"]) if row else 0,
        "daily": daily,
    }
    for name, column in _BREAKDOWNS:
        rows = await db.fetchall(
            f"SELECT {column}, COUNT(*) AS n FROM scan_events WHERE card_uuid = ?{at_sql} GROUP BY {column}",
            card_uuid,
            *at_args,
        )
        stats[name] = _counts(rows, column)
    rows = await db.fetchall(
        f"SELECT bot, SUM(count) AS n FROM card_bot_visits WHERE card_uuid = ?{day_sql} GROUP BY bot",
        card_uuid,
        *day_args,
    )
    stats["bots"] = _counts(rows, "bot")
    return stats


async def csv_chunks(
    db: Database, card_uuid: str, days: DayRange, *, page: int = CSV_PAGE
) -> AsyncIterator[str]:
    """The scans of one card as CSV text, a page of rows at a time, header first, oldest first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    at_sql, at_args = days.time_clause()
    after: tuple[float, int] | None = None
    while True:
        page_sql, page_args = at_sql, list(at_args)
        if after is not None:
            page_sql += " AND (at > ? OR (at = ? AND id > ?))"
            page_args += [after[0], after[0], after[1]]
        rows = await db.fetchall(
            "SELECT id, at, device, os, browser, referrer FROM scan_events"
            f" WHERE card_uuid = ?{page_sql} ORDER BY at, id LIMIT {int(page)}",
            card_uuid,
            *page_args,
        )
        for r in rows:
            at = iso_time(float(r["at"]))
            writer.writerow((at, r["device"], r["os"], r["browser"], r["referrer"] or ""))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < page:
            return
        after = (float(rows[-1]["at"]), int(rows[-1]["id"]))


async def prune(db: Database, before: float) -> int:
    """Delete the scan rows older than `before` (unix seconds), a chunk at a time; how many."""
    total = 0
    while True:
        deleted = await db.execute(
            "DELETE FROM scan_events WHERE id IN (SELECT id FROM scan_events WHERE at < ? LIMIT ?)",
            before,
            PRUNE_CHUNK,
        )
        total += deleted
        if deleted < PRUNE_CHUNK:
            return total
        await asyncio.sleep(0)


async def run_retention(db: Database, clock: Clock, days: float) -> None:
    """Forever: prune rows older than `days` days now, then every hour of `clock`.

    The next run is due an hour after this one started, so time that passes during a run
    (the clock jumps, the store is slow) makes the next one come sooner, never later.
    """
    while True:
        started = clock.now()
        try:
            deleted = await prune(db, started - days * DAY_S)
            if deleted:
                log.info("deleted %d scan records older than %g days", deleted, days)
        except Exception:
            log.warning("could not delete old scan records (will retry)", exc_info=True)
        await clock.sleep_until(started + RETENTION_PERIOD_S)

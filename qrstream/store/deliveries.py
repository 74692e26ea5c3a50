"""The outbox's tables: `notifications`, and in `deliveries` one webhook POST per notification
with a URL, its lease, tries and outcome. Every query of either table is here.

Every move is one conditional UPDATE whose row count says whether this owner won:
a claim only takes a pending row whose lease is free, and an outcome is only
written by the owner holding the lease. A lease an owner still holds when it claims
again is its own abandoned one (its worker died, e.g. when the store went away
between claim and outcome): the owner takes it back rather than wait for it to end.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from qrstream.store import Queries, Row

PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"


async def add_notification(
    tx: Queries, *, body: dict[str, Any], now: float, instance_id: int | None = None, webhook_url: str = ""
) -> int:
    """Write one notification, and its delivery when it has a `webhook_url`, inside the caller's
    transaction (`Outbox.transaction`); return its receipt id."""
    row = await tx.fetchone(
        "INSERT INTO notifications (instance_id, body, webhook_url, created_at) VALUES (?, ?, ?, ?)"
        " RETURNING receipt_id",
        instance_id,
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        webhook_url,
        now,
    )
    if row is None:  # pragma: no cover - RETURNING always yields the row
        raise RuntimeError("INSERT … RETURNING gave no row")
    receipt_id = int(row["receipt_id"])
    if webhook_url:
        # Instance notifications keep their order per instance (whatever its URL becomes);
        # the others (verification status webhooks) per URL.
        destination = f"instance:{instance_id}" if instance_id is not None else f"url:{webhook_url}"
        await tx.execute(
            "INSERT INTO deliveries (receipt_id, destination, instance_id, url, idempotency_key,"
            " created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            receipt_id,
            destination,
            instance_id,
            webhook_url,
            uuid.uuid4().hex,
            now,
            now,
        )
    return receipt_id


async def oldest_unacknowledged(db: Queries, instance_id: int) -> Row | None:
    """The instance's oldest notification not yet acknowledged (`receipt_id`, `body`)."""
    return await db.fetchone(
        "SELECT receipt_id, body FROM notifications WHERE instance_id = ? AND acked_at IS NULL"
        " ORDER BY receipt_id LIMIT 1",
        instance_id,
    )


async def acknowledge(db: Queries, instance_id: int, receipt_id: int, now: float) -> bool:
    """Mark one of the instance's notifications acknowledged; False when there was none to mark."""
    changed = await db.execute(
        "UPDATE notifications SET acked_at = ? WHERE receipt_id = ? AND instance_id = ? AND acked_at IS NULL",
        now,
        receipt_id,
        instance_id,
    )
    return changed == 1


async def count_by_status(db: Queries) -> dict[str, int]:
    """How many deliveries there are of each status (only the statuses that have any)."""
    rows = await db.fetchall("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")
    return {str(row["status"]): int(row["n"]) for row in rows}


async def count_unacknowledged(db: Queries) -> int:
    """Instance notifications queued for receiveNotification and not yet acknowledged."""
    row = await db.fetchone(
        "SELECT COUNT(*) AS n FROM notifications WHERE instance_id IS NOT NULL AND acked_at IS NULL"
    )
    return int(row["n"]) if row else 0


async def idle_destinations(db: Queries, now: float, limit: int, owner: str) -> list[str]:
    """Destinations whose oldest pending delivery is not leased by anyone else than `owner`."""
    rows = await db.fetchall(
        "SELECT d.destination FROM deliveries d WHERE d.status = 'pending'"
        " AND d.id = (SELECT MIN(x.id) FROM deliveries x"
        "             WHERE x.destination = d.destination AND x.status = 'pending')"
        " AND (d.lease_until IS NULL OR d.lease_until < ? OR d.owner = ?)"
        " ORDER BY d.next_attempt_at LIMIT ?",
        now,
        owner,
        limit,
    )
    return [str(r["destination"]) for r in rows]


async def head(db: Queries, destination: str) -> Row | None:
    """The oldest pending delivery of `destination`, with its notification body (None if gone)."""
    return await db.fetchone(
        "SELECT d.id, d.receipt_id, d.instance_id, d.url, d.idempotency_key, d.attempts,"
        " d.created_at, d.next_attempt_at, d.lease_until, d.owner, n.body"
        " FROM deliveries d LEFT JOIN notifications n ON n.receipt_id = d.receipt_id"
        " WHERE d.destination = ? AND d.status = 'pending' ORDER BY d.id LIMIT 1",
        destination,
    )


async def claim(db: Queries, head: Row, owner: str, now: float, lease_until: float) -> bool:
    """Take the lease on the pending delivery `head` was read from, if it is still as read, due,
    and not leased (or leased by `owner`, abandoned); False when someone else holds it, tried it
    meanwhile, or settled it."""
    changed = await db.execute(
        "UPDATE deliveries SET lease_until = ?, owner = ? WHERE id = ? AND status = 'pending'"
        " AND attempts = ? AND next_attempt_at <= ?"
        " AND (lease_until IS NULL OR lease_until < ? OR owner = ?)",
        lease_until,
        owner,
        head["id"],
        head["attempts"],
        now,
        now,
        owner,
    )
    return changed == 1


async def release(db: Queries, delivery_id: int, owner: str) -> None:
    """Give the lease back untried (on shutdown)."""
    await db.execute(
        "UPDATE deliveries SET lease_until = NULL, owner = NULL WHERE id = ? AND owner = ?",
        delivery_id,
        owner,
    )


async def delivered(db: Queries, delivery_id: int, owner: str, *, url: str, now: float) -> bool:
    return (
        await db.execute(
            "UPDATE deliveries SET status = 'delivered', delivered_at = ?, url = ?, attempts = attempts + 1,"
            " last_error = NULL, lease_until = NULL, owner = NULL"
            " WHERE id = ? AND owner = ? AND status = 'pending'",
            now,
            url,
            delivery_id,
            owner,
        )
        == 1
    )


async def retry_at(db: Queries, delivery_id: int, owner: str, *, url: str, when: float, error: str) -> bool:
    return (
        await db.execute(
            "UPDATE deliveries SET next_attempt_at = ?, url = ?, attempts = attempts + 1, last_error = ?,"
            " lease_until = NULL, owner = NULL WHERE id = ? AND owner = ? AND status = 'pending'",
            when,
            url,
            error,
            delivery_id,
            owner,
        )
        == 1
    )


async def gave_up(db: Queries, delivery_id: int, owner: str, *, url: str, now: float, error: str) -> bool:
    return (
        await db.execute(
            "UPDATE deliveries SET status = 'failed', gave_up_at = ?, url = ?, attempts = attempts + 1,"
            " last_error = ?, lease_until = NULL, owner = NULL"
            " WHERE id = ? AND owner = ? AND status = 'pending'",
            now,
            url,
            error,
            delivery_id,
            owner,
        )
        == 1
    )


async def cancelled(db: Queries, delivery_id: int, owner: str, *, now: float, reason: str) -> bool:
    return (
        await db.execute(
            "UPDATE deliveries SET status = 'cancelled', cancelled_at = ?, last_error = ?,"
            " lease_until = NULL, owner = NULL WHERE id = ? AND owner = ? AND status = 'pending'",
            now,
            reason,
            delivery_id,
            owner,
        )
        == 1
    )


async def failed(db: Queries, limit: int) -> Sequence[Row]:
    """Given-up deliveries, the most recent first, with their notification bodies."""
    return await db.fetchall(
        "SELECT d.receipt_id, d.instance_id, d.url, d.idempotency_key, d.attempts, d.created_at,"
        " d.gave_up_at, d.last_error, n.body"
        " FROM deliveries d LEFT JOIN notifications n ON n.receipt_id = d.receipt_id"
        " WHERE d.status = 'failed' ORDER BY d.gave_up_at DESC, d.id DESC LIMIT ?",
        limit,
    )

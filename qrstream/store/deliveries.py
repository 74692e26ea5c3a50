"""The `deliveries` table: one webhook POST per notification, its lease, tries and outcome.

Every move is one conditional UPDATE whose row count says whether this owner won:
a claim only takes a pending row whose lease is free, and an outcome is only
written by the owner holding the lease. A lease an owner still holds when it claims
again is its own abandoned one (its worker died, e.g. when the store went away
between claim and outcome): the owner takes it back rather than wait for it to end.
"""

from __future__ import annotations

from collections.abc import Sequence

from qrstream.store import Queries, Row

PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"


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

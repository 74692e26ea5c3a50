"""Pairing links (CONTRACT §9): a watch-only capability for one instance's pairing stream.

Handing someone `/pair#id=…&token=…` hands them the whole instance API; a pairing link
hands them only `/p/<ticket>` (the pairing page) and `/p/<ticket>/scanqrcode` (its stream).
The ticket is 256 random bits, given out once; the store keeps its SHA-256 and its expiry,
so neither a database dump nor a log holds a usable ticket, and a lookup by hash leaks
nothing through timing.

A link dies when it expires (checked at every lookup; an open stream is ended then), and,
inside the same transaction as the change, when the instance becomes authorized (through
the link or any other way), is logged out, or is deleted (`end_links`): its rows go, so every
process sharing the store sees it dead at its next lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from qrstream.clock import Clock
from qrstream.errors import BadRequest
from qrstream.store import Database, Queries

TTL_DEFAULT = 86_400
TTL_MIN, TTL_MAX = 60, 604_800
EXPIRED = "Pairing link expired"

_TICKET = re.compile(r"[A-Za-z0-9_-]{43}")
"""`secrets.token_urlsafe(32)`: 32 bytes, unpadded URL-safe base64."""


def iso(ts: float) -> str:
    """ISO-8601 UTC to the second, as `expiresAt` is written everywhere."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_ticket() -> str:
    return secrets.token_urlsafe(32)


def ticket_hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def parse_ttl(body: dict[str, Any]) -> int:
    """`ttlSeconds` of a createPairingLink body: whole seconds, 60 to 604800, default 86400."""
    value = body.get("ttlSeconds")
    if value is None:
        return TTL_DEFAULT
    if isinstance(value, bool) or not isinstance(value, int) or not TTL_MIN <= value <= TTL_MAX:
        raise BadRequest(
            f"ttlSeconds must be a whole number of seconds from {TTL_MIN} to {TTL_MAX}", field="ttlSeconds"
        )
    return value


@dataclass(frozen=True)
class PairingLink:
    """A live link: the instance it watches and when it dies at the latest."""

    instance_id: int
    expires_at: float


async def end_links(tx: Queries, instance_id: int) -> None:
    """Kill every link of the instance, inside the caller's transaction (authorization, logout,
    deletion)."""
    await tx.execute("DELETE FROM pairing_links WHERE instance_id = ?", instance_id)


class PairingLinks:
    """Making and looking up pairing links."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def create(self, instance_id: int, ttl_s: int) -> tuple[str, float]:
        """A new link to the instance's pairing stream: (ticket, expiry)."""
        now = self._clock.now()
        expires_at = now + ttl_s
        async with self._db.transaction() as tx:
            # The instance's dead links go now, so the table does not grow with every call.
            await tx.execute(
                "DELETE FROM pairing_links WHERE instance_id = ? AND expires_at <= ?", instance_id, now
            )
            ticket = new_ticket()
            await tx.execute(
                "INSERT INTO pairing_links (ticket_hash, instance_id, expires_at, created_at)"
                " VALUES (?, ?, ?, ?)",
                ticket_hash(ticket),
                instance_id,
                expires_at,
                now,
            )
        return ticket, expires_at

    async def resolve(self, ticket: str) -> PairingLink | None:
        """The live link of a ticket; None when it is malformed, unknown, dead or expired."""
        if not _TICKET.fullmatch(ticket):
            return None
        row = await self._db.fetchone(
            "SELECT instance_id, expires_at FROM pairing_links WHERE ticket_hash = ?", ticket_hash(ticket)
        )
        if row is None or float(row["expires_at"]) <= self._clock.now():
            return None
        return PairingLink(int(row["instance_id"]), float(row["expires_at"]))

"""One-use tickets for the admin event stream (browsers cannot put headers on a websocket).

`POST /admin/events/ticket` (admin key) issues one; the websocket upgrade redeems it. A
ticket is good for one upgrade within `TTL_S` seconds of the injected clock. Only its
SHA-256 digest is stored, in the shared database, so a ticket issued by one process opens
the stream on another; redeeming is one conditional UPDATE, so of two upgrades racing with
one ticket exactly one wins.
"""

from __future__ import annotations

import hashlib
import secrets

from qrstream.clock import Clock
from qrstream.store import Database

TTL_S = 30
MAX_TICKET_LENGTH = 128
PRUNE_AFTER_S = 60.0
"""Tickets expired this long ago are deleted when the next one is issued."""


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


class Tickets:
    def __init__(self, db: Database, clock: Clock, ttl_s: float = TTL_S) -> None:
        self._db = db
        self._clock = clock
        self.ttl_s = ttl_s

    async def issue(self) -> str:
        """A new ticket (256 random bits, URL-safe), valid for `ttl_s` seconds from now."""
        ticket = secrets.token_urlsafe(32)
        now = self._clock.now()
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM event_tickets WHERE expires_at < ?", now - PRUNE_AFTER_S)
            await tx.execute(
                "INSERT INTO event_tickets (digest, expires_at) VALUES (?, ?)",
                _digest(ticket),
                now + self.ttl_s,
            )
        return ticket

    async def redeem(self, ticket: str | None) -> bool:
        """Use `ticket` up; False when it is missing, unknown, used or expired."""
        if not ticket or len(ticket) > MAX_TICKET_LENGTH or not ticket.isascii():
            return False
        now = self._clock.now()
        used = await self._db.execute(
            "UPDATE event_tickets SET used_at = ? WHERE digest = ? AND used_at IS NULL AND expires_at > ?",
            now,
            _digest(ticket),
            now,
        )
        return used == 1

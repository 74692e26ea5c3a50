"""The notification outbox: every state change writes its notification in the same transaction.

One `Outbox` is made with the shared core, before the families, and handed to each of
them. A family makes its change in `outbox.transaction()` and writes the notification
there (`change.notify`); once that transaction has committed with a webhook delivery in
it, the outbox rings its doorbell, which the webhook sender waits on (it also polls).
A row with an `instance_id` is also in that instance's `receiveNotification` queue; a
row with a `webhook_url` is to be POSTed there (see `webhooks`). The rows themselves are
`store.deliveries`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from qrstream.store import Database, Queries, Row, deliveries


class Change:
    """The transaction of one state change: its statements, and the notifications it writes."""

    def __init__(self, tx: Queries) -> None:
        self._tx = tx
        self.delivers = False
        """Whether a webhook delivery was written (the doorbell rings after the commit)."""

    async def execute(self, sql: str, *args: Any) -> int:
        return await self._tx.execute(sql, *args)

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        return await self._tx.fetchone(sql, *args)

    async def fetchall(self, sql: str, *args: Any) -> Sequence[Row]:
        return await self._tx.fetchall(sql, *args)

    async def notify(
        self, body: dict[str, Any], *, now: float, instance_id: int | None = None, webhook_url: str = ""
    ) -> int:
        """Write one notification in this change's transaction; return its receipt id. With a
        `webhook_url`, its webhook delivery is written too, so a committed change always has its
        POST pending."""
        receipt_id = await deliveries.add_notification(
            self._tx, body=body, now=now, instance_id=instance_id, webhook_url=webhook_url
        )
        self.delivers = self.delivers or bool(webhook_url)
        return receipt_id


class Outbox:
    """Where the families write their notifications, and the doorbell rung after each commit."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.doorbell = asyncio.Event()
        """Set when a committed change has a webhook delivery; the sender clears it as it looks."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Change]:
        """One state change: everything in it commits together, or none of it does."""
        async with self._db.transaction() as tx:
            change = Change(tx)
            yield change
        if change.delivers:
            self.ring()

    def ring(self) -> None:
        """A delivery was committed: the webhook sender looks now rather than at its next poll."""
        self.doorbell.set()

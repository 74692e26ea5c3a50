"""The notification outbox: every state change writes its notification in the same transaction.

A row with an `instance_id` is also in that instance's `receiveNotification` queue;
a row with a `webhook_url` is to be POSTed there (see `webhooks`).
"""

from __future__ import annotations

import json
from typing import Any

from qrstream.store import Queries


async def enqueue(
    tx: Queries, *, body: dict[str, Any], now: float, instance_id: int | None = None, webhook_url: str = ""
) -> None:
    """Write one notification inside the caller's transaction."""
    await tx.execute(
        "INSERT INTO notifications (instance_id, body, webhook_url, created_at) VALUES (?, ?, ?, ?)",
        instance_id,
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        webhook_url,
        now,
    )

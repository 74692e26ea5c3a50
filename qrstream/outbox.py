"""The notification outbox: every state change writes its notification in the same transaction.

A row with an `instance_id` is also in that instance's `receiveNotification` queue;
a row with a `webhook_url` is to be POSTed there (see `webhooks`).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from qrstream.store import Queries


async def enqueue(
    tx: Queries, *, body: dict[str, Any], now: float, instance_id: int | None = None, webhook_url: str = ""
) -> int:
    """Write one notification inside the caller's transaction; return its receipt id.

    With a `webhook_url`, its webhook delivery is written in the same transaction, so a
    committed change always has its POST pending (callers then wake the sender with
    `Services.notify_pending()`; it also polls).
    """
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

"""The webhook sender's lifetime in the app, and the admin's view of given-up deliveries."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from qrstream.errors import BadRequest
from qrstream.store import Queries, Row, deliveries
from qrstream.tasks import TaskSet
from qrstream.web.auth import require_admin
from qrstream.web.http import json_response, services
from qrstream.web.keys import SERVICES
from qrstream.web.policy import ADMIN, Routes
from qrstream.webhooks.client import client_session, make_post
from qrstream.webhooks.keys import WEBHOOKS
from qrstream.webhooks.sender import RetryPolicy, WebhookSender

CONCURRENCY = 32
"""At most this many webhook POSTs in flight at once, over every destination."""
TIMEOUT_S = 10.0
"""Each try waits this long for an answer."""
MAX_LIST = 1000


InstanceWebhookOf = Callable[[Queries, int], Awaitable[tuple[str, str]]]
"""The instances family's lookup of where an instance's webhooks go (its URL and token)."""


async def sender_ctx(app: web.Application, instance_webhook: InstanceWebhookOf) -> AsyncIterator[None]:
    """Start the sender (after the store opened), stop it before the store closes."""
    svc = app[SERVICES]
    # The operator's own QRSTREAM_WEBHOOK_URL goes anywhere; instance webhooks (chosen by whoever
    # holds an instance token) only where the destination policy allows, unless lifted.
    session = client_session(CONCURRENCY)
    sessions = [session]
    instance_post = None
    if not svc.config.webhook_allow_private:
        guarded = client_session(CONCURRENCY, guarded=True)
        sessions.append(guarded)
        instance_post = make_post(guarded, TIMEOUT_S)
    sender = WebhookSender(
        db=svc.db,
        clock=svc.clock,
        post=make_post(session, TIMEOUT_S),
        instance_post=instance_post,
        signing_key=svc.secrets.signing_key,
        policy=RetryPolicy(
            max_backoff_s=svc.config.webhook_max_backoff_s, give_up_s=svc.config.webhook_give_up_s
        ),
        doorbell=svc.outbox.doorbell,
        instance_webhook=functools.partial(instance_webhook, svc.db),
        default_url=svc.config.webhook_url or "",
        concurrency=CONCURRENCY,
        events=svc.events,
    )
    app[WEBHOOKS] = sender
    try:
        async with TaskSet() as tasks:
            tasks.spawn(sender.run(), "webhook sender")
            yield
    finally:
        for each in sessions:
            await each.close()


def _failed_json(row: Row) -> dict[str, Any]:
    body = row["body"]
    return {
        "receiptId": int(row["receipt_id"]),
        "idInstance": row["instance_id"],
        "url": row["url"],
        "idempotencyKey": row["idempotency_key"],
        "attempts": int(row["attempts"]),
        "createdAt": row["created_at"],
        "gaveUpAt": row["gave_up_at"],
        "lastError": row["last_error"],
        "body": json.loads(body) if body is not None else None,
    }


async def list_failed(request: web.Request) -> web.Response:
    """GET /admin/webhooks/failed[?limit=N]: deliveries given up, most recent first."""
    require_admin(request)
    raw = request.query.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIST:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIST}", field="limit")
    rows = await deliveries.failed(services(request).db, int(raw))
    return json_response({"failed": [_failed_json(row) for row in rows]})


def setup(app: web.Application, *, instance_webhook: InstanceWebhookOf) -> None:
    """Register the admin route and the sender's cleanup context (after the store's);
    `instance_webhook` is where the instances family says an instance's webhooks go."""
    Routes(app, ADMIN).get("/admin/webhooks/failed", list_failed, name="webhooks_failed")
    app.cleanup_ctx.append(functools.partial(sender_ctx, instance_webhook=instance_webhook))

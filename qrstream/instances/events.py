"""What an instance says about itself: its stream messages and its state-change notifications."""

from __future__ import annotations

import json
from typing import Any

from qrstream.instances.settings import NO
from qrstream.outbox import Change


def topic(instance_id: int) -> str:
    """The hub topic of an instance's stream."""
    return f"instance:{instance_id}"


def message(kind: str, body: Any) -> str:
    """A `{"type", "message"}` text as the qr endpoint and the websocket send it."""
    return json.dumps({"type": kind, "message": body}, separators=(",", ":"), ensure_ascii=False)


ALREADY_LOGGED = message("alreadyLogged", "instance account already authorized")
TIMEOUT_EXPIRED = message("timeoutExpired", "timeoutExpired")
DELETED = message("error", "instance deleted")
STARTING_ERROR = message("error", "instance is starting, try again in a few seconds")


def account_data(wid: str) -> str:
    return message("accountData", {"wid": wid, "phone": wid.partition("@")[0]})


async def record_change(
    tx: Change, *, instance_id: int, wid: str, state: str, webhook_url: str, state_webhook: str, now: float
) -> None:
    """Queue the `stateInstanceChanged` notification of a change, in the change's transaction;
    none at all (neither queued nor posted) when the instance's `stateWebhook` is `no`, as read by
    that same transaction, so turning it back on later brings no backlog."""
    if state_webhook == NO:
        return
    body = {
        "typeWebhook": "stateInstanceChanged",
        "instanceData": {"idInstance": instance_id, "wid": wid, "typeInstance": "whatsapp"},
        "timestamp": int(now),
        "stateInstance": state,
    }
    await tx.notify(body, now=now, instance_id=instance_id, webhook_url=webhook_url)

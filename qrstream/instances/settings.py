"""Green API instance settings: what `setSettings` accepts and `getSettings` answers.

Two settings act: `webhookUrlToken` (the `Authorization` of every webhook POST of the
instance) and `stateWebhook` (`no`: no `stateInstanceChanged` notifications at all). Both
are columns of `instances`, read where they act, so a change applies at once: the token
at each send (retries of pending deliveries included), `stateWebhook` inside each state
change's own transaction. The other Green API settings are checked against their
documented types, kept in `instance_settings` and echoed; they change nothing else.

`getSettings` answers every known key, as Green API does: a setting never set shows its
default. Green API turns every `yes`/`no` setting off on a new instance, so those default
to `no`, except `stateWebhook`, which is `yes` here (state changes have always been sent);
`delaySendMessagesMilliseconds` defaults to Green API's 5000.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qrstream.errors import BadRequest
from qrstream.store import Queries, Row

YES, NO = "yes", "no"

FLAGS = (
    "incomingWebhook",
    "outgoingWebhook",
    "outgoingMessageWebhook",
    "outgoingAPIMessageWebhook",
    "incomingCallWebhook",
    "pollMessageWebhook",
    "editedMessageWebhook",
    "deletedMessageWebhook",
    "keepOnlineStatus",
    "markIncomingMessagesReaded",
    "markIncomingMessagesReadedOnReply",
)
"""The `yes`/`no` settings that are only stored and echoed."""

DELAY = "delaySendMessagesMilliseconds"
DELAY_MIN, DELAY_MAX = 500, 86_400_000
DELAY_DEFAULT = 5000

STORED_DEFAULTS: dict[str, str | int] = {**dict.fromkeys(FLAGS, NO), DELAY: DELAY_DEFAULT}
"""What `getSettings` shows for an echoed setting never set."""

TOKEN_MAX = 2048
"""Longest `webhookUrlToken` accepted: it travels in one request header."""

_VISIBLE_ASCII = re.compile(r"[\x20-\x7e]*")


@dataclass(frozen=True)
class SettingsChange:
    """The settings a `setSettings` body gives (None: not given, unchanged)."""

    webhook_url: str | None = None
    webhook_url_token: str | None = None
    state_webhook: str | None = None
    stored: dict[str, str | int] = field(default_factory=dict)


def _yes_no(body: Mapping[str, Any], name: str) -> str | None:
    if name not in body:
        return None
    value = body[name]
    if value not in (YES, NO):
        raise BadRequest(f'{name} must be "yes" or "no"', field=name)
    return str(value)


def _delay(body: Mapping[str, Any]) -> int | None:
    if DELAY not in body:
        return None
    value = body[DELAY]
    if isinstance(value, bool) or not isinstance(value, int) or not DELAY_MIN <= value <= DELAY_MAX:
        raise BadRequest(f"{DELAY} must be a whole number from {DELAY_MIN} to {DELAY_MAX}", field=DELAY)
    return value


def _token(body: Mapping[str, Any]) -> str | None:
    name = "webhookUrlToken"
    if name not in body:
        return None
    value = body[name]
    if value is None:
        return ""
    # Printable ASCII only: anything else could not go into a header (a CR or LF would even split it).
    if not isinstance(value, str) or len(value) > TOKEN_MAX or not _VISIBLE_ASCII.fullmatch(value):
        raise BadRequest(
            f"{name} must be a string of at most {TOKEN_MAX} printable ASCII characters", field=name
        )
    return value


def parse(body: Mapping[str, Any], check_url: Callable[[object], str]) -> SettingsChange:
    """The settings of a `setSettings` body; unknown keys are ignored, a known key with a wrong
    type or value is a BadRequest naming it. `check_url` checks `webhookUrl` (the family's rule)."""
    if not body:
        raise BadRequest("Request body must name at least one setting", field="body")
    url = None
    if "webhookUrl" in body:
        url = check_url("" if body["webhookUrl"] is None else body["webhookUrl"])
    stored: dict[str, str | int] = {}
    for name in FLAGS:
        flag = _yes_no(body, name)
        if flag is not None:
            stored[name] = flag
    delay = _delay(body)
    if delay is not None:
        stored[DELAY] = delay
    return SettingsChange(
        webhook_url=url,
        webhook_url_token=_token(body),
        state_webhook=_yes_no(body, "stateWebhook"),
        stored=stored,
    )


async def save(tx: Queries, instance_id: int, change: SettingsChange, now: float) -> None:
    """Write `change` inside the caller's transaction (each given key, nothing else)."""
    columns = [
        (column, value)
        for column, value in (
            ("webhook_url", change.webhook_url),
            ("webhook_url_token", change.webhook_url_token),
            ("state_webhook", change.state_webhook),
        )
        if value is not None
    ]
    assignments = "".join(f"{column} = ?, " for column, _ in columns)
    await tx.execute(
        f"UPDATE instances SET {assignments}updated_at = ? WHERE id = ?",
        *(value for _, value in columns),
        now,
        instance_id,
    )
    for name, value in change.stored.items():
        await tx.execute(
            "INSERT INTO instance_settings (instance_id, name, value) VALUES (?, ?, ?)"
            " ON CONFLICT (instance_id, name) DO UPDATE SET value = excluded.value",
            instance_id,
            name,
            json.dumps(value),
        )


def stored_view(rows: Sequence[Row]) -> dict[str, str | int]:
    """The echoed settings from their rows, every known key present (defaults for the rest)."""
    view = dict(STORED_DEFAULTS)
    for row in rows:
        name = str(row["name"])
        if name in view:
            view[name] = json.loads(str(row["value"]))
    return view

"""What the admin event stream tells (CONTRACT §7), and how a family tells it.

Every family hands its events to the core's `AdminEvents`, after the change they describe
is committed; it announces them (the core's `Announcer`) on the topic `TOPIC`, which every
process's `/admin/events` sockets listen to through the websocket hub. Messages (`at` is ISO-8601 UTC):

    {"type": "instance", "idInstance", "stateInstance", "at"}       a new instance, or a state change
    {"type": "instanceDeleted", "idInstance", "at"}
    {"type": "verification", "verificationId", "status", "at"}     a new verification, or a status change
    {"type": "scan", "uuid", "scans", "at"}                        a counted scan; `scans` is the card's total
    {"type": "webhookFailed", "url", "reason", "at"}               a delivery given up

Telling is best effort: a bus that cannot take the message is logged, never an error of
the change itself (which is committed already).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from qrstream.announce import Announcer

log = logging.getLogger(__name__)

TOPIC = "admin:events"


def iso(ts: float) -> str:
    """Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AdminEvents:
    """The families' one way to tell the admin stream what happened."""

    def __init__(self, announcer: Announcer) -> None:
        self._announcer = announcer

    async def tell(self, event: dict[str, Any]) -> None:
        try:
            text = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
            await self._announcer.announce(TOPIC, text)
        except Exception:  # the bus is down: the stream misses this one, the change stands
            log.warning(
                "could not tell the admin event stream about a %s event", event.get("type"), exc_info=True
            )

    async def instance(self, instance_id: int, state: str, at: float) -> None:
        await self.tell(
            {"type": "instance", "idInstance": instance_id, "stateInstance": state, "at": iso(at)}
        )

    async def instance_deleted(self, instance_id: int, at: float) -> None:
        await self.tell({"type": "instanceDeleted", "idInstance": instance_id, "at": iso(at)})

    async def verification(self, verification_id: str, status: str, at: float) -> None:
        await self.tell(
            {"type": "verification", "verificationId": verification_id, "status": status, "at": iso(at)}
        )

    async def scan(self, card_uuid: str, scans: int, at: float) -> None:
        await self.tell({"type": "scan", "uuid": card_uuid, "scans": scans, "at": iso(at)})

    async def webhook_failed(self, url: str, reason: str, at: float) -> None:
        await self.tell({"type": "webhookFailed", "url": url, "reason": reason, "at": iso(at)})

"""Typed application keys: the app's shared state, set while it starts."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from qrstream.cards.service import CardService
    from qrstream.instances.frames import Frames
    from qrstream.instances.linking import Linking
    from qrstream.instances.rotation import Rotator
    from qrstream.instances.service import Instances
    from qrstream.ratelimit import RateLimiter
    from qrstream.services import Services
    from qrstream.verifications.service import Verifications
    from qrstream.web.limits import WsSlots
    from qrstream.web.metrics import Metrics
    from qrstream.web.ws import Hub
    from qrstream.webhooks.sender import WebhookSender

SERVICES: web.AppKey[Services] = web.AppKey("services")
WEBSOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("websockets")
HUB: web.AppKey[Hub] = web.AppKey("hub")
"""The one websocket fan-out of the app (every family streams through it)."""
LIMITER: web.AppKey[RateLimiter] = web.AppKey("limiter")
WS_SLOTS: web.AppKey[WsSlots] = web.AppKey("ws_slots")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
VERIFICATIONS: web.AppKey[Verifications] = web.AppKey("verifications")
CARDS: web.AppKey[CardService] = web.AppKey("cards")
WEBHOOKS: web.AppKey[WebhookSender] = web.AppKey("webhooks")
INSTANCES: web.AppKey[Instances] = web.AppKey("instances")
FRAMES: web.AppKey[Frames] = web.AppKey("frames")
LINKING: web.AppKey[Linking] = web.AppKey("linking")
ROTATOR: web.AppKey[Rotator] = web.AppKey("rotator")

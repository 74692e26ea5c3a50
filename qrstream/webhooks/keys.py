"""The webhooks family's application keys."""

from __future__ import annotations

from aiohttp import web

from qrstream.webhooks.sender import WebhookSender

WEBHOOKS: web.AppKey[WebhookSender] = web.AppKey("webhooks", WebhookSender)

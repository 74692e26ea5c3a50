"""The verifications family's application keys."""

from __future__ import annotations

from aiohttp import web

from qrstream.verifications.service import Verifications

VERIFICATIONS: web.AppKey[Verifications] = web.AppKey("verifications", Verifications)

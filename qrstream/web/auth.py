"""Credential checks shared by the route modules (all constant-time)."""

from __future__ import annotations

from aiohttp import web

from qrstream.errors import NotConfigured, Unauthorized
from qrstream.signing import any_secret, same_secret
from qrstream.web.http import bearer_token, services


def require_admin(request: web.Request) -> None:
    """401 {"error": "Unauthorized"} unless the request carries the admin bearer key."""
    if not same_secret(bearer_token(request), services(request).secrets.admin_key):
        raise Unauthorized("Unauthorized")


def require_sdk_key(request: web.Request) -> None:
    """The verification API's key check: 500 when no key is configured (checked first),
    401 {"error": "Invalid API key"} unless `X-SDK-Key` is one of the configured keys."""
    keys = services(request).config.sdk_keys
    if not keys:
        raise NotConfigured("No API key configured")
    if not any_secret(request.headers.get("X-SDK-Key"), keys):
        raise Unauthorized("Invalid API key")

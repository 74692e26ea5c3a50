"""Credential checks shared by the route modules (all constant-time)."""

from __future__ import annotations

from aiohttp import web

from qrstream.errors import Unauthorized
from qrstream.signing import same_secret
from qrstream.web.http import bearer_token, services


def require_admin(request: web.Request) -> None:
    """401 {"error": "Unauthorized"} unless the request carries the admin bearer key."""
    if not same_secret(bearer_token(request), services(request).secrets.admin_key):
        raise Unauthorized("Unauthorized")

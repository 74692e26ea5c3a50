"""Routes of the verifications API family (filled in by its issue)."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Register the routes and the cleanup context of this family."""

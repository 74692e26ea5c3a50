"""Links to the server's own routes, by route name: what the families put in QR codes and answers.

A family never spells a route's path: it asks its `LinkFor` for the route by name
(`links.url("card-page", uuid=…)`), so a path is written once, where its route is
added. The web layer implements `RoutePaths` from the app's router
(`qrstream.web.links`); `Links` puts the public URL (`--public-url`, or
`http://HOST:PORT`) in front. The public URL is joined as text, not resolved: a
public URL with a path (`https://example.org/qr`) keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class RoutePaths(Protocol):
    """Origin-relative paths of named routes (the web layer's router)."""

    def route_path(self, name: str, parts: Mapping[str, str], query: Mapping[str, str] | None) -> str:
        """The path of route `name` with its `{parts}` filled in (quoted) and `query` after a `?`.
        Raises KeyError for an unknown route name or a missing part."""
        ...


class LinkFor(Protocol):
    """What a family is handed to build links to its routes, by route name."""

    def path(self, name: str, /, *, query: Mapping[str, str] | None = None, **parts: str) -> str:
        """The origin-relative path of route `name` (`/c/<uuid>`), `query` after a `?`."""
        ...

    def url(self, name: str, /, *, query: Mapping[str, str] | None = None, **parts: str) -> str:
        """The absolute URL of route `name` under the public URL (`<public-url>/c/<uuid>`)."""
        ...


class Links:
    """`LinkFor` over a router's `RoutePaths` and the public URL `base_url`."""

    __slots__ = ("_paths", "base_url")

    def __init__(self, base_url: str, paths: RoutePaths) -> None:
        self.base_url = base_url.rstrip("/")
        self._paths = paths

    def path(self, name: str, /, *, query: Mapping[str, str] | None = None, **parts: str) -> str:
        return self._paths.route_path(name, parts, query)

    def url(self, name: str, /, *, query: Mapping[str, str] | None = None, **parts: str) -> str:
        return self.base_url + self._paths.route_path(name, parts, query)

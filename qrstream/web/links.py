"""`RoutePaths` from the app's router: `app.router[name].url_for(**parts)`, made cheap.

Each route name is compiled once, on first use, from its resource's canonical form
(`/c/{uuid}` → "/c/" + uuid). Values made only of unreserved characters (RFC 3986:
letters, digits, `-._~`), which `url_for` and `with_query` leave exactly as they are,
are joined in directly; anything else (or any other kind of resource) goes through
`url_for` and `with_query` themselves, so the answer is always theirs. The direct
path costs about a fifth of `url_for`'s, which matters on the `/q/{code}` redirect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractResource, DynamicResource, PlainResource

_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]*")


class _Template:
    """A route's path as literal pieces and part names; `fill` joins them, or None to defer to url_for."""

    __slots__ = ("names", "pieces", "resource")

    def __init__(self, resource: AbstractResource) -> None:
        self.resource = resource
        pieces: list[tuple[str, str | None]] = []
        if isinstance(resource, PlainResource | DynamicResource):
            rest = resource.canonical
            while "{" in rest:
                text, _, after = rest.partition("{")
                name, _, rest = after.partition("}")
                pieces.append((text, name))
            pieces.append((rest, None))
        self.pieces = tuple(pieces)
        self.names = frozenset(name for _, name in pieces if name is not None)

    def fill(self, parts: Mapping[str, str]) -> str | None:
        if not self.pieces or len(parts) != len(self.names):
            return None
        out: list[str] = []
        for text, name in self.pieces:
            out.append(text)
            if name is not None:
                value = parts.get(name)
                if value is None or not _UNRESERVED.fullmatch(value):
                    return None
                out.append(value)
        return "".join(out)


def _plain_query(query: Mapping[str, str]) -> str | None:
    pairs = []
    for key, value in query.items():
        if not (_UNRESERVED.fullmatch(key) and _UNRESERVED.fullmatch(value)):
            return None
        pairs.append(f"{key}={value}")
    return "&".join(pairs)


class RouterPaths:
    """The paths of `router`'s named routes (KeyError for an unknown name or a missing part)."""

    __slots__ = ("_router", "_templates")

    def __init__(self, router: web.UrlDispatcher) -> None:
        self._router = router
        self._templates: dict[str, _Template] = {}

    def path(self, name: str, /, *, query: Mapping[str, str] | None = None, **parts: str) -> str:
        template = self._templates.get(name)
        if template is None:
            template = self._templates[name] = _Template(self._router[name])
        path = template.fill(parts)
        if path is not None:
            if not query:
                return path
            plain = _plain_query(query)
            if plain is not None:
                return f"{path}?{plain}"
        url = template.resource.url_for(**parts)
        return str(url.with_query(query) if query else url)

"""Links by route name: `RouterPaths` answers exactly what `url_for` (+ `with_query`) answers."""

from __future__ import annotations

import re

import pytest
from aiohttp import web

from qrstream.config import Config
from qrstream.links import Links
from qrstream.web.app import create_app
from qrstream.web.links import RouterPaths

PLAIN = "Ab0-._~"
"""Unreserved characters only: joined in directly."""
QUOTED = ["a b", "ä", "x/y", "50%", "q?r", "h#s", "+&=;", ""]
"""Values url_for and with_query change (or may): they go through url_for itself."""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> web.Application:
    return create_app(Config(db=str(tmp_path_factory.mktemp("links") / "q.db")))


def _part_names(resource: web.AbstractResource) -> list[str]:
    return re.findall(r"\{([^}:]+)", resource.canonical)


def _named(app: web.Application) -> dict[str, web.AbstractResource]:
    named = dict(app.router.named_resources())
    expected = {"card-page", "card-link", "card-offline-qr", "verify-portal", "link-page"}
    expected.add("pairing-link-page")
    assert expected <= set(named)
    return named


@pytest.mark.parametrize("value", [PLAIN, *QUOTED])
def test_every_named_route_gives_what_url_for_gives(app: web.Application, value: str) -> None:
    paths = Links("http://unused", RouterPaths(app.router))
    for name, resource in _named(app).items():
        if isinstance(resource, web.StaticResource):
            parts = {"filename": "card.css"}
        else:
            parts = dict.fromkeys(_part_names(resource), value)
        expected = resource.url_for(**parts)
        assert paths.path(name, **parts) == str(expected), name
        for query in ({"k": value}, {"expires": "0123", "format": value}, {}):
            assert paths.path(name, query=query, **parts) == str(expected.with_query(query)), (name, query)


def test_a_second_call_uses_the_compiled_route_and_still_quotes(app: web.Application) -> None:
    paths = Links("http://unused", RouterPaths(app.router))
    assert paths.path("card-page", uuid="abc") == "/c/abc"
    assert paths.path("card-page", uuid="abc") == "/c/abc"
    assert paths.path("card-page", uuid="a b/c") == "/c/a%20b/c"  # as url_for: "/" stays
    assert paths.path("verify-portal", query={"verification_id": "ver_1"}) == "/verify?verification_id=ver_1"
    assert paths.path("verify-portal", query={"verification_id": "a&b"}) == "/verify?verification_id=a%26b"


def test_unknown_names_and_missing_parts_fail_loudly(app: web.Application) -> None:
    paths = Links("http://unused", RouterPaths(app.router))
    with pytest.raises(KeyError):
        paths.path("no-such-route")
    with pytest.raises(KeyError):
        paths.path("card-page")
    with pytest.raises(KeyError):
        paths.path("card-page", code="abc")  # a part of another route


def test_links_join_the_public_url_as_text(app: web.Application) -> None:
    """A public URL with a path keeps it (no URL resolution), a trailing slash is not doubled,
    and the offline QR's signed URL is exactly the contract's text."""
    links = Links("https://qr.example:8443/base/", RouterPaths(app.router))
    uuid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert links.url("card-page", uuid=uuid) == f"https://qr.example:8443/base/c/{uuid}"
    assert links.path("card-page", uuid=uuid) == f"/c/{uuid}"
    assert links.url("card-link", code="abc123") == "https://qr.example:8443/base/q/abc123"
    assert (
        links.url("card-offline-qr", uuid=uuid, query={"expires": "0123"})
        == f"https://qr.example:8443/base/v1/public/card/{uuid}/qr-code/offline?expires=0123"
    )
    assert links.url("link-page", code="c0de") == "https://qr.example:8443/base/link/c0de"
    assert links.url("pairing-link-page", ticket="t-_1") == "https://qr.example:8443/base/p/t-_1"

"""The one URL validator: what every family and the configuration accept as an http(s) URL."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

MAX_URL_LENGTH = 2048

_NOT_ASCII = re.compile(r"[^\x00-\x7f]+")


def ascii_url(url: str) -> str:
    """`url` as a plain-ASCII URI, fit for a `Location` header: a non-ASCII host in IDNA
    (punycode), every other non-ASCII character %-escaped as UTF-8. ASCII URLs are unchanged.

    UnicodeError when the host has no IDNA form (an empty or over-long label).
    """
    if url.isascii():
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = parts.netloc
    if not host.isascii():
        userinfo, at, _ = netloc.rpartition("@")
        port = f":{parts.port}" if parts.port is not None else ""
        netloc = f"{userinfo}{at}{host.encode('idna').decode('ascii')}{port}"
    return _NOT_ASCII.sub(lambda m: quote(m[0], safe=""), urlunsplit(parts._replace(netloc=netloc)))


def is_http_url(value: str, *, base: bool = False) -> bool:
    """Whether `value` is an absolute http(s) URL with a host, a valid port, at most
    `MAX_URL_LENGTH` characters, no whitespace or control characters, and a host with an
    IDNA form; with `base` (a prefix of other URLs), no query or fragment either."""
    # str.isprintable is False for every whitespace but the space, and for control characters.
    if not value or len(value) > MAX_URL_LENGTH or not value.isprintable() or " " in value:
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError for a malformed port
        ascii_url(value)  # raises UnicodeError for a host with no IDNA form
    except ValueError:  # UnicodeError is a ValueError
        return False
    if base and ("?" in value or "#" in value):
        return False
    return parts.scheme in ("http", "https") and bool(host)

"""HMAC signatures and secret comparison, always in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def hmac_hex(key: str, message: str | bytes) -> str:
    """Lowercase hex HMAC-SHA256 of `message` under `key`."""
    data = message.encode() if isinstance(message, str) else message
    return hmac.new(key.encode(), data, hashlib.sha256).hexdigest()


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time equality of two secrets (a missing one never matches)."""
    if given is None:
        return False
    # surrogateescape: a header of bytes that are not UTF-8 is simply a wrong secret, not an error.
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def any_secret(given: str | None, candidates: Iterable[str]) -> bool:
    """Constant-time check of `given` against every candidate (no early exit)."""
    matched = False
    for candidate in candidates:
        matched |= same_secret(given, candidate)
    return matched


def signature_matches(message: str, signature: str, keys: Iterable[str]) -> bool:
    """Whether `signature` is the HMAC of `message` under any of `keys`."""
    return any_secret(signature, (hmac_hex(key, message) for key in keys))

"""Pairing codes as pure functions of time: refresh windows, link codes, phone-entry codes.

Every instance's QR rotates on its own schedule: window `w` of instance `i` runs from
`phase(i) + w * period` for one `period`, with a per-instance phase so thousands of
instances do not all rotate at the same instant.

A link code names (instance, window) and carries an HMAC over (instance, generation,
window) under the stored pairing secret, so every process computes the same code for
the same window with no shared writes, and nobody else can make one. It is valid from
its window's start until `GRACE_S` after the window is replaced, for the instance's
current generation only (logout bumps the generation).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from hashlib import sha256

GRACE_S = 5.0
"""How long a code stays valid after its window is replaced (a phone may be mid-scan)."""

_ID_BYTES = 5
_WINDOW_BYTES = 5
_MAC_BYTES = 10
CODE_LENGTH = 32
"""Characters of a link code: base32 of 20 bytes, lowercase, no padding."""

AUTH_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""Phone-entry code letters: no 0/O, 1/I, so a person can read them aloud."""

_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_PHONE = re.compile(r"[0-9]{7,15}")


def phase(instance_id: int, period: float) -> float:
    """The instance's offset within a period, spreading rotations over time."""
    return (instance_id * 7919 % 1000) / 1000 * period


def window_at(instance_id: int, now: float, period: float) -> int:
    """The number of the window that `now` falls in."""
    return math.floor((now - phase(instance_id, period)) / period)


def window_start(instance_id: int, window: int, period: float) -> float:
    return phase(instance_id, period) + window * period


def window_end(instance_id: int, window: int, period: float) -> float:
    return window_start(instance_id, window + 1, period)


def _mac(secret: str, instance_id: int, generation: int, window: int) -> bytes:
    message = f"{instance_id}:{generation}:{window}".encode()
    return hmac.new(secret.encode(), message, sha256).digest()[:_MAC_BYTES]


def make_code(secret: str, instance_id: int, generation: int, window: int) -> str:
    """The link code of one window of one instance generation."""
    raw = (
        instance_id.to_bytes(_ID_BYTES, "big")
        + window.to_bytes(_WINDOW_BYTES, "big")
        + _mac(secret, instance_id, generation, window)
    )
    return base64.b32encode(raw).decode("ascii").lower()


@dataclass(frozen=True)
class LinkCode:
    """What a well-formed link code claims; `mac` still has to be checked."""

    instance_id: int
    window: int
    mac: bytes


def parse_code(code: str) -> LinkCode | None:
    """Split a link code; None when it is malformed."""
    if len(code) != CODE_LENGTH or not code.isascii() or not code.isalnum():
        return None
    try:
        raw = base64.b32decode(code.upper())
    except (binascii.Error, ValueError):
        return None
    split = _ID_BYTES + _WINDOW_BYTES
    return LinkCode(
        instance_id=int.from_bytes(raw[:_ID_BYTES], "big"),
        window=int.from_bytes(raw[_ID_BYTES:split], "big"),
        mac=raw[split:],
    )


def code_matches(secret: str, code: LinkCode, generation: int) -> bool:
    """Whether the code was made by us for this generation (constant time)."""
    return hmac.compare_digest(code.mac, _mac(secret, code.instance_id, generation, code.window))


def window_valid(instance_id: int, window: int, now: float, period: float) -> bool:
    """Whether a code of `window` may be redeemed at `now`: current, or replaced < GRACE_S ago."""
    return (
        window_start(instance_id, window, period) <= now < window_end(instance_id, window, period) + GRACE_S
    )


def new_auth_code() -> str:
    """A fresh phone-entry code, `XXXX-XXXX`."""
    letters = "".join(secrets.choice(AUTH_ALPHABET) for _ in range(8))
    return f"{letters[:4]}-{letters[4:]}"


def normalize_auth_code(value: object) -> str | None:
    """`XXXX-XXXX` from what a person typed (any case, spaces, with or without the dash)."""
    if not isinstance(value, str):
        return None
    letters = re.sub(r"[\s-]", "", value).upper()
    if len(letters) != 8 or any(c not in AUTH_ALPHABET for c in letters):
        return None
    return f"{letters[:4]}-{letters[4:]}"


def normalize_phone(value: object) -> str | None:
    """The phone number as 7 to 15 digits, from an int or a string (a leading '+' and spaces,
    dots, dashes and parentheses between digits are allowed); None when it is not one."""
    if isinstance(value, bool) or (isinstance(value, int) and value < 0):
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    digits = _PHONE_SEPARATORS.sub("", value.strip())
    digits = digits.removeprefix("+")
    if not _PHONE.fullmatch(digits):
        return None
    return digits

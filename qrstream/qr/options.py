"""How a QR code is drawn: format, size, margin, error level and colours, checked.

`Look` is what a card design holds (colours, margin, error level); `QrOptions` adds
the format and the size. Query parameters and design bodies are checked here, each
bad value a `BadRequest` naming its parameter, and so is the scan guard: a camera
reads a code whose dark modules are darker than its light ones with a WCAG contrast
ratio of at least 3:1 (against white when the light modules are transparent).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from qrstream.errors import BadRequest

FORMATS = ("png", "svg", "txt")
LEVELS = ("L", "M", "Q", "H")
SIZE_MIN, SIZE_MAX = 64, 2048
MARGIN_MAX = 16
MIN_CONTRAST = 3.0
TRANSPARENT = "transparent"
WHITE = "ffffff"
_HEX = re.compile(r"[0-9a-fA-F]{6}")
_DIGITS = re.compile(r"[0-9]{1,6}")


@dataclass(frozen=True)
class Look:
    """Colours (6 lowercase hex digits; `light` None when transparent), margin in modules, level."""

    dark: str = "000000"
    light: str | None = WHITE
    margin: int = 2
    ecc: str = "M"

    def json(self) -> dict[str, Any]:
        """The design as the admin API shows it."""
        return {
            "dark": self.dark,
            "light": self.light if self.light is not None else TRANSPARENT,
            "margin": self.margin,
            "ecc": self.ecc,
        }


DEFAULT_LOOK = Look()


@dataclass(frozen=True)
class QrOptions:
    """Everything about a QR image but its text."""

    format: str = "png"
    size: int = 400
    look: Look = DEFAULT_LOOK


class Query(Protocol):
    """What is read of a query string (aiohttp's `request.query` is one)."""

    def getall(self, key: str, default: list[str]) -> list[str]: ...


def relative_luminance(hex_colour: str) -> float:
    """WCAG 2 relative luminance of an sRGB colour given as 6 hex digits."""
    channels = []
    for i in (0, 2, 4):
        c = int(hex_colour[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(dark: str, light: str) -> float:
    """WCAG contrast ratio (1 to 21) of two colours, the lighter one over the darker one."""
    a, b = relative_luminance(dark), relative_luminance(light)
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def check_readable(look: Look, field: str) -> None:
    """The scan guard: BadRequest naming `field` unless a camera can read `look`'s colours."""
    light = look.light if look.light is not None else WHITE
    shown = look.light if look.light is not None else "transparent (read against white)"
    if relative_luminance(look.dark) >= relative_luminance(light):
        raise BadRequest(
            f"The dark colour {look.dark} must be darker than the light colour {shown}: "
            "cameras do not read inverted codes.",
            field=field,
        )
    ratio = contrast_ratio(look.dark, light)
    if ratio < MIN_CONTRAST:
        raise BadRequest(
            f"The dark colour {look.dark} on the light colour {shown} has a contrast ratio of "
            f"{ratio:.2f}:1; a camera needs at least {MIN_CONTRAST:g}:1.",
            field=field,
        )


def _colour(name: str, value: object, noun: str, *, transparent: bool) -> str | None:
    if isinstance(value, str):
        if _HEX.fullmatch(value):
            return value.lower()
        if transparent and value.lower() == TRANSPARENT:
            return None
    also = " or transparent" if transparent else ""
    raise BadRequest(f"The {name} {noun} must be 6 hex digits (RRGGBB){also}.", field=name)


def _margin(value: object, noun: str) -> int:
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MARGIN_MAX:
        return value
    raise BadRequest(
        f"The margin {noun} must be a whole number of modules from 0 to {MARGIN_MAX}.", field="margin"
    )


def _ecc(value: object, noun: str) -> str:
    if isinstance(value, str) and value.upper() in LEVELS:
        return value.upper()
    raise BadRequest(f"The ecc {noun} must be one of L, M, Q, H.", field="ecc")


def _size(value: str) -> int:
    if _DIGITS.fullmatch(value) and SIZE_MIN <= int(value) <= SIZE_MAX:
        return int(value)
    raise BadRequest(
        f"The size parameter must be a whole number of pixels from {SIZE_MIN} to {SIZE_MAX}.", field="size"
    )


def _format(value: str, formats: tuple[str, ...]) -> str:
    if value.lower() in formats:
        return value.lower()
    raise BadRequest(f"The format parameter must be one of {', '.join(formats)}.", field="format")


def _changed_look(base: Look, given: Mapping[str, object], noun: str) -> Look:
    """`base` with the given dark, light, margin and ecc values, checked and scan-guarded."""
    changes: dict[str, Any] = {}
    if "dark" in given:
        changes["dark"] = _colour("dark", given["dark"], noun, transparent=False)
    if "light" in given:
        changes["light"] = _colour("light", given["light"], noun, transparent=True)
    if "margin" in given:
        changes["margin"] = _margin(given["margin"], noun)
    if "ecc" in given:
        changes["ecc"] = _ecc(given["ecc"], noun)
    look = replace(base, **changes)
    if "dark" in changes or "light" in changes:
        # The refusal names what was given: the light colour when only it was.
        check_readable(look, "light" if "dark" not in changes else "dark")
    return look


LOOK_FIELDS = ("dark", "light", "margin", "ecc")


def parse_query(query: Query, defaults: QrOptions, *, formats: tuple[str, ...] = FORMATS) -> QrOptions:
    """The options of a QR image request: `defaults` changed by the query's parameters.

    Each parameter may appear once; a bad value is a BadRequest naming it.
    """
    given: dict[str, str] = {}
    for name in ("format", "size", *LOOK_FIELDS):
        values = query.getall(name, [])
        if len(values) > 1:
            raise BadRequest(f"The {name} parameter may be given only once.", field=name)
        if values:
            given[name] = values[0]
    options = defaults
    if "format" in given:
        options = replace(options, format=_format(given["format"], formats))
    if "size" in given:
        options = replace(options, size=_size(given["size"]))
    look_given = {k: v for k, v in given.items() if k in LOOK_FIELDS}
    if look_given:
        options = replace(options, look=_changed_look(options.look, look_given, "parameter"))
    return options


def parse_design(body: Mapping[str, object]) -> Look:
    """A card design from a JSON body: each field optional (missing or null: the default)."""
    for key in body:
        if key not in LOOK_FIELDS:
            raise BadRequest(f"Unknown field: {key}.", field=str(key))
    given = {k: v for k, v in body.items() if v is not None}
    if isinstance(given.get("margin"), str):  # JSON has numbers: "2" is not one
        _margin(None, "field")
    return _changed_look(DEFAULT_LOOK, given, "field")


def look_to_text(look: Look) -> str:
    """A look as stored (compact JSON, keys sorted); the default look is the empty string."""
    if look == DEFAULT_LOOK:
        return ""
    return json.dumps(look.json(), sort_keys=True, separators=(",", ":"))


def look_from_text(text: str) -> Look:
    """The look `look_to_text` stored."""
    if not text:
        return DEFAULT_LOOK
    stored = json.loads(text)
    light = stored["light"]
    return Look(
        dark=stored["dark"],
        light=None if light == TRANSPARENT else light,
        margin=int(stored["margin"]),
        ecc=stored["ecc"],
    )

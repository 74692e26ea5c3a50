"""Checking the fields of a card as the admin API receives them.

Every error is a `BadRequest` naming the field, so the client knows what to fix.
"""

from __future__ import annotations

import re
from typing import Any

from qrstream.errors import BadRequest
from qrstream.urls import is_http_url

# Field -> longest accepted value, in characters. The limits keep the whole vCard
# small enough for one offline QR code (see `offline.offline_vcard`).
MAX_LENGTHS = {
    "name": 200,
    "title": 200,
    "company": 200,
    "email": 254,
    "phone": 64,
    "website": 500,
    "note": 1000,
}
FIELDS = tuple(MAX_LENGTHS)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_EXCEPT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(field: str, value: object, *, required: bool) -> str | None:
    """One field's value, stripped; None for an empty optional field."""
    if value is None:
        if required:
            raise BadRequest(f"The {field} field is required.", field=field)
        return None
    if not isinstance(value, str):
        raise BadRequest(f"The {field} field must be a string.", field=field)
    value = value.strip()
    if not value:
        if required:
            raise BadRequest(f"The {field} field is required.", field=field)
        return None
    if len(value) > MAX_LENGTHS[field]:
        raise BadRequest(
            f"The {field} field must not be longer than {MAX_LENGTHS[field]} characters.", field=field
        )
    control = _CONTROL_EXCEPT_LINES if field == "note" else _CONTROL
    if control.search(value):
        raise BadRequest(f"The {field} field must not contain control characters.", field=field)
    if field == "email" and not _EMAIL.match(value):
        raise BadRequest("The email field must be a valid email address.", field=field)
    if field == "website" and not is_http_url(value):
        raise BadRequest("The website field must be an absolute http(s) URL.", field=field)
    return value


def check_fields(body: dict[str, Any], *, partial: bool) -> dict[str, str | None]:
    """The validated fields of `body`: all of them on create, those present when `partial`."""
    for key in body:
        if key not in MAX_LENGTHS:
            raise BadRequest(f"Unknown field: {key}.", field=str(key))
    checked: dict[str, str | None] = {}
    for field in FIELDS:
        if partial and field not in body:
            continue
        checked[field] = _text(field, body.get(field), required=field == "name")
    return checked


def check_target(body: dict[str, Any]) -> str | None:
    """The `url` of a retarget request: an absolute http(s) URL, or None for the card page."""
    for key in body:
        if key != "url":
            raise BadRequest(f"Unknown field: {key}.", field=str(key))
    if "url" not in body:
        raise BadRequest("The url field is required.", field="url")
    url = body["url"]
    if url is None:
        return None
    if not isinstance(url, str) or not is_http_url(url.strip()):
        raise BadRequest("The url field must be an absolute http(s) URL or null.", field="url")
    return url.strip()

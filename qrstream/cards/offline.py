"""Offline card QR codes: Laravel-style signed URLs, and the vCard that fits in one QR.

The signature is HMAC-SHA256 (lowercase hex) over the absolute URL
`<public-url>/v1/public/card/<uuid>/qr-code/offline?expires=<n>`, as Laravel's
`URL::temporarySignedRoute` makes it. The first signing key signs; every key
verifies, so keys can be rotated. Time is read only from the injected clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from qrstream.cards.vcard import Contact, render
from qrstream.errors import InvalidSignature
from qrstream.links import LinkFor
from qrstream.signing import hmac_hex, signature_matches

# Bytes one QR code holds at error-correction level M (version 40, byte mode).
QR_CAPACITY_M = 2331
_EXPIRES = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


def signed_url(links: LinkFor, card_uuid: str, expires: int | str) -> str:
    """The URL the signature covers: `<public-url>/v1/public/card/<uuid>/qr-code/offline?expires=<n>`
    (a canonical UUID and digits: nothing in it is quoted, so it is exactly that text)."""
    return links.url("card-offline-qr", uuid=card_uuid, query={"expires": str(expires)})


def sign(links: LinkFor, card_uuid: str, *, key: str, now: float, ttl_s: float) -> str:
    """The query string `expires=<n>&signature=<hex>` valid for `ttl_s` seconds from `now`."""
    expires = int(now + ttl_s)
    signature = hmac_hex(key, signed_url(links, card_uuid, expires))
    return f"expires={expires}&signature={signature}"


def verify(
    links: LinkFor,
    card_uuid: str,
    *,
    expires: Sequence[str],
    signature: Sequence[str],
    keys: Iterable[str],
    now: float,
) -> None:
    """Raise InvalidSignature unless exactly one well-formed `expires` and `signature`
    were given, the signature matches one of `keys`, and `expires` has not passed."""
    if len(expires) != 1 or len(signature) != 1:
        raise InvalidSignature()
    given_expires, given_signature = expires[0], signature[0]
    if not _EXPIRES.match(given_expires) or not _SIGNATURE.match(given_signature):
        raise InvalidSignature()
    # The URL as given, like Laravel: `expires=0123` is not the URL that was signed.
    message = signed_url(links, card_uuid, given_expires)
    # The signature is checked before the expiry, as Laravel does: the answer for an
    # expired link then says nothing about whether it was ever genuine.
    if not signature_matches(message, given_signature, keys):
        raise InvalidSignature()
    if now > int(given_expires):
        raise InvalidSignature()


def fits(text: str) -> bool:
    """Whether `text` fits in one QR code at level M (UTF-8 is never shorter than Latin-1)."""
    return len(text.encode("utf-8")) <= QR_CAPACITY_M


def offline_vcard(contact: Contact) -> str:
    """The card's vCard for the offline QR: whole if it fits, else without the note, else
    name, phone and email, else name and one of them, else the name alone (which always
    fits: 200 characters of up to 4 UTF-8 bytes each, twice, is well under the capacity)."""
    slimmer = (
        contact,
        Contact(**{**contact.__dict__, "note": None}),
        Contact(name=contact.name, email=contact.email, phone=contact.phone),
        Contact(name=contact.name, phone=contact.phone),
        Contact(name=contact.name, email=contact.email),
        Contact(name=contact.name),
    )
    for candidate in slimmer:
        text = render(candidate)
        if fits(text):
            return text
    raise ValueError("the card is too large for one QR code")


def qr_size(text: str) -> int:
    """Pixels for a QR of `text`: 400, more for long texts so modules stay >= 4 px."""
    octets = len(text.encode("utf-8"))
    if octets <= 600:
        return 400
    return 800

"""vCard 3.0 text for a card: escaped (RFC 6350 §3.4) and folded at 75 octets (§3.2).

Also the `Content-Disposition` for downloading it, with an ASCII fallback file name
and the exact UTF-8 one (RFC 6266 / RFC 5987) for names outside ASCII.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

CRLF = "\r\n"
MAX_LINE_OCTETS = 75
# An escape pair, or one character: the units a line is folded between.
_TOKENS = re.compile(r"\\.|.", re.DOTALL)


@dataclass(frozen=True)
class Contact:
    """What goes into a vCard; empty fields are left out."""

    name: str
    title: str | None = None
    company: str | None = None
    email: str | None = None
    phone: str | None = None
    website: str | None = None
    note: str | None = None


def escape(value: str) -> str:
    """Escape a text value: backslash, comma, semicolon, and every line break as `\\n`."""
    value = value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """Fold one content line so no physical line exceeds 75 octets.

    Cuts fall between characters, never inside a UTF-8 sequence, nor inside an escape
    like `\\,` (lenient readers unescape line by line); each continuation line starts
    with one space, which counts towards its 75 octets.
    """
    if len(line.encode("utf-8")) <= MAX_LINE_OCTETS:
        return line
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    limit = MAX_LINE_OCTETS
    for token in _TOKENS.findall(line):
        size = len(token.encode("utf-8"))
        if used + size > limit:
            pieces.append("".join(current))
            current, used, limit = [], 0, MAX_LINE_OCTETS - 1
        current.append(token)
        used += size
    pieces.append("".join(current))
    return (CRLF + " ").join(pieces)


def split_name(name: str) -> tuple[str, str]:
    """(family, given): the last word is taken as the family name."""
    given, _, family = name.strip().rpartition(" ")
    return family, given.strip()


def properties(contact: Contact) -> list[tuple[str, str]]:
    """The (name;params, escaped value) pairs of `contact`, in vCard order."""
    family, given = split_name(contact.name)
    props = [
        ("N", f"{escape(family)};{escape(given)};;;"),
        ("FN", escape(contact.name)),
    ]
    optional = [
        ("ORG", contact.company),
        ("TITLE", contact.title),
        ("EMAIL;TYPE=INTERNET", contact.email),
        ("TEL", contact.phone),
        ("URL", contact.website),
        ("NOTE", contact.note),
    ]
    props.extend((prop, escape(value)) for prop, value in optional if value)
    return props


def render(contact: Contact) -> str:
    """The whole vCard 3.0, CRLF line ends, folded."""
    lines = ["BEGIN:VCARD", "VERSION:3.0"]
    lines.extend(fold(f"{prop}:{value}") for prop, value in properties(contact))
    lines.append("END:VCARD")
    return CRLF.join(lines) + CRLF


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9 ._()+-]+")


def ascii_filename(name: str) -> str:
    """A plain-ASCII stand-in for `name`: accents dropped, other characters as `_`."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    safe = _UNSAFE_FILENAME.sub("_", stripped).strip(" ._")
    return safe[:100] or "card"


def content_disposition(name: str) -> str:
    """`attachment; filename="<name>.vcf"`, plus `filename*=` when the name is not plain ASCII."""
    fallback = ascii_filename(name) + ".vcf"
    header = f'attachment; filename="{fallback}"'
    exact = " ".join(name.split()) + ".vcf"
    if exact != fallback:
        header += "; filename*=UTF-8''" + quote(exact, safe="")
    return header

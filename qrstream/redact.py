"""Masking of secrets in anything that may be logged: paths, queries, whole log lines.

Two layers. `mask_path` knows the contract's paths and masks the capability in each
(instance tokens, link codes, verification ids, offline signatures); the access log
uses it. `SecretFilter`, on the log handler, masks every record on its way out: the
same path rules anywhere in the text, `webhookUrlToken` values and `Authorization` headers
wherever they are quoted, the shapes of generated secrets (50-hex
instance tokens, 64-hex signatures, `ver_…` ids, `XXXX-XXXX` pairing codes) and
the literal keys the server was configured with.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

_SEGMENT = r"[^/?#\s\"']+"

_PATH_PATTERNS = [
    # /waInstance{id}/{method}/{token}[/...]: the token is the instance's password
    re.compile(r"(/waInstance\d*/[A-Za-z]+/)" + _SEGMENT),
    # /link/<code>: a pairing code
    re.compile(r"(/link/)" + _SEGMENT),
    # /q/<code>: public in printed QR codes, but still a capability
    re.compile(r"(/q/)" + _SEGMENT),
    # /p/<ticket>[/scanqrcode]: a pairing link's ticket
    re.compile(r"(/p/)" + _SEGMENT),
    # /api/get-verification-qrcode/<id>, /api/get-verification-details/<id>, /api/verification-events/<id>
    re.compile(r"(/api/(?:get-verification-[a-z]+|verification-events)/)" + _SEGMENT),
    # /api/verification/<id>/start|complete: the id is the portal's capability
    re.compile(r"(/api/verification/)" + _SEGMENT),
    # secrets in a query: ?signature=…, ?verification_id=…, ?token=…, ?key=…
    re.compile(
        r"((?:^|[?&;\s])(?:signature|token|key|apiTokenInstance|verification_id|verificationId|code|ticket)=)[^&#\s\"']*",
        re.I,
    ),
]

_SHAPES = [
    re.compile(r"\bver_[0-9a-f]{8,}\b"),  # verification ids
    re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{50}(?![0-9A-Za-z])"),  # instance tokens
    re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{64}(?![0-9A-Za-z])"),  # signatures, HMACs
    re.compile(r"(?<![0-9A-Za-z])[A-Z0-9]{4}-[A-Z0-9]{4}(?![0-9A-Za-z])"),  # pairing codes
]

_FIELDS = [
    # a webhookUrlToken in JSON or a repr, "webhookUrlToken": "…" (it may hold spaces and quotes)
    re.compile(r"""((["'])webhookUrlToken\2\s*:\s*(["']))(?:\\.|(?!\3)[^\\\r\n])*""", re.I),
    # an Authorization header, as a header line, in JSON or in a repr of headers: to the line's end
    # or the closing quote (the scheme goes too; a webhook's header is a receiver's secret)
    re.compile(r"""((["'])Authorization\2\s*:\s*(["']))(?:\\.|(?!\3)[^\\\r\n])*""", re.I),
    re.compile(r"""(\bAuthorization\s*[:=]\s*)(?!["'\s])[^\r\n]*""", re.I),
]

_MIN_LITERAL = 6
"""Configured keys shorter than this are not masked as literals (they would mangle every line)."""


def mask_path(path: str) -> str:
    """`path` (with its query) with every secret part replaced by `***`."""
    for pattern in _PATH_PATTERNS:
        path = pattern.sub(r"\g<1>" + MASK, path)
    return path


def safe_url(url: str) -> str:
    """A database or bus URL without its password (`user:***@`, `?password=***`), fit for a message."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user, host = parts.netloc.rpartition("@")[::2]
            netloc = f"{user.partition(':')[0]}:{MASK}@{host}"
        query = parts.query
        if re.search(r"(?:^|&)password=", query, re.I):
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, MASK if k.lower() == "password" else v) for k, v in pairs], safe="*")
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:
        return MASK


_SUSPECT = re.compile(
    r"[0-9a-f]{50}|[A-Z0-9]{4}-[A-Z0-9]{4}|ver_|authorization|webhookurltoken|/(?:wainstance|link/|q/|p/|api/)|=",
    re.I,
)
"""A superset of what the patterns above match (50 hex digits begin both hex shapes, `ver_` an
id): text it does not match has nothing for them; an instance id's ten digits pass it."""

_protected: list[str] = []
"""The literal secrets of the running apps (`protect_logs`), longest first."""


MASKED_MEMO = 4096
"""How many masked texts `mask_untrusted` keeps (a path parameter asked for again and again,
like a polled instance or a printed card's id, is masked once)…"""
MASKED_MEMO_LEN = 256
"""…each at most this long (a longer text is masked each time: the memo stays small)."""

_masked: dict[str, str] = {}
"""text → its masked form; emptied whenever `_protected` changes (the only input besides the
text: the patterns are constants)."""


def mask_untrusted(text: str) -> str:
    """`text` from a client (a path parameter, a query) masked as `SecretFilter` would mask it:
    the configured keys and, when the cheap `_SUSPECT` test finds a candidate, every pattern.
    The answer for a short text is remembered (`MASKED_MEMO`): the same text, the same mask."""
    found = _masked.get(text)
    if found is not None:
        return found
    masked = _mask_untrusted(text)
    if len(text) <= MASKED_MEMO_LEN:
        if len(_masked) >= MASKED_MEMO:
            del _masked[next(iter(_masked))]  # the oldest out
        _masked[text] = masked
    return masked


def _mask_untrusted(text: str) -> str:
    for literal in _protected:
        if literal in text:
            text = text.replace(literal, MASK)
    if _SUSPECT.search(text):
        text = mask_text(text)
    return text


def mask_text(text: str, literals: Iterable[str] = ()) -> str:
    """`text` with secret-bearing paths, secret-shaped words and `literals` masked."""
    for literal in literals:
        if literal in text:
            text = text.replace(literal, MASK)
    text = mask_path(text)
    for pattern in _FIELDS:
        text = pattern.sub(r"\g<1>" + MASK, text)
    for shape in _SHAPES:
        text = shape.sub(MASK, text)
    return text


class SecretFilter(logging.Filter):
    """A handler filter that masks secrets in each record's message and traceback: the given
    literal values (the configured keys) and, with `shapes`, secret-bearing paths and
    secret-shaped words."""

    def __init__(self, literals: Iterable[str] = (), *, shapes: bool = True) -> None:
        super().__init__()
        # Longest first, so a key that contains another is masked whole.
        self._literals = sorted({s for s in literals if s and len(s) >= _MIN_LITERAL}, key=len, reverse=True)
        self._shapes = shapes

    @property
    def literals(self) -> list[str]:
        return list(self._literals)

    def _mask(self, text: str) -> str:
        if self._shapes:
            return mask_text(text, self._literals)
        for literal in self._literals:
            if literal in text:
                text = text.replace(literal, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log it as it is, masked
            message = str(record.msg)
        record.msg, record.args = self._mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self._mask(record.stack_info)
        return True


def protect_logs(secrets: Iterable[str]) -> Callable[[], None]:
    """Mask these literal secrets in every root log handler; returns the undo.

    The app installs it when it starts and removes it when it stops, so nothing of one app's
    keys stays on handlers that outlive it (tests run many apps in one process). The access log,
    which builds its lines without the logging handlers, masks them with `mask_untrusted`.
    """
    log_filter = SecretFilter(secrets, shapes=False)
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.filters.insert(0, log_filter)  # before the shapes: a key is masked whole
    literals = log_filter.literals
    _protected.extend(literals)
    _protected.sort(key=len, reverse=True)
    _masked.clear()

    def remove() -> None:
        for handler in handlers:
            handler.removeFilter(log_filter)
        for literal in literals:
            _protected.remove(literal)
        _masked.clear()

    return remove

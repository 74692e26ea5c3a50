"""Masking of secrets in anything that may be logged: paths, queries, headers."""

from __future__ import annotations

import re

MASK = "***"

_PATTERNS = [
    # /waInstance{id}/{method}/{token}[/...]
    (re.compile(r"^(/waInstance\d*/[A-Za-z]+/)[^/?]+"), r"\g<1>" + MASK),
    # /link/<code>
    (re.compile(r"^(/link/)[^/?]+"), r"\g<1>" + MASK),
    # /q/<code> is public in printed QR codes, but still a capability: mask it
    (re.compile(r"^(/q/)[^/?]+"), r"\g<1>" + MASK),
    # signature=..., token=..., key=... in a query
    (re.compile(r"((?:^|[?&])(?:signature|token|key|apiTokenInstance)=)[^&]*", re.I), r"\g<1>" + MASK),
]


def mask_path(path: str) -> str:
    """`path` (with its query) with every secret part replaced by `***`."""
    for pattern, replacement in _PATTERNS:
        path = pattern.sub(replacement, path)
    return path

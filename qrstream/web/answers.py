"""Answers prepared once for the hot QR paths: the body and headers, ready to send again.

A prepared answer belongs to the object it was made from (a cached row, a frame): it is
handed out only while the caller still holds that very object (`is`), so when the row
changes (the family's `HotCache` drops it and the next fill makes a new object) the old
answer is never used again, with no invalidation of its own. Bounded, least recently used
first out. A request with a query string is never answered from here (its options change
the image), nor a conditional one where the endpoint has an entity tag.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from qrstream.web.headers import SECURITY_HEADERS

DEFAULT_CAPACITY = 4096


@dataclass(frozen=True, slots=True)
class Prepared:
    """One answer's status, headers (Content-Type included) and body."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes | None

    def response(self) -> web.Response:
        return web.Response(status=self.status, headers=self.headers, body=self.body)


def prepare(
    *,
    body: bytes | None,
    headers: Mapping[str, str],
    content_type: str | None = None,
    status: int = 200,
) -> Prepared:
    """An answer to send again and again; `content_type` as aiohttp's `Response` spells it
    (a text type gets `; charset=utf-8`). The security headers go with it (`qrstream.web.headers`)."""
    all_headers = CIMultiDict(headers)
    for name, value in SECURITY_HEADERS.items():
        all_headers.setdefault(name, value)
    if content_type is not None:
        textual = content_type.startswith("text/") or content_type == "application/json"
        if textual and "charset" not in content_type:
            content_type += "; charset=utf-8"
        all_headers["Content-Type"] = content_type
    return Prepared(status, CIMultiDictProxy(all_headers), body)


class Answers:
    """Prepared answers by key, each valid while its source object is the caller's."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._answers: OrderedDict[Hashable, tuple[object, Prepared]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: Hashable, source: object) -> Prepared | None:
        found = self._answers.get(key)
        if found is None or found[0] is not source:
            return None
        self._answers.move_to_end(key)
        return found[1]

    def put(self, key: Hashable, source: object, answer: Prepared) -> Prepared:
        self._answers[key] = (source, answer)
        self._answers.move_to_end(key)
        while len(self._answers) > self._capacity:
            self._answers.popitem(last=False)
        return answer

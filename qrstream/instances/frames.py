"""QR frames: one encoded message per (instance, generation, window, format).

A frame is made once and shared by every REST caller and every websocket subscriber
that reads that format: `png` (the default) is `{"type": "qrCode", "message": "<base64
PNG>"}`, `svg` has the SVG document as its message and `raw` the pairing link itself,
for clients that draw their own QR. Its image is rendered once (off the event loop
when the renderer has a process pool) and its text is encoded once; a format nobody
reads is never made. The cache holds the texts of the current and next windows of
every watched instance, per format (three at most: the cache stays bounded).
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass

from qrstream.errors import BadRequest
from qrstream.instances import pairing
from qrstream.links import LinkFor
from qrstream.oncecache import OnceCache
from qrstream.qr.render import QrRenderer, QrSpec

PNG, RAW, SVG = "png", "raw", "svg"
FORMATS = (PNG, RAW, SVG)

FrameKey = tuple[int, int, int, str]
"""(instance id, generation, window, format)"""


@dataclass(frozen=True, slots=True)
class Frame:
    instance_id: int
    generation: int
    window: int
    format: str
    code: str
    link: str
    text: str
    """The message every client gets, encoded once (the image is not kept with it: one made alone
    stays in the renderer's cache, the rotation's batches keep only this text)."""


class Frames:
    """Makes frames and keeps the recent ones (a bounded LRU; concurrent callers share a render).

    `made` counts the frames made, by format.
    """

    def __init__(
        self, renderer: QrRenderer, secret: str, links: LinkFor, period: float, *, capacity: int = 16384
    ) -> None:
        self._renderer = renderer
        self._secret = secret
        self._links = links
        self.period = period
        self._frames: OnceCache[FrameKey, Frame] = OnceCache(capacity)
        self.made: Counter[str] = Counter()

    def window_at(self, instance_id: int, now: float) -> int:
        return pairing.window_at(instance_id, now, self.period)

    def window_end(self, instance_id: int, window: int) -> float:
        return pairing.window_end(instance_id, window, self.period)

    def cached(self, instance_id: int, generation: int, window: int, fmt: str = PNG) -> Frame | None:
        """The frame if it is made already (no await: the hot path of the `qr` method)."""
        return self._frames.get((instance_id, generation, window, fmt))

    async def frame(self, instance_id: int, generation: int, window: int, fmt: str = PNG) -> Frame:
        """The frame of one window in one format (`FORMATS`), made on first use."""
        key = (instance_id, generation, window, fmt)
        return await self._frames.get_or_make(key, lambda: self._make(key))

    async def frames(self, keys: list[FrameKey]) -> list[Frame]:
        """Many frames at once, in order: those not made yet are rendered together (a few trips
        to the renderer's pool for all of them, instead of one each)."""
        return await self._frames.get_or_make_many(keys, self._make_many)

    def _pairing(self, instance_id: int, generation: int, window: int) -> tuple[str, str]:
        """The window's link code and the link its QR holds."""
        code = pairing.make_code(self._secret, instance_id, generation, window)
        link = self._links.url("link-page", code=code)  # the phone's pairing page for this window
        return code, link

    async def _make(self, key: FrameKey) -> Frame:
        instance_id, generation, window, fmt = key
        code, link = self._pairing(instance_id, generation, window)
        if fmt == RAW:
            message = link
        elif fmt == SVG:
            message = (await self._renderer.render(QrSpec(link, format=SVG))).body.decode("ascii")
        else:
            message = (await self._renderer.render(QrSpec(link))).b64
        return self._frame(key, code, link, message)

    async def _make_many(self, keys: list[FrameKey]) -> list[Frame]:
        pairs = [
            self._pairing(instance_id, generation, window) for instance_id, generation, window, _ in keys
        ]
        drawn = [i for i, key in enumerate(keys) if key[3] != RAW]
        specs = [QrSpec(pairs[i][1], format=keys[i][3]) for i in drawn]
        bodies = dict(zip(drawn, await self._renderer.draw_all(specs), strict=True))
        made = []
        for i, (key, (code, link)) in enumerate(zip(keys, pairs, strict=True)):
            body = bodies.get(i)
            if body is None:
                message = link
            elif key[3] == SVG:
                message = body.decode("ascii")
            else:
                message = base64.b64encode(body).decode("ascii")
            made.append(self._frame(key, code, link, message))
        return made

    def _frame(self, key: FrameKey, code: str, link: str, message: str) -> Frame:
        instance_id, generation, window, fmt = key
        text = json.dumps({"type": "qrCode", "message": message}, separators=(",", ":"))
        self.made[fmt] += 1
        return Frame(instance_id, generation, window, fmt, code, link, text)


def parse_format(values: list[str]) -> str:
    """The frame format a request asks for with its `format` query values (none: PNG)."""
    if not values:
        return PNG
    if len(values) == 1 and values[0].lower() in FORMATS:
        return values[0].lower()
    raise BadRequest(f"The format parameter must be one of {', '.join(FORMATS)}, given once.", field="format")

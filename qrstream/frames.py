"""QR frames: one rendered image and one encoded message per (instance, generation, window).

A frame is made once and shared by every REST caller and every websocket subscriber:
its PNG is rendered once (off the event loop when the renderer has a process pool)
and its `{"type": "qrCode", "message": "<base64>"}` text is encoded once. The cache
holds the texts of the current and next windows of every watched instance.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from dataclasses import dataclass

from qrstream import pairing
from qrstream.qr import QrRenderer, QrSpec

FrameKey = tuple[int, int, int]
"""(instance id, generation, window)"""


@dataclass(frozen=True)
class Frame:
    instance_id: int
    generation: int
    window: int
    code: str
    link: str
    text: str
    """The message every client gets, encoded once (the PNG itself stays in the renderer's cache)."""


class Frames:
    """Makes frames and keeps the recent ones (a bounded LRU; concurrent callers share a render)."""

    def __init__(
        self, renderer: QrRenderer, secret: str, base_url: str, period: float, *, capacity: int = 16384
    ) -> None:
        self._renderer = renderer
        self._secret = secret
        self._base_url = base_url.rstrip("/")
        self.period = period
        self._cache: OrderedDict[FrameKey, Frame] = OrderedDict()
        self._capacity = capacity
        self._pending: dict[FrameKey, asyncio.Future[Frame]] = {}

    def window_at(self, instance_id: int, now: float) -> int:
        return pairing.window_at(instance_id, now, self.period)

    def window_end(self, instance_id: int, window: int) -> float:
        return pairing.window_end(instance_id, window, self.period)

    async def frame(self, instance_id: int, generation: int, window: int) -> Frame:
        """The frame of one window, made on first use."""
        key = (instance_id, generation, window)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            frame = await self._make(key)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters, if any, get it
            raise
        finally:
            del self._pending[key]
        future.set_result(frame)
        self._cache[key] = frame
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return frame

    async def _make(self, key: FrameKey) -> Frame:
        instance_id, generation, window = key
        code = pairing.make_code(self._secret, instance_id, generation, window)
        link = f"{self._base_url}/link/{code}"  # the phone's pairing page for this window
        image = await self._renderer.render(QrSpec(link))
        text = json.dumps({"type": "qrCode", "message": image.b64}, separators=(",", ":"))
        return Frame(instance_id, generation, window, code, link, text)

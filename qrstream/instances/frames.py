"""QR frames: one rendered image and one encoded message per (instance, generation, window).

A frame is made once and shared by every REST caller and every websocket subscriber:
its PNG is rendered once (off the event loop when the renderer has a process pool)
and its `{"type": "qrCode", "message": "<base64>"}` text is encoded once. The cache
holds the texts of the current and next windows of every watched instance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from qrstream.instances import pairing
from qrstream.oncecache import OnceCache
from qrstream.qr.render import QrRenderer, QrSpec

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
        self._frames: OnceCache[FrameKey, Frame] = OnceCache(capacity)

    def window_at(self, instance_id: int, now: float) -> int:
        return pairing.window_at(instance_id, now, self.period)

    def window_end(self, instance_id: int, window: int) -> float:
        return pairing.window_end(instance_id, window, self.period)

    async def frame(self, instance_id: int, generation: int, window: int) -> Frame:
        """The frame of one window, made on first use."""
        key = (instance_id, generation, window)
        return await self._frames.get_or_make(key, lambda: self._make(key))

    async def _make(self, key: FrameKey) -> Frame:
        instance_id, generation, window = key
        code = pairing.make_code(self._secret, instance_id, generation, window)
        link = f"{self._base_url}/link/{code}"  # the phone's pairing page for this window
        image = await self._renderer.render(QrSpec(link))
        text = json.dumps({"type": "qrCode", "message": image.b64}, separators=(",", ":"))
        return Frame(instance_id, generation, window, code, link, text)

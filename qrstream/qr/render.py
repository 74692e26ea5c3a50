"""QR rendering: `qrencode` encodes (segno's symbols, faster), `png.matrix_to_png` draws;
a bounded LRU keeps results.

The error-correction level is exactly the one asked for (segno would raise it
on its own: `boost_error=False`), the border is 2 modules unless told otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import cached_property

from qrstream.oncecache import OnceCache
from qrstream.qr.encode import encode
from qrstream.qr.png import matrix_to_png

DEFAULT_SIZE = 400
DEFAULT_BORDER = 2
DEFAULT_ERROR = "m"


@dataclass(frozen=True)
class QrSpec:
    """What to draw: the text and how."""

    data: str
    size: int = DEFAULT_SIZE
    error: str = DEFAULT_ERROR
    border: int = DEFAULT_BORDER


@dataclass(frozen=True)
class QrImage:
    """A rendered QR: the PNG bytes, and its base64 forms made once on first use."""

    spec: QrSpec
    png: bytes

    @cached_property
    def b64(self) -> str:
        return base64.b64encode(self.png).decode("ascii")

    @cached_property
    def data_uri(self) -> str:
        return "data:image/png;base64," + self.b64


def render_png(spec: QrSpec) -> bytes:
    """Encode and draw one QR; pure and picklable, so a process pool can run it."""
    rows = encode(spec.data, spec.error).rows
    side = b"\x00" * spec.border
    quiet = [bytes(len(rows) + 2 * spec.border)] * spec.border
    matrix = [*quiet, *(side + row + side for row in rows), *quiet]
    size = max(spec.size, len(matrix))
    return matrix_to_png(matrix, size)


class QrRenderer:
    """Renders QR images once per spec: a bounded LRU, and one render in flight per spec.

    With an executor (a process pool in production) the CPU work leaves the event loop;
    without one it runs inline, which is right for small, rare images.
    """

    def __init__(self, *, executor: Executor | None = None, cache_size: int = 2048) -> None:
        self._executor = executor
        self._images: OnceCache[QrSpec, QrImage] = OnceCache(cache_size)
        self.hits = 0
        self.renders = 0
        self.render_seconds = 0.0

    def cached(self, spec: QrSpec) -> QrImage | None:
        image = self._images.get(spec)
        if image is not None:
            self.hits += 1
        return image

    def render_now(self, spec: QrSpec) -> QrImage:
        """Render on this thread (or return the cached image)."""
        image = self.cached(spec)
        if image is None:
            started = time.perf_counter()
            png = render_png(spec)
            self.render_seconds += time.perf_counter() - started
            self.renders += 1
            image = self._images.put(spec, QrImage(spec, png))
        return image

    async def render(self, spec: QrSpec) -> QrImage:
        """Render off the loop when an executor is set; concurrent callers share one render."""
        image = self.cached(spec)
        if image is not None:
            return image
        if self._executor is None:
            return self.render_now(spec)
        return await self._images.get_or_make(spec, lambda: self._render_in_pool(spec))

    async def _render_in_pool(self, spec: QrSpec) -> QrImage:
        started = time.perf_counter()
        png = await asyncio.get_running_loop().run_in_executor(self._executor, render_png, spec)
        self.render_seconds += time.perf_counter() - started  # includes the hop to the pool
        self.renders += 1
        return QrImage(spec, png)

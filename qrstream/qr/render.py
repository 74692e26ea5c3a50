"""QR rendering: `encode` makes the symbol (segno's, faster), `png`/`svg`/`text` draw it;
bounded LRUs keep the results.

The error-correction level is exactly the one asked for (segno would raise it
on its own: `boost_error=False`), the border is 2 modules unless told otherwise.
An image is made once per spec: concurrent askers share one render. Specs the
server uses by itself (frames, default images, card designs) and specs made from
a request's query string are cached apart, the latter in a small LRU of their own,
so random query strings can neither fill memory nor push the common images out.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import cached_property

from qrstream.errors import BadRequest
from qrstream.oncecache import OnceCache
from qrstream.qr.encode import encode
from qrstream.qr.png import SizeTooSmall, matrix_to_png
from qrstream.qr.svg import matrix_to_svg
from qrstream.qr.text import matrix_to_text

DEFAULT_SIZE = 400
DEFAULT_BORDER = 2
DEFAULT_ERROR = "m"
MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml", "txt": "text/plain; charset=utf-8"}


@dataclass(frozen=True)
class QrSpec:
    """What to draw: the text and how (colours 6 lowercase hex digits, `light` None: transparent)."""

    data: str
    size: int = DEFAULT_SIZE
    error: str = DEFAULT_ERROR
    border: int = DEFAULT_BORDER
    format: str = "png"
    dark: str = "000000"
    light: str | None = "ffffff"


@dataclass(frozen=True)
class QrImage:
    """A rendered QR: its bytes, and their base64 forms made once on first use."""

    spec: QrSpec
    body: bytes

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.spec.format]

    @cached_property
    def b64(self) -> str:
        return base64.b64encode(self.body).decode("ascii")

    @cached_property
    def data_uri(self) -> str:
        return f"data:{self.media_type.split(';')[0]};base64,{self.b64}"


def bordered(rows: tuple[bytes, ...], border: int) -> list[bytes]:
    """The symbol's rows (0/1 bytes) inside `border` light modules on every side."""
    side = b"\x00" * border
    quiet = [bytes(len(rows) + 2 * border)] * border
    return [*quiet, *(side + row + side for row in rows), *quiet]


def draw(spec: QrSpec) -> bytes:
    """Encode and draw one QR; pure and picklable, so a process pool can run it.

    A PNG smaller than its modules raises `SizeTooSmall` (a module needs a pixel at least).
    """
    matrix = bordered(encode(spec.data, spec.error).rows, spec.border)
    if spec.format == "svg":
        return matrix_to_svg(matrix, spec.size, spec.dark, spec.light).encode("ascii")
    if spec.format == "txt":
        return matrix_to_text(matrix).encode("utf-8")
    return matrix_to_png(matrix, spec.size, spec.dark, spec.light)


def draw_many(specs: list[QrSpec]) -> list[bytes]:
    """`draw` for each spec, in one call: one trip to a pool worker carries many images."""
    return [draw(spec) for spec in specs]


class QrRenderer:
    """Renders QR images once per spec: bounded LRUs, and one render in flight per spec.

    With an executor (a process pool in production) the CPU work leaves the event loop;
    without one it runs inline, which is right for small, rare images. `renders` counts
    every image made, `renders_by_format` the same by format.
    """

    def __init__(
        self,
        *,
        executor: Executor | None = None,
        workers: int = 1,
        cache_size: int = 2048,
        custom_cache_size: int = 256,
    ) -> None:
        """`workers`: how many processes the executor runs (a batch is split among them)."""
        self._executor = executor
        self._workers = max(1, workers)
        self._images: OnceCache[QrSpec, QrImage] = OnceCache(cache_size)
        self._custom: OnceCache[QrSpec, QrImage] = OnceCache(custom_cache_size)
        self.hits = 0
        self.renders = 0
        self.renders_by_format: Counter[str] = Counter()
        self.render_seconds = 0.0
        self.pool_trips = 0
        """Calls into the pool (a batch is a few, one per worker)."""

    def _cache(self, custom: bool) -> OnceCache[QrSpec, QrImage]:
        return self._custom if custom else self._images

    def cached(self, spec: QrSpec, *, custom: bool = False) -> QrImage | None:
        image = self._cache(custom).get(spec)
        if image is not None:
            self.hits += 1
        return image

    def _counted(self, spec: QrSpec, body: bytes, started: float) -> QrImage:
        self.render_seconds += time.perf_counter() - started
        self.renders += 1
        self.renders_by_format[spec.format] += 1
        return QrImage(spec, body)

    def render_now(self, spec: QrSpec, *, custom: bool = False) -> QrImage:
        """Render on this thread (or return the cached image)."""
        image = self.cached(spec, custom=custom)
        if image is None:
            started = time.perf_counter()
            try:
                body = draw(spec)
            except SizeTooSmall as exc:
                raise _too_small(exc) from None
            image = self._cache(custom).put(spec, self._counted(spec, body, started))
        return image

    async def render(self, spec: QrSpec, *, custom: bool = False) -> QrImage:
        """Render off the loop when an executor is set; concurrent callers share one render.

        `custom`: the spec comes from a request's query (cached apart, in the small LRU).
        A size too small for the code is a BadRequest naming `size`.
        """
        image = self.cached(spec, custom=custom)
        if image is not None:
            return image
        if self._executor is None:
            return self.render_now(spec, custom=custom)
        return await self._cache(custom).get_or_make(spec, lambda: self._render_in_pool(spec))

    async def draw_all(self, specs: list[QrSpec]) -> list[bytes]:
        """Draw many of the server's own specs at once, in a few trips to the pool (one per
        worker) instead of one trip each, and keep none of them: the caller caches what it
        needs (the rotation's frames would otherwise push every other image out of the LRU)."""
        if not specs:
            return []
        started = time.perf_counter()
        if self._executor is None:
            bodies = []
            for spec in specs:  # on the loop: one at a time, letting the loop run between them
                bodies.append(draw(spec))
                await asyncio.sleep(0)
        else:
            loop = asyncio.get_running_loop()
            share = -(-len(specs) // self._workers)  # ceiling: every worker gets a part
            parts = [specs[i : i + share] for i in range(0, len(specs), share)]
            self.pool_trips += len(parts)
            drawn = await asyncio.gather(*(loop.run_in_executor(self._executor, draw_many, p) for p in parts))
            bodies = [body for part in drawn for body in part]
        self.render_seconds += time.perf_counter() - started  # the hop to the pool included
        self.renders += len(specs)
        self.renders_by_format.update(spec.format for spec in specs)
        return bodies

    async def _render_in_pool(self, spec: QrSpec) -> QrImage:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        self.pool_trips += 1
        try:
            body = await loop.run_in_executor(self._executor, draw, spec)
        except SizeTooSmall as exc:
            raise _too_small(exc) from None
        return self._counted(spec, body, started)  # the time includes the hop to the pool


def _too_small(exc: SizeTooSmall) -> BadRequest:
    return BadRequest(
        f"The size parameter must be at least {exc.modules} for this code: each of its"
        f" {exc.modules} modules (border included) needs a pixel.",
        field="size",
    )

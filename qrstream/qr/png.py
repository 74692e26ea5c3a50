"""A small PNG writer for QR matrices: 1-bit pixels at an exact pixel size.

segno's own PNG writer is pure Python and costs ~3 ms a frame; this one packs
each module row once with C-level string and int conversions (~0.4 ms).
Black on white is 1-bit greyscale (as it always was, byte for byte); other colours
are a 1-bit palette of two entries, with a `tRNS` chunk when the light one is
transparent.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from operator import getitem

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_GREYSCALE, _PALETTE = 0, 3


class SizeTooSmall(ValueError):
    """`size` pixels cannot hold `modules` modules (each needs one pixel at least)."""

    def __init__(self, size: int, modules: int) -> None:
        super().__init__(size, modules)
        self.size = size
        self.modules = modules

    def __str__(self) -> str:
        return f"{self.size} px cannot hold {self.modules} modules"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def spans(count: int, size: int) -> list[int]:
    """Split `size` pixels into `count` runs whose lengths differ by at most one."""
    edges = [round(i * size / count) for i in range(count + 1)]
    return [edges[i + 1] - edges[i] for i in range(count)]


def matrix_to_png(
    matrix: Sequence[Sequence[int]], size: int, dark: str = "000000", light: str | None = "ffffff"
) -> bytes:
    """Draw a square matrix (truthy = dark, border included) as a `size` x `size` PNG.

    Modules get whole pixels of 9 or 10 (or whatever `size` gives), spread evenly,
    so the image is exactly `size` wide and the border stays exactly its module count.
    `dark` and `light` are 6 hex digits; `light` None is transparent.
    """
    count = len(matrix)
    if size < count:
        raise SizeTooSmall(size, count)
    widths = spans(count, size)
    # Per module, its pixels light (index 0) or dark (index 1): `map(getitem, ...)` picks them in C.
    # A pixel is the bit 1 when light, 0 when dark: white and black in greyscale, and the
    # palette below is ordered to match.
    choices = [("1" * w, "0" * w) for w in widths]
    pad = "1" * (-size % 8)
    row_bytes = (size + 7) // 8
    # A pixel row repeated below itself is filter type 2 ("Up") and all zeros: zlib then
    # spends half the time for the same size.
    same_as_above = b"\x02" + bytes(row_bytes)
    lines: list[bytes] = []
    for row, height in zip(matrix, widths, strict=True):
        bits = "".join(map(getitem, choices, row)) + pad
        lines.append(b"\x00" + int(bits, 2).to_bytes(row_bytes, "big"))
        lines.extend([same_as_above] * (height - 1))
    plain = dark == "000000" and light == "ffffff"
    header = struct.pack(">IIBBBBB", size, size, 1, _GREYSCALE if plain else _PALETTE, 0, 0, 0)
    colours = b""
    if not plain:
        colours = _chunk(b"PLTE", bytes.fromhex(dark) + bytes.fromhex(light or "ffffff"))
        if light is None:
            colours += _chunk(b"tRNS", b"\xff\x00")  # dark opaque, light fully transparent
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + colours
        + _chunk(b"IDAT", zlib.compress(b"".join(lines), 6))
        + _chunk(b"IEND", b"")
    )

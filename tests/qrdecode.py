"""Decode QR codes the way a phone would, with zxing-cpp."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import pytest
import zxingcpp
from PIL import Image


@dataclass(frozen=True)
class Decoded:
    text: str
    ec_level: str
    size: tuple[int, int]
    version: int


def decode_png(png: bytes) -> Decoded:
    """The one QR code in `png`; fails the test if there is none or more than one."""
    image = Image.open(io.BytesIO(png))
    image.load()
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    if len(results) != 1:
        raise AssertionError(f"expected one QR code, found {len(results)}")
    result = results[0]
    return Decoded(
        text=result.text,
        ec_level=result.ec_level,
        size=image.size,
        version=int(getattr(result, "version", 0) or 0),
    )


def decode_b64(data: str) -> Decoded:
    return decode_png(base64.b64decode(data, validate=True))


def decode_data_uri(uri: str) -> Decoded:
    prefix = "data:image/png;base64,"
    if not uri.startswith(prefix):
        raise AssertionError(f"not a PNG data URI: {uri[:40]!r}")
    return decode_b64(uri[len(prefix) :])


def quiet_zone(png: bytes) -> tuple[float, float, float, float]:
    """The light margin around the one QR code in `png`, left, top, right and bottom, in modules,
    measured from the finder patterns: the top-left one's first dark pixel, the top-right one's
    last on the same row and the bottom-left one's last in the same column. A finder's edge is
    7 modules, which gives the symbol's module count; its width over that count, the module."""
    decode_png(png)  # exactly one QR code
    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    pixels = image.load()
    assert pixels is not None

    def dark(x: int, y: int) -> bool:
        return int(pixels[x, y]) < 128  # type: ignore[arg-type]

    top = next(y for y in range(height) if any(dark(x, y) for x in range(width)))
    left = next(x for x in range(width) if dark(x, top))
    right = max(x for x in range(width) if dark(x, top))
    bottom = max(y for y in range(height) if dark(left, y))
    finder = next(x for x in range(left, width) if not dark(x, top)) - left
    modules = round((right + 1 - left) / (finder / 7))
    assert modules >= 21 and (modules - 17) % 4 == 0, f"not a QR symbol's width: {modules} modules"
    module = (right + 1 - left) / modules
    assert (bottom + 1 - top) / module == pytest.approx(modules, abs=0.5), "not a square symbol"
    return (
        left / module,
        top / module,
        (width - 1 - right) / module,
        (height - 1 - bottom) / module,
    )

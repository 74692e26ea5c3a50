"""Decode QR codes the way a phone would, with zxing-cpp."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

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

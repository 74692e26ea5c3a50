"""Decode QR codes the way a phone would, with zxing-cpp; turn every format back into pixels
(SVG through cairo, terminal text block by block) and measure what a camera would see."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import cairosvg
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
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Seen on a white page, as a browser shows it (zxing-cpp would take transparent for black).
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
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
    """A `data:image/png;base64,…` or `data:image/svg+xml;base64,…` URI's QR code."""
    for media_type in ("image/png", "image/svg+xml"):
        prefix = f"data:{media_type};base64,"
        if uri.startswith(prefix):
            return decode_as(media_type, base64.b64decode(uri[len(prefix) :], validate=True))
    raise AssertionError(f"not a PNG or SVG data URI: {uri[:40]!r}")


def as_png(media_type: str, body: bytes) -> bytes:
    """Pixels of a QR in any format the server answers (its media type without parameters)."""
    if media_type == "image/svg+xml":
        return svg_to_png(body)
    if media_type == "text/plain":
        return text_to_png(body.decode("utf-8"))
    if media_type != "image/png":
        raise AssertionError(f"not a QR image type: {media_type}")
    return body


def decode_as(media_type: str, body: bytes) -> Decoded:
    """The one QR code in a PNG, an SVG or half-block text."""
    return decode_png(as_png(media_type, body))


# (top light, bottom light) of each half-block character
_BLOCKS = {"\u2588": (True, True), "\u2580": (True, False), "\u2584": (False, True), " ": (False, False)}


def svg_to_png(svg: bytes) -> bytes:
    """Rasterize an SVG document at its own width and height with cairo."""
    png: bytes = cairosvg.svg2png(bytestring=svg)
    return png


def text_to_png(text: str, scale: int = 8) -> bytes:
    """Draw half-block text as a PNG, light modules white, the others black, `scale` px a module.

    The symbol is square: a last line's lower half beyond it (an odd number of rows) is cut off."""
    lines = text.rstrip("\n").split("\n")
    width = len(lines[0])
    if any(len(line) != width for line in lines):
        raise AssertionError("the text lines differ in length")
    image = Image.new("L", (width, 2 * len(lines)), 0)
    for y, line in enumerate(lines):
        for x, char in enumerate(line):
            top, bottom = _BLOCKS[char]  # KeyError: not a half block
            image.putpixel((x, 2 * y), 255 if top else 0)
            image.putpixel((x, 2 * y + 1), 255 if bottom else 0)
    if not 0 <= 2 * len(lines) - width <= 1:
        raise AssertionError(f"{len(lines)} lines of {width} characters are not a square symbol")
    image = image.crop((0, 0, width, width)).resize((width * scale, width * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def rgba(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image.convert("RGBA")


def dark_mask(png: bytes) -> Image.Image:
    """A 1-bit image of the pixels a camera sees as dark (opaque and darker than mid-grey)."""
    image = rgba(png)
    grey = image.convert("L")
    alpha = image.getchannel("A")
    dark = grey.point(lambda v: 255 if v < 128 else 0)
    opaque = alpha.point(lambda v: 255 if v > 127 else 0)
    return Image.composite(dark, Image.new("L", image.size, 0), opaque)


def margin_modules(png: bytes) -> float:
    """The quiet zone left of and above the top-left finder pattern, in modules (its outer
    ring is 7 modules wide); the two sides must agree."""
    mask = dark_mask(png)
    box = mask.getbbox()
    if box is None:
        raise AssertionError("no dark pixel")
    x0, y0 = box[0], box[1]
    # One pixel into the finder's top ring (renderers round the two edges differently).
    row = [mask.getpixel((x, y0 + 1)) for x in range(mask.size[0])]
    start = next(i for i, v in enumerate(row) if v)
    run = next((i for i, v in enumerate(row[start:]) if not v), len(row) - start)
    module = run / 7
    left, top = x0 / module, y0 / module
    if abs(left - top) > 0.5:
        raise AssertionError(f"the quiet zone is {left:.2f} modules left but {top:.2f} above")
    return left


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

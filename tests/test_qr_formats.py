"""The QR formats and options (CONTRACT §8) as pure functions: every format decoded by zxing-cpp,
exact sizes, margins measured off the finder pattern, levels, colours, the scan guard."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from concurrent.futures import ProcessPoolExecutor

import pytest
from multidict import MultiDict

from qrstream.errors import BadRequest
from qrstream.qr.options import (
    DEFAULT_LOOK,
    Look,
    QrOptions,
    contrast_ratio,
    look_from_text,
    look_to_text,
    parse_design,
    parse_query,
    relative_luminance,
)
from qrstream.qr.png import SizeTooSmall
from qrstream.qr.render import QrRenderer, QrSpec, draw
from tests.qrdecode import as_png, dark_mask, decode_as, decode_png, margin_modules, rgba, svg_to_png

URL = "http://127.0.0.1:8080/link/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"
MEDIA = {"png": "image/png", "svg": "image/svg+xml", "txt": "text/plain"}

# SHA-256 of the PNGs the renderer made before the formats existed (commit 532b301): the
# default images must stay byte for byte what they were.
BEFORE = [
    ("http://127.0.0.1:8080/link/0123456789abcdefghijklmnopqrstuv", 400,
     "238363e47096eb6746d010de4c0f87228e3936438a121b8ee2c95f0dc43ae882"),
    ("https://qr.example.com/verify?verification_id=ver_0123456789abcdef01234567", 400,
     "e8a036e358cd43ad6e60fe5df3a19090fb110bfe4d506f0cb7e8d0c7b41299b1"),
    ("https://qr.example.com/q/abcde12345", 400,
     "9c82471a23bc8305a0f693ef7982deb4c8ab3639cc453831b8174353cd448c5a"),
    ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" + "Zoë Ångström " * 60 + "\r\nEND:VCARD\r\n", 800,
     "2781045e03fc8bb51948421d7e76272a82d9d5d48aa57abb5d1999979ce7ed9a"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "size", "digest"), BEFORE)
def test_default_png_is_byte_for_byte_what_it_was(data: str, size: int, digest: str) -> None:
    """Black on white, level M, 2 modules: the same bytes as before the formats were added."""
    assert hashlib.sha256(draw(QrSpec(data, size=size))).hexdigest() == digest


@pytest.mark.parametrize("size", [64, 99, 401, 1000, 2048])
@pytest.mark.parametrize("margin", [0, 1, 4, 16])
def test_png_is_exactly_the_size_with_the_margin_asked(size: int, margin: int) -> None:
    """The PNG is size x size pixels and its quiet zone is `margin` modules, measured."""
    data = URL[:30]  # version 2: 25 modules, so 64 px holds even a 16-module margin
    png = draw(QrSpec(data, size=size, border=margin))
    decoded = decode_png(png)
    assert decoded.size == (size, size) and decoded.text == data
    if size >= 400:  # a few pixels a module, enough to measure
        assert margin_modules(png) == pytest.approx(margin, abs=0.25)


@pytest.mark.parametrize("fmt", ["png", "svg", "txt"])
@pytest.mark.parametrize("ecc", ["L", "M", "Q", "H"])
def test_every_format_decodes_at_exactly_the_level_asked(fmt: str, ecc: str) -> None:
    """zxing-cpp reads each format (SVG through cairo, text block by block) at that EC level."""
    body = draw(QrSpec(URL, error=ecc, format=fmt))
    decoded = decode_as(MEDIA[fmt], body)
    assert decoded.text == URL and decoded.ec_level == ecc
    assert margin_modules(as_png(MEDIA[fmt], body)) == pytest.approx(2, abs=0.25)


def test_a_short_text_is_not_boosted_to_a_higher_level() -> None:
    """segno would raise a short text's level on its own; L stays L."""
    assert decode_png(draw(QrSpec("https://x.test/", error="l"))).ec_level == "L"


def test_svg_has_one_path_and_the_size_asked() -> None:
    """One <path> for the dark modules, width and height set, drawn at that size."""
    svg = draw(QrSpec(URL, format="svg", size=333, border=5))
    text = svg.decode("ascii")
    assert text.count("<path") == 1 and text.startswith("<svg ")
    assert 'width="333"' in text and 'height="333"' in text
    png = svg_to_png(svg)
    assert decode_png(png).size == (333, 333)
    assert margin_modules(png) == pytest.approx(5, abs=0.25)


def test_colours_are_the_ones_asked() -> None:
    """Dark modules and background carry the asked colours, in PNG and in SVG."""
    for fmt in ("png", "svg"):
        body = draw(QrSpec(URL, format=fmt, dark="1a2b6c", light="fff4e0"))
        png = as_png(MEDIA[fmt], body)
        image = rgba(png)
        box = dark_mask(png).getbbox()
        assert box is not None
        assert image.getpixel((0, 0)) == (0xFF, 0xF4, 0xE0, 255)
        assert image.getpixel((box[0] + 2, box[1] + 2)) == (0x1A, 0x2B, 0x6C, 255)  # in the finder's ring
        assert decode_png(png).text == URL


def test_transparent_light_is_a_palette_png_with_trns() -> None:
    """light=transparent: a palette PNG whose light entry is fully transparent; it still decodes."""
    png = draw(QrSpec(URL, dark="003366", light=None))
    assert png[25] == 3  # IHDR colour type: palette
    assert b"tRNS" in png and b"PLTE" in png
    image = rgba(png)
    assert image.getpixel((0, 0))[3] == 0 and image.getpixel((399, 399))[3] == 0
    box = dark_mask(png).getbbox()
    assert box is not None and image.getpixel((box[0] + 2, box[1] + 2)) == (0, 0x33, 0x66, 255)
    assert decode_png(png).text == URL
    svg_png = svg_to_png(draw(QrSpec(URL, format="svg", light=None)))
    assert rgba(svg_png).getpixel((0, 0))[3] == 0 and decode_png(svg_png).text == URL


def test_black_on_white_stays_greyscale() -> None:
    """The default colours keep the 1-bit greyscale PNG (no palette)."""
    png = draw(QrSpec(URL))
    assert png[25] == 0 and b"PLTE" not in png


def test_text_is_half_blocks_two_rows_a_line() -> None:
    """Only ▀▄█ and spaces; (modules + border + 1) // 2 lines, each as wide as the symbol."""
    text = draw(QrSpec(URL, format="txt")).decode("utf-8")
    lines = text.split("\n")
    assert text.endswith("\n") and set(text) <= set("▀▄█ \n")
    width = len(lines[0])
    assert width == 37 + 4  # version 5 at M, 2-module border
    assert len(lines) - 1 == (width + 1) // 2 and all(len(line) == width for line in lines[:-1])
    assert lines[0] == "█" * width  # the top border: light modules are the blocks


def test_too_small_a_png_is_refused() -> None:
    """A module needs one pixel at least: fewer pixels than modules cannot be drawn exactly."""
    with pytest.raises(SizeTooSmall):
        draw(QrSpec("a" * 1000, size=64))
    with pytest.raises(BadRequest) as info:
        QrRenderer().render_now(QrSpec("a" * 1000, size=64))
    assert info.value.field == "size"


def _query(**params: str) -> MultiDict[str]:
    return MultiDict(params)


def test_query_sets_every_option() -> None:
    """Each parameter changes its option; case does not matter; no parameter changes nothing."""
    options = parse_query(
        _query(format="SVG", size="64", margin="0", ecc="h", dark="1A2B3C", light="Transparent"), QrOptions()
    )
    assert options == QrOptions(format="svg", size=64, look=Look("1a2b3c", None, 0, "H"))
    assert parse_query(_query(), QrOptions(size=800)) == QrOptions(size=800)


BAD = [
    ("format", "gif"), ("format", ""), ("format", "raw"), ("size", "63"), ("size", "2049"), ("size", "4e2"),
    ("size", "-100"), ("size", " 100"), ("size", "0x100"), ("margin", "17"), ("margin", "-1"),
    ("margin", "1.5"),
    ("ecc", "X"), ("ecc", "MM"), ("ecc", ""), ("dark", "fff"), ("dark", "transparent"), ("dark", "gggggg"),
    ("dark", "#000000"), ("dark", "000000\n"), ("size", "100\n"), ("light", "12345"), ("light", "none"),
    # the scan guard: inverted, or too little contrast (also against white when transparent)
    ("dark", "ffffff"), ("light", "000000"), ("dark", "999999"), ("light", "555555"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value"), BAD)
def test_each_refusal_names_its_parameter(name: str, value: str) -> None:
    """A bad value is a BadRequest whose field is the parameter."""
    with pytest.raises(BadRequest) as info:
        parse_query(_query(**{name: value}), QrOptions())
    assert info.value.field == name
    assert name in info.value.message


def test_a_parameter_given_twice_is_refused() -> None:
    with pytest.raises(BadRequest) as info:
        parse_query(MultiDict([("size", "100"), ("size", "200")]), QrOptions())
    assert info.value.field == "size"


def test_scan_guard_uses_wcag_contrast() -> None:
    """WCAG relative luminance; 3:1 at least; dark darker than light; transparent reads as white."""
    assert relative_luminance("ffffff") == pytest.approx(1.0)
    assert relative_luminance("000000") == 0.0
    assert contrast_ratio("000000", "ffffff") == pytest.approx(21.0)
    assert contrast_ratio("949494", "ffffff") == pytest.approx(3.03, abs=0.01)
    parse_query(_query(dark="949494"), QrOptions())  # just over 3:1
    parse_query(_query(dark="949494", light="transparent"), QrOptions())
    with pytest.raises(BadRequest) as info:
        parse_query(_query(dark="999999", light="transparent"), QrOptions())  # 2.85:1 against white
    assert info.value.field == "dark" and "2.85:1" in info.value.message
    with pytest.raises(BadRequest) as info:
        parse_query(_query(dark="ffffff", light="000000"), QrOptions())  # 21:1, but inverted
    assert "darker" in info.value.message
    # The default dark is checked against a given light, and the refusal names what was given.
    with pytest.raises(BadRequest) as info:
        parse_query(_query(light="333333"), QrOptions())
    assert info.value.field == "light"
    # A stored design's colours are checked with the query's.
    with pytest.raises(BadRequest) as info:
        parse_query(_query(light="777777"), QrOptions(look=Look(dark="444444")))
    assert info.value.field == "light"


def test_design_bodies() -> None:
    """Each field optional (missing or null: the default); the same rules; JSON types."""
    assert parse_design({}) == DEFAULT_LOOK
    body = {"dark": "003366", "light": "transparent", "margin": 4, "ecc": "q"}
    assert parse_design(body) == Look("003366", None, 4, "Q")
    assert parse_design({"dark": None, "margin": 0}) == Look(margin=0)
    for bad, field in [
        ({"margin": "4"}, "margin"),
        ({"margin": True}, "margin"),
        ({"margin": 2.5}, "margin"),
        ({"margin": 17}, "margin"),
        ({"dark": 5}, "dark"),
        ({"ecc": 1}, "ecc"),
        ({"colour": "000000"}, "colour"),
        ({"light": "eeeeee", "dark": "dddddd"}, "dark"),
        ({"light": "111111"}, "light"),
    ]:
        with pytest.raises(BadRequest) as info:
            parse_design(bad)
        assert info.value.field == field, (bad, info.value.message)


def test_design_text_round_trip() -> None:
    """Stored designs read back the same; the default is stored as ''."""
    assert look_to_text(DEFAULT_LOOK) == ""
    for look in (Look("003366", None, 4, "Q"), Look(margin=0), Look(light="fafafa")):
        assert look_from_text(look_to_text(look)) == look


async def test_renderer_caches_query_options_apart() -> None:
    """Images from query options go to a small LRU of their own: any number of random option
    sets keeps at most that many, and never pushes the main cache's images out."""
    renderer = QrRenderer(cache_size=8, custom_cache_size=4)
    common = await renderer.render(QrSpec(URL))
    for size in range(100, 300):
        await renderer.render(QrSpec(URL, size=size), custom=True)
    assert renderer.cached(QrSpec(URL)) is common
    kept = [size for size in range(100, 300) if renderer.cached(QrSpec(URL, size=size), custom=True)]
    assert kept == [296, 297, 298, 299]
    renders = renderer.renders
    await renderer.render(QrSpec(URL, size=299), custom=True)
    assert renderer.renders == renders  # a hit
    assert renderer.renders_by_format["png"] == renderer.renders


async def test_a_process_pool_renders_every_format_and_refuses_too_small() -> None:
    """Through the process pool (as in production): the same bytes, and `SizeTooSmall` crosses the
    process boundary to become the 400 naming size."""
    with ProcessPoolExecutor(max_workers=1) as pool:
        renderer = QrRenderer(executor=pool)
        for fmt in ("png", "svg", "txt"):
            spec = QrSpec(URL, format=fmt, dark="0b3d2e", light=None)
            assert (await renderer.render(spec)).body == draw(spec)
        with pytest.raises(BadRequest) as info:
            await renderer.render(QrSpec("a" * 1000, size=64), custom=True)
        assert info.value.field == "size"
        assert renderer.renders_by_format == {"png": 1, "svg": 1, "txt": 1}


@pytest.mark.parametrize("pool", [0, 2], ids=["inline", "pool"])
async def test_draw_all_draws_a_batch_in_a_trip_per_worker_and_keeps_none(pool: int) -> None:
    """draw_all gives each spec's bytes in order, in one pool trip per worker (as many specs as
    there are); it keeps no image in the LRU, and inline (no pool) lets the loop run between
    two images instead of holding it for the whole batch."""
    specs = [QrSpec(f"{URL}/{i}", format="svg" if i % 3 == 0 else "png") for i in range(12)]
    with ProcessPoolExecutor(max_workers=pool) if pool else contextlib.nullcontext() as executor:
        renderer = QrRenderer(executor=executor, workers=pool or 1)
        finished = False

        async def beside() -> bool:
            return finished

        other = asyncio.get_running_loop().create_task(beside())
        bodies = await renderer.draw_all(specs)
        finished = True
        assert bodies == [draw(spec) for spec in specs]
        assert renderer.pool_trips == pool
        assert renderer.renders == 12 and renderer.renders_by_format == {"png": 8, "svg": 4}
        assert all(renderer.cached(spec) is None for spec in specs)
        assert await other is False  # it ran while the batch was being drawn

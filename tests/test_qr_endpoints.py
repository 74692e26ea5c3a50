"""§8 on the image endpoints: the verification QR, the card image URL and the offline QR take
format, size, margin, ecc, dark and light; the defaults stay byte for byte what they were."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from qrstream.qr.render import QrSpec, draw
from qrstream.web.keys import SERVICES
from tests.cardkit import FULL_CARD, create_card, local, qr_image_url
from tests.qrdecode import as_png, dark_mask, decode_as, decode_data_uri, decode_png, margin_modules, rgba
from tests.test_offline_qr import get_signature, offline_path

SDK = {"X-SDK-Key": "test-sdk-key"}
MEDIA = {"png": "image/png", "svg": "image/svg+xml", "txt": "text/plain"}


async def verification_qr_path(client: TestClient) -> str:
    resp = await client.post("/api/generate-verification", json={}, headers=SDK)
    assert resp.status == 201
    return f"/api/get-verification-qrcode/{(await resp.json())['verificationId']}"


async def card_image_path(client: TestClient) -> str:
    card = await create_card(client)
    return local(await qr_image_url(client, card["uuid"]))


async def offline_qr_path(client: TestClient, **fields: Any) -> str:
    card = await create_card(client, **(fields or {"name": "Ada Lovelace"}))
    expires, signature = await get_signature(client, card["uuid"])
    return f"{offline_path(card['uuid'])}?expires={expires}&signature={signature}"


async def get(client: TestClient, path: str, **kwargs: Any) -> ClientResponse:
    """GET with the SDK key (the verification QR needs it; the card endpoints ignore it)."""
    headers = {**SDK, **kwargs.pop("headers", {})}
    return await client.get(path, headers=headers, **kwargs)


def with_query(path: str, query: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{query}"


async def image_of(resp: ClientResponse) -> tuple[str, bytes]:
    """(media type, body) of an image answer: the offline QR's data URI is opened."""
    assert resp.status == 200, await resp.text()
    body = await resp.read()
    if resp.url.path.endswith("/qr-code/offline") and body.startswith(b"data:"):
        head, _, data = body.decode("ascii").partition(";base64,")
        import base64

        return head.removeprefix("data:"), base64.b64decode(data, validate=True)
    return resp.content_type, body


async def test_verification_qr_default_is_byte_for_byte(client: TestClient) -> None:
    """No parameter: exactly the PNG the renderer always made (tests/test_qr_formats.BEFORE
    pins those bytes), with its Content-Length; format=png&size=400 is the same image."""
    path = await verification_qr_path(client)
    resp = await get(client, path)
    body = await resp.read()
    decoded = decode_png(body)
    assert body == draw(QrSpec(decoded.text))
    assert resp.headers["Content-Length"] == str(len(body)) and resp.content_type == "image/png"
    same = await get(client, with_query(path, "format=png&size=400&margin=2&ecc=M&dark=000000&light=FFFFFF"))
    assert await same.read() == body


async def test_card_image_default_is_byte_for_byte(client: TestClient) -> None:
    """The card image URL and its ETag are what they were; the picture is the renderer's default."""
    path = await card_image_path(client)
    resp = await get(client, path)
    body = await resp.read()
    assert body == draw(QrSpec(decode_png(body).text))
    name = path.rsplit("/", 1)[1].removesuffix(".png")
    assert resp.headers["ETag"] == f'"{name}"'


async def test_offline_qr_default_is_byte_for_byte(client: TestClient) -> None:
    """The offline QR's data URI holds the renderer's default PNG of the vCard (400 px here)."""
    resp = await get(client, await offline_qr_path(client))
    uri = await resp.text()
    assert uri.startswith("data:image/png;base64,")
    decoded = decode_data_uri(uri)
    _, png = await image_of(resp)
    assert png == draw(QrSpec(decoded.text, size=400))


ENDPOINTS = {"verification": verification_qr_path, "card": card_image_path, "offline": offline_qr_path}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("fmt", ["png", "svg", "txt"])
async def test_formats_sizes_margins_and_levels(client: TestClient, endpoint: str, fmt: str) -> None:
    """Each format decodes (SVG through cairo, text block by block) at the level asked, the PNG
    and the SVG at exactly the size asked, with the margin asked measured off the finder."""
    path = await ENDPOINTS[endpoint](client)
    for size, margin, ecc in ((256, 4, "L"), (720, 0, "H"), (401, 16, "Q")):
        resp = await get(client, with_query(path, f"format={fmt}&size={size}&margin={margin}&ecc={ecc}"))
        media_type, body = await image_of(resp)
        assert media_type == MEDIA[fmt]
        if fmt == "txt":
            assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
            assert set(body.decode("utf-8")) <= set("▀▄█ \n")
        decoded = decode_as(media_type, body)
        assert decoded.ec_level == ecc
        png = as_png(media_type, body)
        if fmt != "txt":
            assert decoded.size == (size, size)
        assert margin_modules(png) == pytest.approx(margin, abs=0.3)
        if fmt == "svg":
            assert body.count(b"<path") == 1
            assert f'width="{size}" height="{size}"'.encode() in body


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_colours_and_transparency(client: TestClient, endpoint: str) -> None:
    """dark and light colour the PNG and the SVG; light=transparent leaves the corner clear."""
    path = await ENDPOINTS[endpoint](client)
    for fmt in ("png", "svg"):
        media_type, body = await image_of(
            await get(client, with_query(path, f"format={fmt}&dark=0B3D2E&light=F5F0E1"))
        )
        png = as_png(media_type, body)
        box = dark_mask(png).getbbox()
        assert box is not None
        image = rgba(png)
        assert image.getpixel((0, 0)) == (0xF5, 0xF0, 0xE1, 255)
        assert image.getpixel((box[0] + 2, box[1] + 2)) == (0x0B, 0x3D, 0x2E, 255)
        decode_png(png)
        media_type, body = await image_of(
            await get(client, with_query(path, f"format={fmt}&light=transparent"))
        )
        png = as_png(media_type, body)
        assert rgba(png).getpixel((0, 0))[3] == 0
        decode_png(png)  # seen on a white page


BAD = [("format", "gif"), ("size", "63"), ("size", "2049"), ("size", "big"), ("margin", "17"), ("ecc", "Z"),
       ("dark", "12345g"), ("light", "clear"), ("dark", "eeeeee"), ("light", "222222"),
       ("dark", "aaaaaa")]  # fmt: skip


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_each_refusal_is_400_naming_the_parameter(client: TestClient, endpoint: str) -> None:
    """Bad values and unreadable colours: 400 in the family's shape, `field` the parameter."""
    path = await ENDPOINTS[endpoint](client)
    key = "error" if endpoint == "verification" else "message"
    for name, value in BAD:
        resp = await get(client, with_query(path, f"{name}={value}"))
        assert resp.status == 400, (name, value)
        body = await resp.json()
        assert body["field"] == name and name in body[key], body
    resp = await get(client, with_query(path, "size=100&size=200"))
    assert resp.status == 400 and (await resp.json())["field"] == "size"


async def test_too_small_for_the_code_names_size(client: TestClient) -> None:
    """A big vCard has more modules than 64 px: 400 naming size, and the minimum in the message."""
    path = await offline_qr_path(client, **FULL_CARD)
    resp = await get(client, with_query(path, "size=64"))
    assert resp.status == 400
    body = await resp.json()
    assert body["field"] == "size" and "at least" in body["message"]


async def test_offline_formats(client: TestClient) -> None:
    """svg is a data:image/svg+xml;base64 URI; txt answers the terminal text itself."""
    path = await offline_qr_path(client, **FULL_CARD)
    svg = await (await get(client, with_query(path, "format=svg"))).text()
    assert svg.startswith("data:image/svg+xml;base64,")
    assert decode_data_uri(svg).text.startswith("BEGIN:VCARD")
    resp = await get(client, with_query(path, "format=txt"))
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert decode_as("text/plain", await resp.read()).text.startswith("BEGIN:VCARD")


async def test_bad_signature_is_403_whatever_the_options(client: TestClient) -> None:
    """The signature is checked first: a bad option with a bad signature is still 403."""
    card = await create_card(client)
    resp = await get(client, f"{offline_path(card['uuid'])}?expires=1&signature={'0' * 64}&size=1")
    assert resp.status == 403


async def test_card_image_options_have_their_own_etag(client: TestClient) -> None:
    """Each option set is its own immutable representation with its own ETag."""
    path = await card_image_path(client)
    default = await get(client, path)
    svg = await get(client, with_query(path, "format=svg"))
    assert svg.headers["ETag"] != default.headers["ETag"]
    assert svg.headers["Cache-Control"] == default.headers["Cache-Control"]
    again = await get(client, with_query(path, "format=svg"), headers={"If-None-Match": svg.headers["ETag"]})
    assert again.status == 304
    other = await get(client, path, headers={"If-None-Match": svg.headers["ETag"]})
    assert other.status == 200


async def test_query_options_are_cached_apart(client: TestClient) -> None:
    """Many random option sets leave the default image in the main cache (no new render)."""
    renderer = client.app[SERVICES].renderer
    path = await card_image_path(client)
    body = await (await get(client, path)).read()
    for size in range(100, 400, 7):
        assert (await get(client, with_query(path, f"size={size}"))).status == 200
    renders = renderer.renders
    assert await (await get(client, path)).read() == body
    assert renderer.renders == renders
    assert hashlib.sha256(body).digest()  # the same bytes, from the cache

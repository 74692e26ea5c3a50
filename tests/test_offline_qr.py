"""Offline card QR codes: Laravel-style signed URLs on the fake clock, key rotation, restarts."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from aiohttp.test_utils import TestClient

from qrstream.clock import FakeClock
from qrstream.config import Config
from tests.cardkit import ADMIN, FULL_CARD, create_card, parse, unescape
from tests.conftest import PUBLIC_URL, ClientFactory
from tests.qrdecode import decode_data_uri

INVALID = {"message": "Invalid signature."}
QUERY = re.compile(r"^expires=([0-9]+)&signature=([0-9a-f]{64})$")


def offline_path(uuid: str) -> str:
    return f"/v1/public/card/{uuid}/qr-code/offline"


def sign_with(key: str, uuid: str, expires: int) -> str:
    message = f"{PUBLIC_URL}/v1/public/card/{uuid}/qr-code/offline?expires={expires}"
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


async def get_signature(client: TestClient, uuid: str) -> tuple[int, str]:
    resp = await client.post(offline_path(uuid))
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    match = QUERY.match(await resp.text())
    assert match, await resp.text()
    return int(match[1]), match[2]


async def assert_invalid(client: TestClient, uuid: str, query: str) -> None:
    resp = await client.get(f"{offline_path(uuid)}?{query}" if query else offline_path(uuid))
    assert resp.status == 403, query
    assert await resp.json() == INVALID


async def fetch_offline_vcard(client: TestClient, uuid: str, query: str) -> str:
    """GET the offline QR, check it is a data URI of a PNG QR at level M, return its text."""
    resp = await client.get(f"{offline_path(uuid)}?{query}")
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/plain"
    body = await resp.text()
    assert body.startswith("data:image/png;base64,")
    decoded = decode_data_uri(body)
    assert decoded.ec_level == "M"
    assert decoded.size[0] >= 400
    return decoded.text


async def test_signature_is_hmac_of_the_signed_url(client: TestClient, clock: FakeClock) -> None:
    """POST answers expires=now+ttl and the HMAC-SHA256 of the URL under the first signing key."""
    card = await create_card(client)
    expires, signature = await get_signature(client, card["uuid"])
    assert expires == int(clock.now()) + 3600
    assert signature == sign_with("signing-key-one", card["uuid"], expires)


async def test_offline_qr_holds_the_vcard(client: TestClient) -> None:
    """With a valid signature the answer is a QR data URI holding the card's vCard itself."""
    card = await create_card(client, **FULL_CARD)
    expires, signature = await get_signature(client, card["uuid"])
    text = await fetch_offline_vcard(client, card["uuid"], f"expires={expires}&signature={signature}")
    resp = await client.get(f"/v1/public/card/{card['uuid']}/vcard")
    assert text == (await resp.read()).decode("utf-8")
    props = parse(text)
    assert unescape(props["FN"]) == FULL_CARD["name"]
    assert unescape(props["NOTE"]) == FULL_CARD["note"]


async def test_query_order_does_not_matter(client: TestClient) -> None:
    """signature before expires is the same signed URL."""
    card = await create_card(client)
    expires, signature = await get_signature(client, card["uuid"])
    await fetch_offline_vcard(client, card["uuid"], f"signature={signature}&expires={expires}")


async def test_every_flipped_character_is_rejected(client: TestClient) -> None:
    """Changing any one character of the signature answers 403 {"message": "Invalid signature."}."""
    card = await create_card(client)
    expires, signature = await get_signature(client, card["uuid"])
    for i, char in enumerate(signature):
        flipped = signature[:i] + ("0" if char != "0" else "1") + signature[i + 1 :]
        await assert_invalid(client, card["uuid"], f"expires={expires}&signature={flipped}")


async def test_changed_expires_is_rejected(client: TestClient) -> None:
    """Moving expires (later or earlier, or padded) breaks the signature."""
    card = await create_card(client)
    expires, signature = await get_signature(client, card["uuid"])
    for other in (str(expires + 1), str(expires - 1), str(expires * 10), f"0{expires}", f"{expires}.0"):
        await assert_invalid(client, card["uuid"], f"expires={other}&signature={signature}")


@pytest.mark.parametrize(
    "query",
    [
        "",
        "expires={e}",
        "signature={s}",
        "expires=&signature={s}",
        "expires={e}&signature=",
        "expires=abc&signature={s}",
        "expires=-1&signature={s}",
        "expires={e}&signature={s}0",
        "expires={e}&signature={S}",
        "expires={e}&signature={s}&signature={s}",
        "expires={e}&expires={e}&signature={s}",
    ],
)
async def test_missing_or_malformed_signature_is_rejected(client: TestClient, query: str) -> None:
    """A missing, empty, malformed, upper-case or repeated parameter answers 403."""
    card = await create_card(client)
    expires, signature = await get_signature(client, card["uuid"])
    await assert_invalid(client, card["uuid"], query.format(e=expires, s=signature, S=signature.upper()))


async def test_signature_expires_on_the_clock(client: TestClient, clock: FakeClock) -> None:
    """The signature works until its expires second, and answers 403 after it."""
    card = await create_card(client)
    expires, signature = await get_signature(client, card["uuid"])
    query = f"expires={expires}&signature={signature}"
    clock.set(expires)
    await fetch_offline_vcard(client, card["uuid"], query)
    await clock.advance(1)
    await assert_invalid(client, card["uuid"], query)


async def test_other_cards_signature_is_rejected(client: TestClient) -> None:
    """A signature made for one card does not open another."""
    card = await create_card(client)
    other = await create_card(client, name="Other Person")
    expires, signature = await get_signature(client, card["uuid"])
    await assert_invalid(client, other["uuid"], f"expires={expires}&signature={signature}")


async def test_signature_of_the_second_key_is_accepted(client: TestClient, clock: FakeClock) -> None:
    """Every configured key verifies (rotation): a signature made with the second one works."""
    card = await create_card(client)
    expires = int(clock.now()) + 60
    signature = sign_with("signing-key-two", card["uuid"], expires)
    await fetch_offline_vcard(client, card["uuid"], f"expires={expires}&signature={signature}")
    unknown = sign_with("some-other-key", card["uuid"], expires)
    await assert_invalid(client, card["uuid"], f"expires={expires}&signature={unknown}")


async def test_signature_survives_a_restart(make_client: ClientFactory, config: Config) -> None:
    """A card and an unexpired signature still work after the app is rebuilt on the same file."""
    first = await make_client(config)
    card = await create_card(first, **FULL_CARD)
    expires, signature = await get_signature(first, card["uuid"])
    await first.close()
    second = await make_client(config)
    resp = await second.get(f"/admin/cards/{card['uuid']}", headers=ADMIN)
    assert await resp.json() == card
    text = await fetch_offline_vcard(second, card["uuid"], f"expires={expires}&signature={signature}")
    assert unescape(parse(text)["FN"]) == FULL_CARD["name"]


async def test_generated_signing_key_survives_a_restart(make_client: ClientFactory, config: Config) -> None:
    """With no signing keys configured, the generated, stored key still verifies after a restart."""
    keyless = config.replace(signing_keys=())
    first = await make_client(keyless)
    card = await create_card(first)
    expires, signature = await get_signature(first, card["uuid"])
    assert signature != sign_with("signing-key-one", card["uuid"], expires)
    await first.close()
    second = await make_client(keyless)
    await fetch_offline_vcard(second, card["uuid"], f"expires={expires}&signature={signature}")
    assert await get_signature(second, card["uuid"]) == (expires, signature)


async def test_deleted_card_is_404_even_with_a_valid_signature(client: TestClient) -> None:
    """Once the card is deleted its offline link answers 404 Card not found."""
    card = await create_card(client)
    expires, signature = await get_signature(client, card["uuid"])
    await client.delete(f"/admin/cards/{card['uuid']}", headers=ADMIN)
    resp = await client.get(f"{offline_path(card['uuid'])}?expires={expires}&signature={signature}")
    assert resp.status == 404
    assert await resp.json() == {"message": "Card not found."}


async def test_biggest_card_still_fits_one_qr(client: TestClient) -> None:
    """A card with every field at its longest still gives one readable offline QR (note dropped)."""
    card = await create_card(
        client,
        name="Zoë Ångström-Łukasz " * 10,
        title="T," * 100,
        company="C;" * 100,
        email="a" * 230 + "@example.com",
        phone="+" + "1" * 63,
        website="https://example.com/" + "p" * 480,
        note="N\\" * 500,
    )
    expires, signature = await get_signature(client, card["uuid"])
    text = await fetch_offline_vcard(client, card["uuid"], f"expires={expires}&signature={signature}")
    props = parse(text)
    assert unescape(props["FN"]) == card["name"]
    assert "NOTE" not in props


async def test_card_of_four_byte_characters_still_fits_one_qr(client: TestClient) -> None:
    """Every field at its longest in 4-byte UTF-8 characters: still one readable QR, never a 500."""
    emoji = "\U0001f600"
    card = await create_card(
        client,
        name=emoji * 200,
        email=emoji * 120 + "@" + emoji * 120 + "." + emoji * 10,
        phone=emoji * 64,
        note=emoji * 1000,
    )
    expires, signature = await get_signature(client, card["uuid"])
    text = await fetch_offline_vcard(client, card["uuid"], f"expires={expires}&signature={signature}")
    props = parse(text)
    assert unescape(props["FN"]) == card["name"]
    assert len(text.encode()) <= 2331

"""The verification API (CONTRACT §4) over HTTP: keys, generate, QR code, details, start, complete."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from typing import Any

from aiohttp.test_utils import TestClient

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.web.keys import SERVICES
from tests.conftest import ClientFactory
from tests.qrdecode import decode_png, quiet_zone
from tests.verificationkit import complete, start

ID_PATTERN = r"ver_[0-9a-f]{24}"


async def generate(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    resp = await client.post("/api/generate-verification", json=body, headers=headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()  # type: ignore[no-any-return]


async def test_no_keys_configured_is_500(make_client: ClientFactory, config: Config) -> None:
    """With no SDK keys configured every key-guarded endpoint answers 500, even with a key."""
    client = await make_client(config.replace(sdk_keys=()))
    for method, path in [
        ("POST", "/api/generate-verification"),
        ("GET", "/api/get-verification-qrcode/ver_000000000000000000000000"),
        ("GET", "/api/get-verification-qrcode/"),
        ("GET", "/api/get-verification-details/ver_000000000000000000000000"),
        ("GET", "/api/verification-events/ver_000000000000000000000000"),
    ]:
        resp = await client.request(method, path, headers={"X-SDK-Key": "anything"})
        assert resp.status == 500, path
        assert await resp.json() == {"error": "No API key configured"}


async def test_missing_or_wrong_key_is_401(client: TestClient) -> None:
    """A missing, wrong or empty X-SDK-Key answers 401 Invalid API key."""
    for headers in [{}, {"X-SDK-Key": "wrong"}, {"X-SDK-Key": ""}, {"X-SDK-Key": "test-sdk-key-2"}]:
        for method, path in [
            ("POST", "/api/generate-verification"),
            ("GET", "/api/get-verification-qrcode/ver_000000000000000000000000"),
            ("GET", "/api/get-verification-details/ver_000000000000000000000000"),
            ("GET", "/api/verification-events/ver_000000000000000000000000"),
        ]:
            resp = await client.request(method, path, headers=headers)
            assert resp.status == 401, (headers, path)
            assert await resp.json() == {"error": "Invalid API key"}


async def test_generate(client: TestClient, sdk_headers: dict[str, str], clock: FakeClock) -> None:
    """Generate answers 201 with the id, status, portal URL and the expiry one TTL from now."""
    resp = await client.post("/api/generate-verification", json={}, headers=sdk_headers)
    assert resp.status == 201
    body = await resp.json()
    assert set(body) == {"verificationId", "status", "url", "expiresAt"}
    assert re.fullmatch(ID_PATTERN, body["verificationId"])
    assert body["status"] == "generated"
    assert body["url"] == f"http://qr.test/verify?verification_id={body['verificationId']}"
    assert body["expiresAt"] == "2026-01-01T01:00:00Z"  # FakeClock starts at 2026-01-01T00:00:00Z


async def test_generate_empty_body_and_ids_unique(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """An empty body means {}; every verification gets its own id."""
    ids = set()
    for _ in range(5):
        resp = await client.post("/api/generate-verification", headers=sdk_headers)
        assert resp.status == 201
        ids.add((await resp.json())["verificationId"])
    assert len(ids) == 5


async def test_generate_rejects_bad_input(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """Malformed JSON, wrong types, a too-big extra_data or a bad return_url answer 400 with the field."""
    cases: list[tuple[bytes, str]] = [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (json.dumps({"extra_data": [1]}).encode(), "extra_data"),
        (json.dumps({"extra_data": "text"}).encode(), "extra_data"),
        (json.dumps({"extra_data": {"blob": "x" * 16_400}}).encode(), "extra_data"),
        (json.dumps({"return_url": "/relative"}).encode(), "return_url"),
        (json.dumps({"return_url": "javascript:alert(1)"}).encode(), "return_url"),
        (json.dumps({"return_url": 42}).encode(), "return_url"),
    ]
    for raw, field in cases:
        resp = await client.post(
            "/api/generate-verification",
            data=raw,
            headers={**sdk_headers, "Content-Type": "application/json"},
        )
        assert resp.status == 400, raw[:40]
        body = await resp.json()
        assert body["field"] == field
        assert isinstance(body["error"], str) and body["error"]


async def test_extra_data_at_the_limit_is_accepted(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """extra_data of exactly 16 KiB serialized is accepted and read back unchanged."""
    filler = "x" * (16 * 1024 - len('{"k":""}'))
    created = await generate(client, sdk_headers, extra_data={"k": filler})
    resp = await client.get(f"/api/get-verification-details/{created['verificationId']}", headers=sdk_headers)
    assert (await resp.json())["extra_data"] == {"k": filler}


async def test_qr_code_png(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """The QR code is a 400x400 PNG, EC level M, 2-module margin, encoding the portal URL; cached."""
    created = await generate(client, sdk_headers)
    path = f"/api/get-verification-qrcode/{created['verificationId']}"
    resp = await client.get(path, headers=sdk_headers)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "image/png"
    assert resp.headers["Cache-Control"] == "no-store"
    png = await resp.read()
    assert int(resp.headers["Content-Length"]) == len(png)
    assert "Transfer-Encoding" not in resp.headers
    decoded = decode_png(png)
    assert decoded.text == created["url"]
    assert decoded.ec_level == "M"
    assert decoded.size == (400, 400)
    margins = quiet_zone(png)
    assert all(abs(side - 2) < 0.25 for side in margins), margins  # the 2-module margin

    renderer = client.app[SERVICES].renderer
    renders = renderer.renders
    again = await client.get(path, headers=sdk_headers)
    assert again.status == 200
    assert await again.read() == png
    assert renderer.renders == renders


async def test_qr_code_errors(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """Empty id 400, unknown or malformed id 404, a started verification 409 with current_status."""
    resp = await client.get("/api/get-verification-qrcode/", headers=sdk_headers)
    assert resp.status == 400
    assert await resp.json() == {"error": "Missing verification_id"}
    for unknown in ["ver_0123456789abcdef01234567", "ver_xyz", "abc", "ver_ABCDEF0123456789ABCDEF01"]:
        resp = await client.get(f"/api/get-verification-qrcode/{unknown}", headers=sdk_headers)
        assert resp.status == 404, unknown
        assert await resp.json() == {"error": "Verification not found"}
    created = await generate(client, sdk_headers)
    started = await client.post(f"/api/verification/{created['verificationId']}/start")
    assert started.status == 200
    resp = await client.get(f"/api/get-verification-qrcode/{created['verificationId']}", headers=sdk_headers)
    assert resp.status == 409
    assert await resp.json() == {
        "error": "Verification must be in 'generated' state to generate a QR code",
        "current_status": "in_progress",
    }


async def test_details(client: TestClient, sdk_headers: dict[str, str], clock: FakeClock) -> None:
    """Details give the status, extra_data (null when none) and the three timestamps."""
    bare = await generate(client, sdk_headers)
    resp = await client.get(f"/api/get-verification-details/{bare['verificationId']}", headers=sdk_headers)
    assert resp.status == 200
    assert await resp.json() == {
        "verificationId": bare["verificationId"],
        "status": "generated",
        "extra_data": None,
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
        "expiresAt": "2026-01-01T01:00:00Z",
    }
    rich = await generate(client, sdk_headers, extra_data={"user_id": "u1", "n": [1, 2]})
    await clock.advance(90)
    assert (await client.post(f"/api/verification/{rich['verificationId']}/start")).status == 200
    body = await (
        await client.get(f"/api/get-verification-details/{rich['verificationId']}", headers=sdk_headers)
    ).json()
    assert body["status"] == "in_progress"
    assert body["extra_data"] == {"user_id": "u1", "n": [1, 2]}
    assert body["updatedAt"] == "2026-01-01T00:01:30Z"
    resp = await client.get("/api/get-verification-details/ver_0123456789abcdef01234567", headers=sdk_headers)
    assert resp.status == 404
    assert await resp.json() == {"error": "Verification not found"}
    resp = await client.get("/api/get-verification-details/", headers=sdk_headers)
    assert resp.status == 400
    assert await resp.json() == {"error": "Missing verification_id"}


RESUME_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # 256 random bits, URL-safe base64


async def test_start_and_complete(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """start moves generated to in_progress: exactly {"status", "resumeToken"}, plus return_url when
    one was given (the portal goes there); complete approved/declined with the token ends it."""
    approved = await generate(client, sdk_headers, return_url="https://shop.example/done?x=1")
    vid = approved["verificationId"]
    resp = await client.post(f"/api/verification/{vid}/start", json={})
    assert resp.status == 200
    body = await resp.json()
    assert RESUME_TOKEN.fullmatch(body["resumeToken"]), body
    assert body == {
        "status": "in_progress",
        "resumeToken": body["resumeToken"],
        "return_url": "https://shop.example/done?x=1",
    }
    resp = await complete(client, vid, "approved", body["resumeToken"])
    assert resp.status == 200
    assert await resp.json() == {"status": "completed"}

    declined = (await generate(client, sdk_headers))["verificationId"]
    resp = await client.post(f"/api/verification/{declined}/start")  # no body at all: fine too
    body = await resp.json()
    assert list(body) == ["status", "resumeToken"] and body["status"] == "in_progress"
    resp = await complete(client, declined, "declined", body["resumeToken"])
    assert await resp.json() == {"status": "failed"}
    details = await client.get(f"/api/get-verification-details/{declined}", headers=sdk_headers)
    assert (await details.json())["status"] == "failed"


async def test_start_again_with_the_token_resumes(
    client: TestClient, sdk_headers: dict[str, str], clock: FakeClock
) -> None:
    """start with its resumeToken while in_progress answers the same again and changes nothing; without
    it, or with another, 409 in_progress; once expired, 409 expired even with it."""
    vid = (await generate(client, sdk_headers, return_url="https://shop.example/r"))["verificationId"]
    first = await client.post(f"/api/verification/{vid}/start", json={})
    answer = await first.json()
    before = await (await client.get(f"/api/get-verification-details/{vid}", headers=sdk_headers)).json()
    await clock.advance(30)
    for _ in range(3):
        again = await client.post(
            f"/api/verification/{vid}/start", json={"resumeToken": answer["resumeToken"]}
        )
        assert again.status == 200
        assert await again.json() == answer
    after = await (await client.get(f"/api/get-verification-details/{vid}", headers=sdk_headers)).json()
    assert after == before  # updatedAt included: a resume is not a change
    token = answer["resumeToken"]
    wrong = token[:-1] + ("B" if token.endswith("A") else "A")  # never the token itself
    for body in ({}, {"resumeToken": wrong}, {"resumeToken": ""}):
        resp = await client.post(f"/api/verification/{vid}/start", json=body)
        assert resp.status == 409, body
        assert (await resp.json())["current_status"] == "in_progress"
    await clock.advance(3600)
    resp = await client.post(f"/api/verification/{vid}/start", json={"resumeToken": answer["resumeToken"]})
    assert resp.status == 409
    assert (await resp.json())["current_status"] == "expired"


async def test_a_token_sent_to_a_fresh_verification_starts_it_with_a_new_one(
    client: TestClient, sdk_headers: dict[str, str]
) -> None:
    """A resumeToken (say, of another verification) sent to a generated one starts it, with its own token."""
    one = (await generate(client, sdk_headers))["verificationId"]
    other = (await generate(client, sdk_headers))["verificationId"]
    token = await start(client, one)
    other_token = await start(client, other, resumeToken=token)
    assert other_token != token
    assert (await complete(client, other, "approved", token)).status == 403
    assert (await complete(client, other, "approved", other_token)).status == 200


async def test_complete_needs_the_token_of_the_browser_that_started(
    client: TestClient, sdk_headers: dict[str, str]
) -> None:
    """complete without the resumeToken, with an empty, altered or another verification's one: 403,
    and the verification stays in_progress; with its own: 200."""
    vid = (await generate(client, sdk_headers))["verificationId"]
    token = await start(client, vid)
    other = (await generate(client, sdk_headers))["verificationId"]
    other_token = await start(client, other)
    for wrong in (None, "", token[:-1] + ("B" if token[-1] != "B" else "C"), token.upper(), other_token):
        resp = await complete(client, vid, "approved", wrong)
        assert resp.status == 403, wrong
        assert await resp.json() == {
            "error": "Only the browser that started this verification can complete it"
        }
    details = await client.get(f"/api/get-verification-details/{vid}", headers=sdk_headers)
    assert (await details.json())["status"] == "in_progress"
    assert (await complete(client, vid, "declined", token)).status == 200
    details = await client.get(f"/api/get-verification-details/{vid}", headers=sdk_headers)
    assert (await details.json())["status"] == "failed"


async def test_only_a_hash_of_the_token_is_stored(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """The store holds the token's SHA-256, never the token itself."""
    vid = (await generate(client, sdk_headers))["verificationId"]
    db = client.app[SERVICES].db
    row = await db.fetchone("SELECT * FROM verifications WHERE id = ?", vid)
    assert row is not None and row["resume_hash"] is None
    token = await start(client, vid)
    row = await db.fetchone("SELECT * FROM verifications WHERE id = ?", vid)
    assert row is not None
    assert row["resume_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps([str(value) for value in dict(row).values()])


async def test_moves_out_of_order_are_409(
    client: TestClient, sdk_headers: dict[str, str], clock: FakeClock
) -> None:
    """start twice, complete before start, or complete twice answer 409 with current_status. The status
    is checked before the token: not in_progress is 409 whatever token comes (none can be right
    before a start, and after the end there is nothing left to guard)."""
    vid = (await generate(client, sdk_headers))["verificationId"]
    for token in (None, "made-up"):
        resp = await complete(client, vid, "approved", token)
        assert resp.status == 409
        assert (await resp.json())["current_status"] == "generated"
    token = await start(client, vid)
    resp = await client.post(f"/api/verification/{vid}/start")
    assert resp.status == 409
    body = await resp.json()
    assert body["current_status"] == "in_progress"
    assert isinstance(body["error"], str)
    assert (await complete(client, vid, "approved", token)).status == 200
    for action, payload in [
        ("start", None),
        ("start", {"resumeToken": token}),
        ("complete", {"result": "declined", "resumeToken": token}),
        ("complete", {"result": "declined", "resumeToken": "wrong"}),
        ("complete", {"result": "declined"}),
    ]:
        resp = await client.post(f"/api/verification/{vid}/{action}", json=payload)
        assert resp.status == 409, payload
        assert (await resp.json())["current_status"] == "completed"
    late = (await generate(client, sdk_headers))["verificationId"]
    late_token = await start(client, late)
    await clock.advance(3600)
    resp = await complete(client, late, "approved", late_token)
    assert resp.status == 409
    assert (await resp.json())["current_status"] == "expired"


async def test_start_complete_unknown_and_bad_result(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """Unknown ids answer 404; a result other than approved/declined or a bad body answers 400."""
    for path in ["/api/verification/ver_0123456789abcdef01234567/start", "/api/verification/nope/start"]:
        resp = await client.post(path)
        assert resp.status == 404
        assert await resp.json() == {"error": "Verification not found"}
    resp = await client.post(
        "/api/verification/ver_0123456789abcdef01234567/complete", json={"result": "approved"}
    )
    assert resp.status == 404
    vid = (await generate(client, sdk_headers))["verificationId"]
    token = await start(client, vid)
    for payload in [
        {"result": "maybe"},
        {"result": None},
        {},
        [1],
        {"result": "maybe", "resumeToken": token},
    ]:
        resp = await client.post(f"/api/verification/{vid}/complete", json=payload)
        assert resp.status == 400
        assert "field" in await resp.json()
    for field_value in (1, ["x"], {"a": 1}):
        resp = await client.post(
            f"/api/verification/{vid}/complete", json={"result": "approved", "resumeToken": field_value}
        )
        assert resp.status == 400
        assert (await resp.json())["field"] == "resumeToken"
        resp = await client.post(f"/api/verification/{vid}/start", json={"resumeToken": field_value})
        assert resp.status == 400
        assert (await resp.json())["field"] == "resumeToken"
    resp = await client.post(f"/api/verification/{vid}/complete", data=b"{oops")
    assert resp.status == 400
    details = await client.get(f"/api/get-verification-details/{vid}", headers=sdk_headers)
    assert (await details.json())["status"] == "in_progress"


async def test_concurrent_starts_exactly_one_wins(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """Of 50 concurrent start calls exactly one answers 200 and 49 answer 409 in_progress."""
    vid = (await generate(client, sdk_headers))["verificationId"]
    responses = await asyncio.gather(*(client.post(f"/api/verification/{vid}/start") for _ in range(50)))
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] + [409] * 49
    for r in responses:
        if r.status == 409:
            assert (await r.json())["current_status"] == "in_progress"
    [winner] = [await r.json() for r in responses if r.status == 200]
    assert (await complete(client, vid, "approved", winner["resumeToken"])).status == 200


async def test_portal_keys_not_needed(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """The portal's start and complete need no X-SDK-Key, and a wrong one does not matter."""
    vid = (await generate(client, sdk_headers))["verificationId"]
    resp = await client.post(f"/api/verification/{vid}/start", headers={"X-SDK-Key": "wrong"})
    assert resp.status == 200


async def test_lone_surrogate_in_json_is_400_not_500(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """A JSON string holding a lone UTF-16 surrogate ("\\udcff") is malformed input: 400, nothing stored."""
    for raw in (b'{"extra_data": {"a": "\\udcff"}}', b'{"return_url": "https://x.example/\\ud800"}'):
        headers = {**sdk_headers, "Content-Type": "application/json"}
        resp = await client.post("/api/generate-verification", data=raw, headers=headers)
        assert resp.status == 400, raw
        assert await resp.json() == {"error": "Malformed JSON", "field": "body"}


async def test_non_utf8_sdk_key_is_401_not_500(client: TestClient) -> None:
    """An X-SDK-Key header of bytes that are not UTF-8 is a wrong key (401), not a server error."""
    assert client.server.host is not None and client.server.port is not None
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(
        b"GET /api/get-verification-details/ver_000000000000000000000000 HTTP/1.1\r\n"
        b"Host: qr.test\r\nX-SDK-Key: \xff\xfe\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401"), head
    assert json.loads(body) == {"error": "Invalid API key"}


async def test_get_endpoints_answer_head(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """HEAD on the QR code and details endpoints answers like GET, without a body (not 405)."""
    created = await generate(client, sdk_headers)
    for path in (
        f"/api/get-verification-qrcode/{created['verificationId']}",
        f"/api/get-verification-details/{created['verificationId']}",
    ):
        resp = await client.head(path, headers=sdk_headers)
        assert resp.status == 200, path
        assert int(resp.headers["Content-Length"]) > 0
    resp = await client.head("/api/get-verification-qrcode/ver_000000000000000000000000", headers=sdk_headers)
    assert resp.status == 404


async def test_non_json_numbers_are_400_not_stored(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """NaN, Infinity, 1e999 (not JSON: they would be answered back as invalid JSON) and an integer of
    5000 digits (once a 500) are Malformed JSON: 400, nothing stored."""
    huge = "9" * 5000
    for number in ("NaN", "Infinity", "-Infinity", "1e999", huge):
        raw = b'{"extra_data": {"a": ' + number.encode() + b"}}"
        headers = {**sdk_headers, "Content-Type": "application/json"}
        resp = await client.post("/api/generate-verification", data=raw, headers=headers)
        assert resp.status == 400, number[:10]
        assert await resp.json() == {"error": "Malformed JSON", "field": "body"}

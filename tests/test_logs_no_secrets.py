"""No secret reaches the logs: a real `run.py --log-format json` at DEBUG, every endpoint exercised."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from tests.liveserver import ADMIN_KEY, SDK_KEY, SIGNING_KEYS, LiveServer, base_env
from tests.qrdecode import decode_b64, decode_data_uri, decode_png

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SDK = {"X-SDK-Key": SDK_KEY}
PHONE = "4915112345678"


async def _json(resp: aiohttp.ClientResponse, status: int = 200) -> dict:  # type: ignore[type-arg]
    assert resp.status == status, (resp.status, await resp.text())
    return await resp.json()  # type: ignore[no-any-return]


async def _cards(http: aiohttp.ClientSession, base: str, secrets: list[str]) -> None:
    card = await _json(await http.post(f"{base}/admin/cards", headers=ADMIN, json={"name": "Ada"}), 201)
    uuid = card["uuid"]
    admin_card = f"{base}/admin/cards/{uuid}"
    await _json(await http.get(admin_card, headers=ADMIN))
    await _json(await http.patch(admin_card, headers=ADMIN, json={"title": "Countess"}))
    await _json(await http.put(f"{admin_card}/target", headers=ADMIN, json={"url": "https://example.org/x"}))
    await _json(await http.get(f"{admin_card}/stats", headers=ADMIN))
    public = f"{base}/v1/public/card/{uuid}"
    await _json(await http.get(f"{public}/prefetch"))
    assert (await http.get(f"{public}/vcard")).status == 200
    assert (await http.get(f"{base}/c/{uuid}")).status == 200
    media = (await _json(await http.post(f"{public}/qr-code")))["url"]
    resp = await http.get(base + urlsplit(media).path)
    link = decode_png(await resp.read()).text
    assert "/q/" in link
    resp = await http.get(base + urlsplit(link).path, allow_redirects=False)
    assert resp.status == 302
    query = await (await http.post(f"{public}/qr-code/offline")).text()
    signature = re.search(r"signature=([0-9a-f]{64})", query)
    assert signature is not None
    secrets.append(signature.group(1))
    resp = await http.get(f"{public}/qr-code/offline?{query}")
    assert decode_data_uri(await resp.text()).text.startswith("BEGIN:VCARD")
    tampered = query[:-1] + ("1" if query.endswith("0") else "0")
    resp = await http.get(f"{public}/qr-code/offline?{tampered}")
    assert resp.status == 403
    assert (await http.delete(admin_card, headers=ADMIN)).status == 204


async def _verifications(http: aiohttp.ClientSession, base: str, secrets: list[str]) -> None:
    body = {"extra_data": {"k": "v"}, "return_url": "https://example.org/done"}
    created = await _json(await http.post(f"{base}/api/generate-verification", headers=SDK, json=body), 201)
    vid = created["verificationId"]
    secrets.append(vid)
    resp = await http.get(f"{base}/api/get-verification-qrcode/{vid}", headers=SDK)
    assert decode_png(await resp.read()).text == created["url"]
    await _json(await http.get(f"{base}/api/get-verification-details/{vid}", headers=SDK))
    assert (
        await http.get(f"{base}/api/get-verification-details/{vid}", headers={"X-SDK-Key": "x"})
    ).status == 401
    async with http.ws_connect(f"{base}/api/verification-events/{vid}", headers=SDK) as ws:
        assert json.loads((await ws.receive(timeout=10)).data)["status"] == "generated"
        assert (await http.get(f"{base}/verify?verification_id={vid}")).status == 200
        token = (await _json(await http.post(f"{base}/api/verification/{vid}/start", json={})))["resumeToken"]
        secrets.append(token)
        await _json(await http.post(f"{base}/api/verification/{vid}/start", json={"resumeToken": token}))
        body = {"result": "approved", "resumeToken": token}
        await _json(await http.post(f"{base}/api/verification/{vid}/complete", json=body))
        while (await ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT:
            pass
    assert (await http.post(f"{base}/api/verification/ver_{'0' * 24}/start")).status == 404


async def _instances(http: aiohttp.ClientSession, base: str, secrets: list[str]) -> None:
    made = await _json(await http.post(f"{base}/admin/instances", headers=ADMIN, json={}), 201)
    iid, token = made["idInstance"], made["apiTokenInstance"]
    secrets.append(token)
    await _json(await http.get(f"{base}/admin/instances/{iid}", headers=ADMIN))
    green = f"{base}/waInstance{iid}"
    made_link = await _json(await http.post(f"{green}/createPairingLink/{token}", json={}))
    ticket_path = urlsplit(made_link["url"]).path
    secrets.append(ticket_path.rsplit("/", 1)[1])
    assert (await http.get(base + ticket_path)).status == 200
    async with http.ws_connect(f"{base}{ticket_path}/scanqrcode") as ws:
        assert json.loads((await ws.receive(timeout=10)).data)["type"] == "qrCode"
    assert (await http.get(f"{base}/p/{'Z' * 43}")).status == 410
    qr = await _json(await http.get(f"{green}/qr/{token}"))
    link = decode_b64(qr["message"]).text
    secrets.append(link.rsplit("/", 1)[1])
    async with http.ws_connect(f"{green}/scanqrcode/{token}") as ws:
        assert json.loads((await ws.receive(timeout=10)).data)["type"] == "qrCode"
        assert (await http.get(base + urlsplit(link).path)).status == 200
        await _json(await http.post(base + urlsplit(link).path, json={"phone": PHONE}))
        assert json.loads((await ws.receive(timeout=10)).data)["type"] == "accountData"
    await _json(await http.get(f"{green}/getStateInstance/{token}"))
    note = await _json(await http.get(f"{green}/receiveNotification/{token}?receiveTimeout=5"))
    await _json(await http.delete(f"{green}/deleteNotification/{token}/{note['receiptId']}"))
    await _json(await http.post(f"{green}/setSettings/{token}", json={"webhookUrl": ""}))
    await _json(await http.get(f"{green}/getSettings/{token}"))
    await _json(await http.get(f"{green}/logout/{token}"))
    code = await _json(
        await http.post(f"{green}/getAuthorizationCode/{token}", json={"phoneNumber": int(PHONE)})
    )
    secrets.append(code["code"])
    assert (await http.get(f"{base}/link")).status == 200
    await _json(await http.post(f"{base}/link", json={"code": code["code"], "phone": PHONE}))
    await _json(await http.get(f"{green}/reboot/{token}"))
    assert (await http.get(f"{green}/getStateInstance/{'f' * 50}")).status == 401
    assert (await http.get(f"{base}/pair")).status == 200
    assert (await http.delete(f"{base}/admin/instances/{iid}", headers=ADMIN)).status == 204


async def _console(http: aiohttp.ClientSession, base: str, secrets: list[str]) -> None:
    """The console's lists and its event stream, whose ticket travels in the query."""
    assert (await http.get(f"{base}/console")).status == 200
    for path in ("/admin/instances", "/admin/cards?q=ada", "/admin/verifications?status=generated"):
        await _json(
            await http.get(f"{base}{path}?limit=2" if "?" not in path else f"{base}{path}", headers=ADMIN)
        )
    ticket = (await _json(await http.post(f"{base}/admin/events/ticket", headers=ADMIN), 201))["ticket"]
    secrets.append(ticket)
    async with http.ws_connect(f"{base}/admin/events?ticket={ticket}") as ws:
        await _json(await http.post(f"{base}/admin/instances", headers=ADMIN, json={}), 201)
        assert json.loads((await ws.receive(timeout=10)).data)["type"] == "instance"
    resp = await http.get(f"{base}/admin/events?ticket={ticket}", headers={"Upgrade": "websocket"})
    assert resp.status in (400, 401)


def _garbage(base: str, token: str) -> None:
    """A malformed request carrying a secret-shaped path: aiohttp's own error logging must mask it."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(f"GET /waInstance1/qr/{token} HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n".encode())
        sock.recv(4096)


async def test_no_secret_in_any_log_line(tmp_path: Path) -> None:
    """Keys, tokens, signatures, link and pairing codes and verification ids never reach stdout or stderr."""
    env = {**base_env(str(tmp_path / "logs.db")), "QRSTREAM_LOG_LEVEL": "DEBUG"}
    secrets = [ADMIN_KEY, SDK_KEY, *SIGNING_KEYS.split(",")]
    with LiveServer(env, ["--log-format", "json"]) as server:
        base = await asyncio.to_thread(server.wait_ready)
        async with aiohttp.ClientSession(headers={"X-Request-Id": "logs-test"}) as http:
            assert (await http.get(f"{base}/healthz")).status == 200
            assert (await http.get(f"{base}/metrics")).status == 200
            assert (await http.get(f"{base}/openapi.json")).status == 200
            assert (
                await http.get(f"{base}/admin/cards/x", headers={"Authorization": "Bearer guess"})
            ).status == 401
            await _cards(http, base, secrets)
            await _verifications(http, base, secrets)
            await _instances(http, base, secrets)
            await _console(http, base, secrets)
            assert (await http.get(f"{base}/admin/webhooks/failed", headers=ADMIN)).status == 200
        await asyncio.to_thread(_garbage, base, secrets[-4])
        assert await asyncio.to_thread(server.stop) == 0
    output = server.output()
    access = [json.loads(line) for line in server.stderr if line.startswith("{")]
    assert len(access) > 40 and all(line.strip().startswith("{") for line in server.stderr), server.stderr[:5]
    requests = [entry for entry in access if "status" in entry and entry["method"] != "UNKNOWN"]
    assert requests and all(
        {"request_id", "method", "path", "status", "duration_ms"} <= set(entry) for entry in requests
    )
    assert any(entry["request_id"] == "logs-test" for entry in requests)
    assert any(entry["level"] == "DEBUG" for entry in access), "DEBUG lines were expected"
    for secret in secrets:
        assert secret not in output, f"a secret reached the logs: {secret[:4]}…"


def _raw(base: str, request: bytes) -> bytes:
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(request)
        return sock.recv(4096)


async def test_malformed_requests_log_one_line_not_a_traceback(tmp_path: Path) -> None:
    """A malformed request (a request line over 8 KiB, a broken header) is the client's fault: it is
    answered 400 and logged in one line, with no traceback and no secret."""
    token = "ab" * 25
    with LiveServer(base_env(str(tmp_path / "bad.db"))) as server:
        base = await asyncio.to_thread(server.wait_ready)
        long_line = f"GET /waInstance1/qr/{token}{'a' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        broken_header = f"GET /link/{token} HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n".encode()
        bad_byte = f"GET /waInstance1/qr/{token}".encode() + b"\xff HTTP/1.1\r\nHost: x\r\n\r\n"
        for request in (long_line, broken_header, bad_byte):
            answer = await asyncio.to_thread(_raw, base, request)
            assert answer.split(b" ")[1] == b"400", answer[:40]
        assert await asyncio.to_thread(server.stop) == 0
    output = server.output()
    assert "Traceback" not in output, output[-2000:]
    assert token not in output
    assert sum("Error handling request" in line for line in server.stderr) == 3, server.stderr
    # one line each: every stderr line is a log line of its own
    assert all(line.startswith("20") for line in server.stderr if line.strip()), server.stderr


async def test_text_access_lines_carry_the_request_id(tmp_path: Path) -> None:
    """In the default text format each access line ends with the request id, and paths are masked."""
    token = "cd" * 25
    with LiveServer(base_env(str(tmp_path / "text.db"))) as server:
        base = await asyncio.to_thread(server.wait_ready)
        async with aiohttp.ClientSession() as http:
            resp = await http.get(f"{base}/healthz", headers={"X-Request-Id": "text-1"})
            assert resp.headers["X-Request-Id"] == "text-1"
            assert (await http.get(f"{base}/waInstance1/getStateInstance/{token}")).status == 401
        assert await asyncio.to_thread(server.stop) == 0
    lines = [line for line in server.stderr if "aiohttp.access" in line]
    assert any('"GET /healthz" 200' in line and line.endswith(" text-1") for line in lines), lines
    assert any('"GET /waInstance1/getStateInstance/***" 401' in line for line in lines), lines
    assert token not in server.output()

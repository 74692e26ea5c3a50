"""Security choices over HTTP: headers on everything, strict pages, no cookies, no open redirects."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.cardkit import create_card
from tests.conftest import ADMIN_KEY, SDK_KEY
from tests.instancekit import api, new_instance, qr_link

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SDK = {"X-SDK-Key": SDK_KEY}


async def _every_kind_of_response(client: TestClient) -> list[tuple[str, object]]:
    card = await create_card(client, name="Ada")
    media = (await (await client.post(f"/v1/public/card/{card['uuid']}/qr-code")).json())["url"]
    verification = await (await client.post("/api/generate-verification", headers=SDK, json={})).json()
    instance = await new_instance(client)
    link = await qr_link(client, instance)
    return [
        ("/healthz", await client.get("/healthz")),
        ("/metrics", await client.get("/metrics")),
        ("/openapi.json", await client.get("/openapi.json")),
        ("/pair", await client.get("/pair")),
        ("/link", await client.get("/link")),
        ("/link/<code>", await client.get(link)),
        ("/verify", await client.get(f"/verify?verification_id={verification['verificationId']}")),
        ("/c/<uuid>", await client.get(f"/c/{card['uuid']}")),
        ("vcard", await client.get(f"/v1/public/card/{card['uuid']}/vcard")),
        ("media", await client.get(media.removeprefix("http://qr.test"))),
        ("/static/pair.js", await client.get("/static/pair.js")),
        ("/static/missing.js", await client.get("/static/missing.js")),
        ("/q/<code> 302", await client.get("/q/nothing", allow_redirects=False)),
        ("404", await client.get("/no/such/path")),
        ("405", await client.delete("/healthz")),
        ("401", await client.get(api(instance, "getStateInstance").replace(instance[1], "0" * 50))),
        (
            "qr png",
            await client.get(f"/api/get-verification-qrcode/{verification['verificationId']}", headers=SDK),
        ),
    ]


async def test_nosniff_and_no_cookies_on_every_response(client: TestClient) -> None:
    """Every response, files and errors included, has nosniff and no-referrer and sets no cookie."""
    for name, resp in await _every_kind_of_response(client):
        assert resp.headers.get("X-Content-Type-Options") == "nosniff", name  # type: ignore[attr-defined]
        assert resp.headers.get("Referrer-Policy") == "no-referrer", name  # type: ignore[attr-defined]
        assert "Set-Cookie" not in resp.headers, name  # type: ignore[attr-defined]


async def test_websocket_upgrades_carry_the_headers_too(client: TestClient) -> None:
    """The 101 of a websocket upgrade has nosniff like every other response."""
    instance = await new_instance(client)
    ws = await client.ws_connect(api(instance, "scanqrcode"))
    assert ws._response.headers["X-Content-Type-Options"] == "nosniff"
    await ws.close()


async def test_html_pages_have_the_strict_policy(client: TestClient) -> None:
    """Every HTML page is uncached, unframeable and under a CSP with no inline script and no other origin."""
    for name, resp in await _every_kind_of_response(client):
        if resp.content_type != "text/html":  # type: ignore[attr-defined]
            continue
        csp = resp.headers["Content-Security-Policy"]  # type: ignore[attr-defined]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, name
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, name
        assert resp.headers["Cache-Control"] == "no-store", name  # type: ignore[attr-defined]


async def test_no_redirect_beyond_http(client: TestClient) -> None:
    """Card targets and return_url take only absolute http(s) URLs; unparseable ones are 400, never 500."""
    card = await create_card(client, name="Ada")
    target = f"/admin/cards/{card['uuid']}/target"
    for url in (
        "javascript:alert(1)",
        "data:text/html,x",
        "//evil.example",
        "/relative",
        "http://[",
        "ftp://x",
    ):
        resp = await client.put(target, headers=ADMIN, json={"url": url})
        assert resp.status == 400, url
        resp = await client.post("/api/generate-verification", headers=SDK, json={"return_url": url})
        assert resp.status == 400, url
        assert (await resp.json())["field"] == "return_url"
    resp = await client.put(target, headers=ADMIN, json={"url": "https://example.org/next"})
    assert resp.status == 200


async def test_pairing_page_takes_credentials_from_the_fragment(client: TestClient) -> None:
    """/pair never needs the token in its query: the page reads it from the URL fragment."""
    html = await (await client.get("/pair")).text()
    script = await (await client.get("/static/pair.js")).text()
    assert "pair.js" in html
    assert "location.hash" in script


async def test_pages_under_static_keep_the_page_headers(client: TestClient) -> None:
    """/static/<page>.html is the same page as /pair, /link or /verify: it is as uncached, unframeable
    and strictly policed as the page's own route (else a framing site could load it there)."""
    pair = await client.get("/pair")
    for name in ("pair.html", "link.html", "verify.html"):
        resp = await client.get(f"/static/{name}")
        assert resp.status == 200, name
        for header in ("Content-Security-Policy", "X-Frame-Options", "Cache-Control"):
            assert resp.headers.get(header) == pair.headers[header], (name, header)


async def test_assets_are_revalidated(client: TestClient) -> None:
    """Scripts and styles have unversioned names: they are revalidated (ETag) on every use, so a new
    release never runs an old script under a new page."""
    for name in ("pair.js", "link.js", "verify.js", "style.css"):
        resp = await client.get(f"/static/{name}")
        assert resp.status == 200, name
        assert resp.headers["Cache-Control"] == "no-cache", name
        again = await client.get(f"/static/{name}", headers={"If-None-Match": resp.headers["ETag"]})
        assert again.status == 304, name

"""`GET /openapi.json` stays true: every route documented, every documented path routed, and a
schemathesis run against a real server finds no 5xx and nothing the document does not say."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from qrstream.web.openapi_doc import build
from tests.liveserver import ADMIN_KEY, SDK_KEY, LiveServer, base_env

EXAMPLES_PER_OPERATION = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
METHODS = ("get", "post", "put", "patch", "delete")


def _shape(path: str) -> str:
    """A path with its parameters' names blanked: /waInstance{}/qr/{}."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def _routes(app: web.Application) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        resource = route.resource
        assert resource is not None
        found.add((route.method, _shape(resource.canonical)))
    return found


def _documented() -> Iterator[tuple[str, str, dict]]:  # type: ignore[type-arg]
    for path, item in build("http://qr.test")["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


async def test_document_is_served_and_valid(client: TestClient) -> None:
    """GET /openapi.json is OpenAPI 3.1 with the public URL as its server, and loads in schemathesis."""
    resp = await client.get("/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    document = await resp.json()
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "http://qr.test"}]
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(list(_documented()))


async def test_every_route_is_documented_and_every_path_routed(client: TestClient) -> None:
    """The app's router and the document name the same (method, path) pairs."""
    routed = _routes(client.app)
    documented = {(method, _shape(path)) for method, path, _ in _documented()}
    assert routed - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routed == set(), "documented paths with no route"


def test_every_operation_says_its_errors() -> None:
    """Each operation has a summary, a success response and, when it takes a body, 400 and 413."""
    for method, path, operation in _documented():
        assert operation.get("summary"), (method, path)
        codes = set(operation["responses"])
        missing_id = path.startswith("/api/get-verification-") and "{" not in path  # 400 is its answer
        assert missing_id or any(code.startswith(("1", "2", "3")) for code in codes), (method, path)
        if "requestBody" in operation:
            assert {"400", "413"} <= codes, (method, path)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real server for the fuzz run; limits off so that guessing is answered, not throttled."""
    db = str(Path(tmp_path_factory.mktemp("fuzz")) / "fuzz.db")
    env = {
        **base_env(db),
        "QRSTREAM_RATE_AUTH_FAILURES": "0",
        "QRSTREAM_RATE_LINK_FAILURES": "0",
        "QRSTREAM_RATE_SIGNATURE_FAILURES": "0",
    }
    with LiveServer(env) as server:
        url = server.wait_ready()
        yield url
        assert server.stop() == 0, server.output()
        assert "Traceback" not in server.output(), server.output()


def _negatable(path: str, method: str) -> bool:
    """Whether an invalid request can be made at all: a body, or a parameter narrower than any string."""
    item = build("http://qr.test")["paths"][path]
    operation = item[method.lower()]
    parameters = item.get("parameters", []) + operation.get("parameters", [])
    return "requestBody" in operation or any(p["schema"] != {"type": "string"} for p in parameters)


FUZZED = [
    pytest.param(method, path, id=f"{method} {path}")
    for method, path, operation in _documented()
    if not operation.get("x-websocket")  # an upgrade's conformance cannot be stated in OpenAPI
]


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("method", "path"), FUZZED)
def test_fuzzed_requests_conform(live: str, method: str, path: str) -> None:
    """Generated valid and invalid requests never get a 5xx and always get what the document says."""
    schema = schemathesis.openapi.from_dict(build(live))
    operation = schema[path][method]
    session = requests.Session()
    headers = {"Authorization": f"Bearer {ADMIN_KEY}", "X-SDK-Key": SDK_KEY}

    modes = [schemathesis.GenerationMode.POSITIVE]
    if _negatable(path, method):
        modes.append(schemathesis.GenerationMode.NEGATIVE)
    for mode in modes:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            if case.headers is None or "Authorization" not in case.headers:
                case.headers = {**headers, **(case.headers or {})}
            response = case.call(base_url=live, session=session, allow_redirects=False, timeout=30)
            case.validate_response(response, checks=CHECKS)

        run()

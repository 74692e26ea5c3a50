"""The OpenAPI 3.1 document of every HTTP endpoint, built from Python (served at /openapi.json).

A test walks the app's router and fails when a route is missing here or a path
here has no route, so the document stays true as the server grows.
"""

from __future__ import annotations

from qrstream.apidoc import (
    ADMIN,
    ERROR,
    INT,
    MESSAGE,
    RETRY_AFTER,
    SCHEMAS,
    SECURITY_SCHEMES,
    STR,
    Json,
    errors,
    json_ok,
    obj,
    path_param,
    query_param,
    typed_ok,
)
from qrstream.cards import openapi as cards
from qrstream.console import openapi as console
from qrstream.instances import openapi as instances
from qrstream.verifications import openapi as verifications
from qrstream.web.http import dumps

VERSION = "0.1.0"


def _core_paths() -> dict[str, Json]:
    failed = obj(
        {"failed": {"type": "array", "items": obj({"receiptId": INT, "url": STR, "attempts": INT})}},
    )
    return {
        "/healthz": {
            "get": {
                "tags": ["operations"],
                "summary": "Liveness",
                "responses": {"200": json_ok("Up.", obj({"status": STR}))},
            }
        },
        "/readyz": {
            "get": {
                "tags": ["operations"],
                "summary": "Readiness: the store and the bus each answer a ping within 1 s",
                "responses": {
                    "200": json_ok("Ready.", obj({"status": {"const": "ready"}, "store": STR, "bus": STR})),
                    "503": {
                        **json_ok(
                            "Not ready: `store` or `bus` says why (the other says `ok` if it is).",
                            obj({"status": {"const": "unavailable"}, "store": STR, "bus": STR}),
                        ),
                        "headers": RETRY_AFTER,
                    },
                },
            }
        },
        "/metrics": {
            "get": {
                "tags": ["operations"],
                "summary": "Prometheus metrics",
                "responses": {"200": typed_ok("Prometheus text format 0.0.4.", "text/plain")},
            }
        },
        "/openapi.json": {
            "get": {
                "tags": ["operations"],
                "summary": "This document",
                "responses": {"200": json_ok("OpenAPI 3.1.", {"type": "object"})},
            }
        },
        "/admin/webhooks/failed": {
            "get": {
                "tags": ["admin"],
                "summary": "Webhook deliveries given up on, most recent first",
                "security": ADMIN,
                "parameters": [
                    query_param("limit", "How many, 1 to 1000 (default 100).", {"type": "integer"})
                ],
                "responses": {
                    "200": json_ok("The failed deliveries.", failed),
                    **errors(ERROR, 400, 401, 429),
                },
            }
        },
        "/pair": {
            "get": {
                "tags": ["pages"],
                "summary": "The browser pairing page (credentials stay in the URL fragment)",
                "responses": {"200": typed_ok("The page.", "text/html")},
            }
        },
        "/static/{filename}": {
            "parameters": [path_param("filename", "A script, style or image of the pages.")],
            "get": {
                "tags": ["pages"],
                "summary": "Page assets",
                "responses": {
                    "200": {"description": "The file.", "content": {"*/*": {"schema": STR}}},
                    **errors(ERROR, 404),
                },
            },
        },
    }


NO_STORE = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json", "/pair", "/static/{filename}"})
"""Paths answered without the store; every other operation may answer 503 while it is down."""


def _with_store_errors(paths: dict[str, Json]) -> dict[str, Json]:
    """Add the 503 of a store outage to each operation that needs the store, in its family's shape
    (the shape its other errors have)."""
    for path, item in paths.items():
        if path in NO_STORE:
            continue
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            family = MESSAGE if '"Message"' in dumps(responses) else ERROR
            responses.setdefault("503", errors(family, 503)["503"])
    return paths


def build(base_url: str) -> Json:
    """The whole document, with `base_url` as its one server."""
    paths: dict[str, Json] = {}
    for part in (
        _core_paths(),
        cards.admin_paths(),
        instances.admin_paths(),
        cards.public_paths(),
        verifications.paths(),
        instances.green_paths(),
        instances.link_paths(),
        console.paths(),
    ):
        paths.update(part)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "qrstream",
            "version": VERSION,
            "description": "Makes, serves and streams QR codes: instance pairing (after the Green API `qr` "
            "method), digital cards (after Becard) and verification handoff (after OKID).",
        },
        "servers": [{"url": base_url}],
        "paths": _with_store_errors(paths),
        "components": {
            "schemas": {**SCHEMAS, **cards.SCHEMAS, **instances.SCHEMAS, **verifications.SCHEMAS},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }

"""Paths of the console: its page, event-stream tickets and the admin event stream (CONTRACT §7)."""

from __future__ import annotations

from qrstream.apidoc import ADMIN, ERROR, STR, Json, json_ok, obj, operation, query_param, typed_ok


def paths() -> dict[str, Json]:
    ticket = obj({"ticket": STR, "expiresIn": {"const": 30}})
    return {
        "/admin/events/ticket": {
            "post": operation(
                "admin",
                "A one-use ticket for the event stream, good for 30 s (browsers cannot set its headers)",
                {"201": json_ok("The ticket.", ticket)},
                ERROR,
                401,
                429,
                security=ADMIN,
            ),
        },
        "/admin/events": {
            "get": operation(
                "admin",
                "Websocket: instance, verification, scan and webhookFailed events of every process, live",
                {"101": {"description": "Switching to the websocket protocol."}},
                ERROR,
                400,
                401,
                429,
                extra={
                    "parameters": [query_param("ticket", "A ticket from POST /admin/events/ticket.")],
                    "x-websocket": True,
                },
            ),
        },
        "/console": {
            "get": {
                "tags": ["pages"],
                "summary": "The operator console",
                "responses": {"200": typed_ok("The page.", "text/html")},
            }
        },
    }

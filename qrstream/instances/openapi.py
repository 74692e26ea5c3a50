"""Paths of the instance API (after the Green API), its admin side, the phone's `/link` and
the pairing links' `/p/`."""

from __future__ import annotations

from qrstream.apidoc import (
    ADMIN,
    BOOL,
    ERROR,
    INT,
    STR,
    Json,
    empty,
    errors,
    json_body,
    json_ok,
    obj,
    operation,
    page_of,
    page_params,
    path_param,
    query_param,
    ref,
    typed_ok,
)
from qrstream.instances import pairing_links, settings

FLAG: Json = {"type": "string", "enum": ["yes", "no"]}
DELAY: Json = {"type": "integer", "minimum": settings.DELAY_MIN, "maximum": settings.DELAY_MAX}
TOKEN_VALUE: Json = {
    "type": "string",
    "maxLength": settings.TOKEN_MAX,
    "pattern": "^[ -~]*$",
    "description": "Sent as `Authorization: Bearer <token>` on every webhook POST of the instance, or as"
    " it is when it starts with a scheme and a space (`Basic …`). Never logged.",
}
_STORED: dict[str, Json] = {**dict.fromkeys(settings.FLAGS, FLAG), settings.DELAY: DELAY}
WEBHOOK_URL = (
    "An absolute http(s) URL ('' for none). A host that is a literal loopback, private, link-local,"
    " shared (100.64/10), multicast or unspecified address is refused with 400 unless"
    " QRSTREAM_WEBHOOK_ALLOW_PRIVATE=1; a name is accepted, and a delivery to a name resolving to such"
    " an address fails at once ('destination not allowed' in /admin/webhooks/failed)."
)

SETTINGS_INPUT = obj(
    {},
    {
        "webhookUrl": {"type": ["string", "null"], "description": WEBHOOK_URL},
        "webhookUrlToken": {**TOKEN_VALUE, "type": ["string", "null"]},
        "stateWebhook": {**FLAG, "description": "`no`: no stateInstanceChanged notifications."},
        **_STORED,
    },
    minProperties=1,
    description="Any subset of Green API's settings, at least one key; unknown keys are ignored, a"
    " known key with a wrong type or value is refused (400 naming it) and nothing is saved.",
)
SETTINGS = obj(
    {
        "wid": STR,
        "webhookUrl": STR,
        "webhookUrlToken": TOKEN_VALUE,
        "stateWebhook": {**FLAG, "description": "Default `yes`."},
        **_STORED,
    },
    description="Every known setting, as Green API answers: one never set shows its default (`no` for"
    f" the yes/no ones, `yes` for stateWebhook, {settings.DELAY_DEFAULT} for the delay).",
)

SCHEMAS: dict[str, Json] = {
    "Instance": obj(
        {
            "idInstance": INT,
            "stateInstance": {"type": "string", "enum": ["notAuthorized", "authorized", "starting"]},
            "wid": STR,
            "webhookUrl": STR,
            "stateWebhook": {"type": "string", "enum": ["yes", "no"]},
        },
        {"createdAt": {"type": "string", "format": "date-time"}},
    ),
    "Notification": {
        "oneOf": [
            {"type": "null"},
            obj({"receiptId": INT, "body": {"type": "object"}}),
        ]
    },
    "QrMessage": obj(
        {
            "type": {"type": "string", "enum": ["qrCode", "alreadyLogged", "error"]},
            "message": STR,
        }
    ),
    "Linked": obj({"linked": {"const": True}, "wid": STR}),
    "Phone": {
        "oneOf": [{"type": "string", "minLength": 1, "maxLength": 40}, {"type": "integer", "minimum": 0}],
        "description": "7 to 15 digits (spaces, dashes, dots, brackets and a leading + are ignored).",
    },
}

ID = path_param("id", "The instance's `idInstance`.")
TOKEN = path_param("token", "The instance's `apiTokenInstance`.")


def _green(
    method: str, verb: str, summary: str, ok: dict[str, Json], *statuses: int, **extra: object
) -> Json:
    op = operation("instances", summary, ok, ERROR, 401, 404, 429, *statuses, extra=extra)
    return {f"/waInstance{{id}}/{method}/{{token}}": {"parameters": [ID, TOKEN], verb: op}}


def green_paths() -> dict[str, Json]:
    paths: dict[str, Json] = {}
    frame_format = query_param(
        "format",
        "`png` (default): `message` is a base64 PNG; `svg`: the SVG document; `raw`: the pairing link"
        " itself, for clients that draw their own QR.",
        {"type": "string", "enum": ["png", "svg", "raw"]},
    )
    paths.update(
        _green(
            "qr",
            "get",
            "The current pairing QR",
            {"200": json_ok("A QR or why not.", ref("QrMessage"))},
            400,
            parameters=[frame_format],
        )
    )
    paths.update(
        _green(
            "scanqrcode",
            "get",
            "Websocket: the live pairing QR, then accountData, timeoutExpired or alreadyLogged; closes 1000",
            {"101": {"description": "Switching to the websocket protocol."}},
            400,
            parameters=[frame_format],
            **{"x-websocket": True},
        )
    )
    state = obj({"stateInstance": {"type": "string", "enum": ["notAuthorized", "authorized", "starting"]}})
    paths.update(_green("getStateInstance", "get", "The instance's state", {"200": json_ok("State.", state)}))
    paths.update(_green("logout", "get", "Log out", {"200": json_ok("Done.", obj({"isLogout": BOOL}))}))
    paths.update(_green("reboot", "get", "Reboot", {"200": json_ok("Done.", obj({"isReboot": BOOL}))}))
    paths.update(
        _green(
            "receiveNotification",
            "get",
            "The oldest unacknowledged notification, waiting up to receiveTimeout seconds; null when none",
            {"200": json_ok("A notification or null.", ref("Notification"))},
            400,
            parameters=[
                query_param(
                    "receiveTimeout",
                    "Seconds to wait, 5 to 60 (default 5).",
                    {"type": "integer", "minimum": 5, "maximum": 60},
                )
            ],
        )
    )
    paths["/waInstance{id}/deleteNotification/{token}/{receiptId}"] = {
        "parameters": [ID, TOKEN, path_param("receiptId", "The notification's receiptId.", INT)],
        "delete": {
            "tags": ["instances"],
            "summary": "Acknowledge a notification",
            "responses": {
                "200": json_ok("`false` when there was none.", obj({"result": BOOL})),
                **errors(ERROR, 400, 401, 404, 429),
            },
        },
    }
    paths.update(
        _green(
            "setSettings",
            "post",
            "Set some of the instance's settings (webhook URL and token, stateWebhook, …)",
            {"200": json_ok("Saved.", obj({"saveSettings": BOOL}))},
            400,
            413,
            requestBody=json_body(SETTINGS_INPUT),
        )
    )
    paths.update(_green("getSettings", "get", "The settings", {"200": json_ok("Settings.", SETTINGS)}))
    paths.update(
        _green(
            "getAuthorizationCode",
            "post",
            "A pairing code XXXX-XXXX to enter on /link with this phone number",
            {
                "200": json_ok(
                    "The code (`status: false, code: ''` when authorized).",
                    obj({"status": BOOL, "code": STR}),
                )
            },
            400,
            413,
            requestBody=json_body(obj({"phoneNumber": ref("Phone")})),
        )
    )
    ttl: Json = {"type": "integer", "minimum": pairing_links.TTL_MIN, "maximum": pairing_links.TTL_MAX}
    paths.update(
        _green(
            "createPairingLink",
            "post",
            "A watch-only pairing link: its page and stream, nothing else of the instance",
            {
                "200": json_ok(
                    "The link (`<public-url>/p/<ticket>`), dead at `expiresAt` or at authorization,"
                    " logout or deletion, whichever comes first.",
                    obj({"url": STR, "expiresAt": {"type": "string", "format": "date-time"}}),
                )
            },
            400,
            413,
            requestBody=json_body(
                obj({}, {"ttlSeconds": {**ttl, "description": f"Default {pairing_links.TTL_DEFAULT}."}}),
                required=False,
            ),
        )
    )
    return paths


CREDENTIALS = obj({"idInstance": INT, "apiTokenInstance": {"type": "string", "pattern": "^[0-9a-f]{50}$"}})


def admin_paths() -> dict[str, Json]:
    admin_id = path_param("id", "The instance's `idInstance`.")
    unauthorized = errors(ERROR, 401, 429)
    return {
        "/admin/instances": {
            "get": {
                "tags": ["admin"],
                "summary": "Every instance, newest first, a page at a time",
                "security": ADMIN,
                "parameters": page_params(),
                "responses": {
                    "200": json_ok("A page of instances (with createdAt).", page_of(ref("Instance"))),
                    **unauthorized,
                    **errors(ERROR, 400),
                },
            },
            "post": {
                "tags": ["admin"],
                "summary": "Create an instance",
                "security": ADMIN,
                "requestBody": json_body(
                    obj({}, {"webhookUrl": {"type": "string", "format": "uri", "description": WEBHOOK_URL}}),
                    required=False,
                ),
                "responses": {
                    "201": json_ok("Its credentials.", CREDENTIALS),
                    **unauthorized,
                    **errors(ERROR, 400, 413),
                },
            },
        },
        "/admin/instances/{id}": {
            "parameters": [admin_id],
            "get": {
                "tags": ["admin"],
                "summary": "Read an instance",
                "security": ADMIN,
                "responses": {
                    "200": json_ok("The instance.", ref("Instance")),
                    **unauthorized,
                    **errors(ERROR, 404),
                },
            },
            "delete": {
                "tags": ["admin"],
                "summary": "Delete an instance",
                "security": ADMIN,
                "responses": {"204": empty("Deleted."), **unauthorized, **errors(ERROR, 404)},
            },
        },
        "/admin/instances/{id}/credentials": {
            "parameters": [admin_id],
            "get": {
                "tags": ["admin"],
                "summary": "An instance's credentials, as its creation gave them (for the console)",
                "security": ADMIN,
                "responses": {
                    "200": json_ok("Its credentials.", CREDENTIALS),
                    **unauthorized,
                    **errors(ERROR, 404),
                },
            },
        },
    }


def link_paths() -> dict[str, Json]:
    page = {"200": typed_ok("The phone's page.", "text/html")}
    linked = {"200": json_ok("The instance is authorized.", ref("Linked"))}
    failures = errors(ERROR, 400, 410, 413, 429)
    code = path_param("code", "The code from the pairing QR.")
    ticket = path_param("ticket", "The ticket of a pairing link (from createPairingLink).")
    return {
        "/link": {
            "get": {"tags": ["pairing"], "summary": "The page to enter a pairing code", "responses": page},
            "post": {
                "tags": ["pairing"],
                "summary": "Redeem a pairing code from getAuthorizationCode with its phone",
                "requestBody": json_body(obj({"code": STR, "phone": ref("Phone")})),
                "responses": {**linked, **failures},
            },
        },
        "/p/{ticket}": {
            "parameters": [ticket],
            "get": {
                "tags": ["pairing"],
                "summary": "A pairing link's page: the pairing page, watching only",
                "responses": {
                    "200": typed_ok("The pairing page.", "text/html"),
                    "410": typed_ok('The page saying "This pairing link has expired".', "text/html"),
                    **errors(ERROR, 429),
                },
            },
        },
        "/p/{ticket}/scanqrcode": {
            "parameters": [ticket],
            "get": {
                "tags": ["pairing"],
                "summary": "Websocket: the instance's scanqrcode stream, until the link dies",
                "responses": {
                    "101": {"description": "Switching to the websocket protocol."},
                    **errors(ERROR, 410, 429),
                },
                "x-websocket": True,
            },
        },
        "/link/{code}": {
            "parameters": [code],
            "get": {"tags": ["pairing"], "summary": "The page a pairing QR leads to", "responses": page},
            "post": {
                "tags": ["pairing"],
                "summary": "Redeem the QR's code with a phone number",
                "requestBody": json_body(obj({"phone": ref("Phone")})),
                "responses": {**linked, **failures, **errors(ERROR, 404)},
            },
        },
    }

"""Paths of the admin card API and the public card API (Laravel-style `{"message"}` errors)."""

from __future__ import annotations

from qrstream.apidoc import (
    ADMIN,
    ERROR,
    INT,
    MESSAGE,
    OPT_STR,
    STR,
    Json,
    empty,
    json_body,
    json_ok,
    obj,
    operation,
    page_of,
    page_params,
    path_param,
    qr_image_ok,
    qr_parameters,
    query_param,
    ref,
    typed_ok,
)
from qrstream.cards.fields import MAX_LENGTHS
from qrstream.cards.visitors import DEVICES
from qrstream.qr.options import LEVELS, MARGIN_MAX

CARD_FIELDS = {
    "title": OPT_STR,
    "company": OPT_STR,
    "email": OPT_STR,
    "phone": OPT_STR,
    "website": OPT_STR,
    "note": OPT_STR,
}

DESIGN_PROPERTIES: dict[str, Json] = {
    "dark": {"type": "string", "pattern": "^[0-9a-fA-F]{6}$"},
    "light": {"type": "string", "pattern": "^([0-9a-fA-F]{6}|transparent)$"},
    "margin": {"type": "integer", "minimum": 0, "maximum": MARGIN_MAX},
    "ecc": {"type": "string", "enum": [*LEVELS, *(level.lower() for level in LEVELS)]},
}

SCHEMAS: dict[str, Json] = {
    "Card": obj(
        {"uuid": {"type": "string", "format": "uuid"}, "name": STR, "publicUrl": STR},
        {**CARD_FIELDS, "target": OPT_STR, "design": ref("Design")},
    ),
    "Design": obj(
        dict(DESIGN_PROPERTIES),
        description="How the card's image URL draws its QR (§8); the default is 000000 on ffffff, 2, M.",
    ),
    "DesignInput": obj(
        {},
        {k: {**v, "type": [v["type"], "null"]} for k, v in DESIGN_PROPERTIES.items()},
        additionalProperties=False,
        description="Each field optional (missing or null: its default); the colours pass the scan guard.",
    ),
    "CardInput": obj(
        {"name": {"type": "string", "minLength": 1, "maxLength": MAX_LENGTHS["name"]}},
        {k: {"type": ["string", "null"], "maxLength": MAX_LENGTHS[k]} for k in CARD_FIELDS},
        additionalProperties=False,
    ),
    "CardPatch": obj(
        {},
        {k: {"type": ["string", "null"], "maxLength": n} for k, n in MAX_LENGTHS.items()},
        additionalProperties=False,
    ),
    "PublicCard": obj(
        {"uuid": STR, "name": STR},
        {
            "organisation": OPT_STR,
            "position": OPT_STR,
            "description": OPT_STR,
            "email": OPT_STR,
            "phone": OPT_STR,
            "website": OPT_STR,
            "publicUrl": STR,
        },
    ),
}

_COUNTS: Json = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}}
SCHEMAS["CardStats"] = obj(
    {
        "scans": INT,
        "uniqueVisitors": INT,
        "daily": {**_COUNTS, "propertyNames": {"type": "string", "format": "date"}},
        "devices": {**_COUNTS, "propertyNames": {"enum": list(DEVICES)}},
        "os": _COUNTS,
        "browsers": _COUNTS,
        "referrers": _COUNTS,
        "bots": _COUNTS,
    }
)

UUID = path_param("uuid", "The card's UUID (lowercase UUID4).")


DAY: Json = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
DAYS = [
    query_param("from", "First UTC day (YYYY-MM-DD), included; default: the first scan.", DAY),
    query_param("to", "Last UTC day (YYYY-MM-DD), included, not before `from`; default: today.", DAY),
]


def _admin(
    summary: str,
    ok: dict[str, Json],
    *statuses: int,
    body: Json | None = None,
    extra: dict[str, object] | None = None,
) -> Json:
    extra = {**(extra or {}), **({} if body is None else {"requestBody": body})}
    return operation("admin", summary, ok, ERROR, 401, 429, *statuses, security=ADMIN, extra=extra)


def admin_paths() -> dict[str, Json]:
    card = {"200": json_ok("The card.", ref("Card"))}
    return {
        "/admin/cards": {
            "get": _admin(
                "The cards (whose name contains `q`, ignoring case), newest first, with their scan counts",
                {"200": json_ok("A page of cards.", page_of({"allOf": [ref("Card"), obj({"scans": INT})]}))},
                400,
                extra={
                    "parameters": [
                        *page_params(),
                        query_param("q", "Keep the cards whose name contains this text, ignoring case."),
                    ]
                },
            ),
            "post": _admin(
                "Create a card",
                {"201": json_ok("The new card.", ref("Card"))},
                400,
                413,
                body=json_body(ref("CardInput")),
            ),
        },
        "/admin/cards/{uuid}": {
            "parameters": [UUID],
            "get": _admin("Read a card", card, 404),
            "patch": _admin(
                "Change some fields of a card", card, 400, 404, 413, body=json_body(ref("CardPatch"))
            ),
            "delete": _admin("Delete a card", {"204": empty("Deleted.")}, 404),
        },
        "/admin/cards/{uuid}/target": {
            "parameters": [UUID],
            "put": _admin(
                "Point the card's dynamic link somewhere (null: back to the card page)",
                card,
                400,
                404,
                413,
                body=json_body(
                    obj({"url": {"type": ["string", "null"], "format": "uri"}}, additionalProperties=False)
                ),
            ),
        },
        "/admin/cards/{uuid}/design": {
            "parameters": [UUID],
            "get": _admin(
                "The design of the card's QR image", {"200": json_ok("The design.", ref("Design"))}, 404
            ),
            "put": _admin(
                "Set the design of the card's QR image: the next `POST …/qr-code` names a new URL drawn"
                " in it; URLs given out keep their look",
                {"200": json_ok("The design now.", ref("Design"))},
                400,
                404,
                413,
                body=json_body(ref("DesignInput"), required=False),
            ),
        },
        "/admin/cards/{uuid}/stats": {
            "parameters": [UUID],
            "get": _admin(
                "Scan statistics of the card's dynamic link over a range of UTC days",
                {
                    "200": json_ok(
                        "Scans, unique visitors, per day and broken down; bots apart.", ref("CardStats")
                    )
                },
                400,
                404,
                extra={"parameters": DAYS},
            ),
        },
        "/admin/cards/{uuid}/scans.csv": {
            "parameters": [UUID],
            "get": _admin(
                "The card's scans as CSV, one row per scan (no visitor key)",
                {"200": typed_ok("Header `time,device,os,browser,referrer`, then a row a scan.", "text/csv")},
                400,
                404,
                extra={"parameters": DAYS},
            ),
        },
    }


def _public(summary: str, ok: dict[str, Json], *statuses: int, **extra: object) -> Json:
    return operation("cards", summary, ok, MESSAGE, 404, *statuses, extra=extra)


def public_paths() -> dict[str, Json]:
    base = "/v1/public/card/{uuid}"
    offline_query = [
        query_param("expires", "Unix seconds when the signature stops being valid.", required=False),
        query_param("signature", "64 lowercase hex: HMAC-SHA256 of the URL up to `expires`.", required=False),
    ]
    return {
        f"{base}/prefetch": {
            "parameters": [UUID],
            "get": _public("The public card", {"200": json_ok("The card.", ref("PublicCard"))}),
        },
        f"{base}/vcard": {
            "parameters": [UUID],
            "get": _public("The card as a vCard 3.0 download", {"200": typed_ok("The vCard.", "text/vcard")}),
        },
        f"{base}/qr-code": {
            "parameters": [UUID],
            "post": _public(
                "The URL of the card's QR image (the same while the card is unchanged)",
                {"200": json_ok("Where the PNG is.", obj({"url": STR}))},
            ),
        },
        f"{base}/qr-code/offline": {
            "parameters": [UUID],
            "post": _public(
                "Sign an offline QR request",
                {"200": typed_ok("`expires=<unix seconds>&signature=<64 hex>`.", "text/plain")},
            ),
            "get": _public(
                "The offline QR: a PNG (or SVG) data URI holding the vCard itself; `format=txt` answers"
                " the terminal text itself",
                {
                    "200": typed_ok(
                        "`data:image/png;base64,…`, `data:image/svg+xml;base64,…` or half-block text.",
                        "text/plain",
                    )
                },
                400,
                403,
                429,
                parameters=offline_query + qr_parameters("400, or 800 for a long vCard"),
            ),
        },
        "/c/{uuid}": {
            "parameters": [UUID],
            "get": _public("The card's HTML page", {"200": typed_ok("The page.", "text/html")}),
        },
        "/media/card_qrcodes/{name}": {
            "parameters": [path_param("name", "`<n>-<hash>.png`, from `POST …/qr-code`.")],
            "get": _public(
                "The card's QR image (immutable), in the design it was named with unless the query"
                " says otherwise",
                {
                    **qr_image_ok("A QR of the card's dynamic link (a PNG by default)."),
                    "304": empty("Not modified (If-None-Match matched the ETag)."),
                },
                400,
                parameters=qr_parameters(),
            ),
        },
        "/q/{code}": {
            "parameters": [path_param("code", "The dynamic link's code.")],
            "get": _public(
                "Follow the card's dynamic link (a GET counts one scan; HEAD and bots do not)",
                {"302": {"description": "To the card's target.", "headers": {"Location": {"schema": STR}}}},
            ),
        },
    }

"""Building blocks of the OpenAPI document: shared schemas, responses and parameters.

Each API family keeps its error shape: the Laravel-style card API answers
`{"message": …}`, every other family `{"error": …}` (see `web.middleware`).
"""

from __future__ import annotations

from typing import Any

from qrstream.qr.options import FORMATS, LEVELS, MARGIN_MAX, SIZE_MAX, SIZE_MIN

Json = dict[str, Any]

STR = {"type": "string"}
OPT_STR = {"type": ["string", "null"]}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}

MESSAGE = "message"
ERROR = "error"


def ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: dict[str, Json], optional: dict[str, Json] | None = None, **extra: Any) -> Json:
    """An object schema with these required and optional properties."""
    schema: Json = {"type": "object", "properties": {**required, **(optional or {})}}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


def json_body(schema: Json, *, required: bool = True) -> Json:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def json_ok(description: str, schema: Json) -> Json:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def typed_ok(description: str, media_type: str, schema: Json | None = None) -> Json:
    return {"description": description, "content": {media_type: {"schema": schema or STR}}}


def empty(description: str) -> Json:
    return {"description": description}


ERROR_TEXT = {
    400: "Bad request: malformed JSON or a bad field (named in `field`).",
    401: "Missing or wrong credentials.",
    403: "Forbidden.",
    404: "Not found (also: a path parameter that cannot name anything, e.g. one holding `/`).",
    409: "Not in the state this move starts from (`current_status` says which it is in).",
    410: "Gone: the code is used, expired or unknown.",
    413: "Request body larger than the configured limit.",
    429: "Too many failed attempts from this address; `Retry-After` says when to try again.",
    500: "Not configured (the verification API with no SDK key set).",
    503: "The store is unreachable for now; `Retry-After` says when to try again.",
}

RETRY_AFTER: Json = {
    "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer", "minimum": 1}}
}


def errors(family: str, *statuses: int) -> dict[str, Json]:
    """Error responses of one family (`message` or `error` shape)."""
    out: dict[str, Json] = {}
    for status in statuses:
        response: Json = {
            "description": ERROR_TEXT[status],
            "content": {"application/json": {"schema": ref("Message" if family == MESSAGE else "Error")}},
        }
        if status in (429, 503):
            response["headers"] = RETRY_AFTER
        out[str(status)] = response
    return out


ADMIN: list[Json] = [{"admin": []}]
SDK: list[Json] = [{"sdkKey": []}]


def operation(
    tag: str,
    summary: str,
    ok: dict[str, Json],
    family: str,
    *statuses: int,
    security: list[Json] | None = None,
    extra: dict[str, object] | None = None,
) -> Json:
    """One operation: its tag, summary, security (if any), success responses and `family` errors."""
    out: Json = {"tags": [tag], "summary": summary}
    if security is not None:
        out["security"] = security
    return {**out, "responses": {**ok, **errors(family, *statuses)}, **(extra or {})}


def path_param(name: str, description: str, schema: Json | None = None) -> Json:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema or STR}


def query_param(name: str, description: str, schema: Json | None = None, *, required: bool = False) -> Json:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema or STR,
    }


def qr_parameters(default_size: str = "400") -> list[Json]:
    """The query parameters of a QR image endpoint (§8); a bad value is a 400 naming it."""
    hex_colour = "^[0-9a-fA-F]{6}$"
    size = f"Pixels a side of the PNG, `width` and `height` of the SVG (default {default_size})."
    light = (
        "Background, RRGGBB or `transparent` (default ffffff). Dark must be darker than light with a"
        " WCAG contrast ratio of at least 3:1 (against white when transparent), else 400."
    )
    return [
        query_param("format", "`png` (default), `svg` (one path) or `txt` (Unicode half blocks).",
                    {"type": "string", "enum": list(FORMATS)}),
        query_param("size", size, {"type": "integer", "minimum": SIZE_MIN, "maximum": SIZE_MAX}),
        query_param("margin", "Quiet zone in modules (default 2).",
                    {"type": "integer", "minimum": 0, "maximum": MARGIN_MAX}),
        query_param("ecc", "Error-correction level, exactly (default M).",
                    {"type": "string", "enum": list(LEVELS)}),
        query_param("dark", "Colour of the dark modules, RRGGBB (default 000000).",
                    {"type": "string", "pattern": hex_colour}),
        query_param("light", light, {"type": "string", "pattern": "^([0-9a-fA-F]{6}|transparent)$"}),
    ]  # fmt: skip


def qr_image_ok(description: str) -> dict[str, Json]:
    """The 200 of a QR image endpoint: a PNG, an SVG or terminal text, as `format` says."""
    binary = {"type": "string", "format": "binary"}
    return {
        "200": {
            "description": description,
            "content": {
                "image/png": {"schema": binary},
                "image/svg+xml": {"schema": STR},
                "text/plain": {"schema": STR},
            },
        }
    }


def page_params() -> list[Json]:
    """`limit` and `after` of the admin lists (CONTRACT §7)."""
    return [
        query_param(
            "limit",
            "Items per page, 1 to 500 (default 100).",
            {"type": "integer", "minimum": 1, "maximum": 500},
        ),
        query_param("after", "The `next` cursor of the previous page."),
    ]


def page_of(schema: Json) -> Json:
    """A page of an admin list: its items, newest first, and the cursor of the next page."""
    return obj({"items": {"type": "array", "items": schema}, "next": {"type": ["string", "null"]}})


SCHEMAS: dict[str, Json] = {
    "Message": obj({"message": STR}),
    "Error": obj(
        {"error": STR},
        {"field": STR, "current_status": STR},
    ),
}
"""The schemas every family shares; each family's `openapi` module adds its own."""

SECURITY_SCHEMES: Json = {
    "admin": {"type": "http", "scheme": "bearer", "description": "The admin key (QRSTREAM_ADMIN_KEY)."},
    "sdkKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-SDK-Key",
        "description": "One of QRSTREAM_SDK_KEYS.",
    },
}

"""Building blocks of the OpenAPI document: shared schemas, responses and parameters.

Each API family keeps its error shape: the Laravel-style card API answers
`{"message": …}`, every other family `{"error": …}` (see `web.middleware`).
"""

from __future__ import annotations

from typing import Any

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
}


def errors(family: str, *statuses: int) -> dict[str, Json]:
    """Error responses of one family (`message` or `error` shape)."""
    out: dict[str, Json] = {}
    for status in statuses:
        response: Json = {
            "description": ERROR_TEXT[status],
            "content": {"application/json": {"schema": ref("Message" if family == MESSAGE else "Error")}},
        }
        if status == 429:
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
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

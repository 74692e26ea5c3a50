"""Building blocks of the OpenAPI document: shared schemas, responses and parameters.

Each API family keeps its error shape: the Laravel-style card API answers
`{"message": …}`, every other family `{"error": …}` (see `web.middleware`).
"""

from __future__ import annotations

from typing import Any

from qrstream.cards.fields import MAX_LENGTHS

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


CARD_FIELDS = {
    "title": OPT_STR,
    "company": OPT_STR,
    "email": OPT_STR,
    "phone": OPT_STR,
    "website": OPT_STR,
    "note": OPT_STR,
}

SCHEMAS: dict[str, Json] = {
    "Message": obj({"message": STR}),
    "Error": obj(
        {"error": STR},
        {"field": STR, "current_status": STR},
    ),
    "Card": obj(
        {"uuid": {"type": "string", "format": "uuid"}, "name": STR, "publicUrl": STR},
        {**CARD_FIELDS, "target": OPT_STR},
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
    "Instance": obj(
        {
            "idInstance": INT,
            "stateInstance": {"type": "string", "enum": ["notAuthorized", "authorized", "starting"]},
            "wid": STR,
            "webhookUrl": STR,
            "stateWebhook": {"type": "string", "enum": ["yes", "no"]},
        }
    ),
    "VerificationStatus": {
        "type": "string",
        "enum": ["generated", "in_progress", "completed", "failed", "expired"],
    },
    "Verification": obj(
        {
            "verificationId": STR,
            "status": ref("VerificationStatus"),
            "extra_data": {"type": ["object", "null"]},
            "createdAt": {"type": "string", "format": "date-time"},
            "updatedAt": {"type": "string", "format": "date-time"},
            "expiresAt": {"type": "string", "format": "date-time"},
        }
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

SECURITY_SCHEMES: Json = {
    "admin": {"type": "http", "scheme": "bearer", "description": "The admin key (QRSTREAM_ADMIN_KEY)."},
    "sdkKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-SDK-Key",
        "description": "One of QRSTREAM_SDK_KEYS.",
    },
}

"""Paths of the verification API (`X-SDK-Key`; the portal's endpoints take the id as capability)."""

from __future__ import annotations

from qrstream.apidoc import (
    ADMIN,
    ERROR,
    SDK,
    STR,
    Json,
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

SCHEMAS: dict[str, Json] = {
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
}

ID = path_param("id", "The verification id, `ver_<hex>`.")
RESUME_TOKEN: Json = {
    "type": "string",
    "description": "The opaque token `start` answered (256 random bits); only its hash is stored."
    " Required by `complete`: missing or wrong → 403.",
}


def _sdk(summary: str, ok: dict[str, Json], *statuses: int, **extra: object) -> Json:
    return operation("verifications", summary, ok, ERROR, 401, 429, 500, *statuses, security=SDK, extra=extra)


def _portal(summary: str, ok: dict[str, Json], *statuses: int, **extra: object) -> Json:
    return operation("verifications", summary, ok, ERROR, 404, 409, 429, *statuses, extra=extra)


def _missing(what: str) -> Json:
    return _sdk(f"{what} with no id: always 400 `Missing verification_id`", {}, 400)


def paths() -> dict[str, Json]:
    status_only = obj({"status": ref("VerificationStatus")})
    generate_body = obj(
        {},
        {
            "extra_data": {"type": "object", "description": "At most 16 KiB as JSON."},
            "return_url": {"type": "string", "format": "uri"},
        },
    )
    created = obj(
        {
            "verificationId": STR,
            "status": {"const": "generated"},
            "url": STR,
            "expiresAt": {"type": "string", "format": "date-time"},
        }
    )
    return {
        "/api/generate-verification": {
            "post": _sdk(
                "Start a verification",
                {"201": json_ok("The new verification.", created)},
                400,
                413,
                requestBody=json_body(generate_body, required=False),
            ),
        },
        "/api/get-verification-qrcode": {"get": _missing("The QR code")},
        "/api/get-verification-qrcode/": {"get": _missing("The QR code")},
        "/api/get-verification-qrcode/{id}": {
            "parameters": [ID],
            "get": _sdk(
                "The verification's QR code (by default a 400×400 PNG, EC level M), while it is `generated`",
                qr_image_ok("The QR of the verification's portal URL."),
                400,
                404,
                409,
                parameters=qr_parameters(),
            ),
        },
        "/api/get-verification-details": {"get": _missing("The details")},
        "/api/get-verification-details/": {"get": _missing("The details")},
        "/api/get-verification-details/{id}": {
            "parameters": [ID],
            "get": _sdk("The verification", {"200": json_ok("Its details.", ref("Verification"))}, 404),
        },
        "/api/verification-events/{id}": {
            "parameters": [ID],
            "get": _sdk(
                "Websocket: `{verificationId, status, at}` now and at every change, 1000 when final",
                {"101": {"description": "Switching to the websocket protocol."}},
                404,
                **{"x-websocket": True},
            ),
        },
        "/api/verification/{id}/start": {
            "parameters": [ID],
            "post": _portal(
                "`generated` → `in_progress` (the portal, when the person presses Start); with the"
                " resumeToken it answered, while `in_progress`: the same answer again (a reload)",
                {
                    "200": json_ok(
                        "Started (or resumed).",
                        obj(
                            {"status": {"const": "in_progress"}, "resumeToken": RESUME_TOKEN},
                            {"return_url": {"type": "string"}},
                        ),
                    )
                },
                400,
                413,
                requestBody=json_body(obj({}, {"resumeToken": RESUME_TOKEN}), required=False),
            ),
        },
        "/api/verification/{id}/complete": {
            "parameters": [ID],
            "post": _portal(
                "`in_progress` → `completed` or `failed`, by the browser that started it. Checked in"
                " order: the body (400), the id (404), the status (409 unless `in_progress`), the resumeToken"
                " (403)",
                {"200": json_ok("Moved.", status_only)},
                400,
                403,
                413,
                requestBody=json_body(
                    obj(
                        {
                            "result": {"type": "string", "enum": ["approved", "declined"]},
                            "resumeToken": RESUME_TOKEN,
                        }
                    )
                ),
            ),
        },
        "/admin/verifications": {
            "get": operation(
                "admin",
                "Verifications (of one status), newest first",
                {"200": json_ok("A page of verification details.", page_of(ref("Verification")))},
                ERROR,
                400,
                401,
                429,
                security=ADMIN,
                extra={
                    "parameters": [
                        *page_params(),
                        query_param("status", "Keep this status only.", ref("VerificationStatus")),
                    ]
                },
            ),
        },
        "/verify": {
            "get": {
                "tags": ["verifications"],
                "summary": "The verification portal page (a GET never changes state)",
                "parameters": [query_param("verification_id", "The verification id.")],
                "responses": {"200": typed_ok("The page.", "text/html")},
            },
        },
    }

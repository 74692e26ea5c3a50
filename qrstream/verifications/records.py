"""Verification records and what goes into them: statuses, ids, times, input checks.

Pure values and functions; the status machine that moves records lives in `verifications`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from qrstream.errors import BadRequest
from qrstream.links import LinkFor
from qrstream.store import Row
from qrstream.urls import is_http_url

GENERATED = "generated"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
FAILED = "failed"
EXPIRED = "expired"
OPEN = (GENERATED, IN_PROGRESS)
FINAL = frozenset({COMPLETED, FAILED, EXPIRED})
RESULTS = {"approved": COMPLETED, "declined": FAILED}

MAX_EXTRA_DATA_BYTES = 16 * 1024
ID_PATTERN = re.compile(r"ver_[0-9a-f]{20,64}")


def topic(verification_id: str) -> str:
    """The hub topic that carries a verification's status changes."""
    return f"verification:{verification_id}"


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def new_id() -> str:
    """A fresh unguessable id: `ver_` and 24 lowercase hex digits (96 random bits)."""
    return "ver_" + secrets.token_hex(12)


def new_resume_token() -> str:
    """A fresh resumeToken for the browser that starts a verification: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def resume_hash(token: str) -> str:
    """What is stored of a resumeToken: its SHA-256, hex. A plain hash is enough for a random
    256-bit value (nothing to brute-force), and a leaked database cannot finish a verification."""
    return hashlib.sha256(token.encode()).hexdigest()


def portal_url(links: LinkFor, verification_id: str) -> str:
    """The portal link a verification's QR code holds: `<public-url>/verify?verification_id=<id>`."""
    return links.url("verify-portal", query={"verification_id": verification_id})


def iso(ts: float) -> str:
    """Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Verification:
    id: str
    status: str
    extra_data: dict[str, Any] | None
    return_url: str | None
    created_at: float
    updated_at: float
    expires_at: float
    resume_hash: str | None = None

    @classmethod
    def from_row(cls, row: Row) -> Verification:
        return cls(
            id=row["id"],
            status=row["status"],
            extra_data=json.loads(row["extra_data"]) if row["extra_data"] is not None else None,
            return_url=row["return_url"],
            created_at=float(row["created_at"]),
            updated_at=float(row["updated_at"]),
            expires_at=float(row["expires_at"]),
            resume_hash=row["resume_hash"],
        )

    def resumable_by(self, token: str | None) -> bool:
        """Whether `token` is the resumeToken this verification was started with (constant time)."""
        if not token or self.resume_hash is None:
            return False
        return hmac.compare_digest(resume_hash(token), self.resume_hash)

    def details(self) -> dict[str, Any]:
        """The `get-verification-details` body."""
        return {
            "verificationId": self.id,
            "status": self.status,
            "extra_data": self.extra_data,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "expiresAt": iso(self.expires_at),
        }

    def event(self) -> dict[str, Any]:
        """The events-websocket message for this status."""
        return {"verificationId": self.id, "status": self.status, "at": iso(self.updated_at)}


def check_request(body: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """`extra_data` and `return_url` of a generate request, or BadRequest naming the field."""
    extra = body.get("extra_data")
    if extra is not None:
        if not isinstance(extra, dict):
            raise BadRequest("extra_data must be a JSON object", field="extra_data")
        size = len(to_json(extra).encode())
        if size > MAX_EXTRA_DATA_BYTES:
            raise BadRequest(
                f"extra_data must be at most {MAX_EXTRA_DATA_BYTES} bytes as JSON", field="extra_data"
            )
    url = body.get("return_url")
    # is_http_url also refuses what urlsplit cannot parse ("http://[", bad ports) and whitespace.
    if url is not None and not (isinstance(url, str) and is_http_url(url)):
        raise BadRequest("return_url must be an absolute http(s) URL", field="return_url")
    return extra, url


def check_resume_token(body: Mapping[str, Any]) -> str | None:
    """The optional `resumeToken` of a start or complete request; BadRequest when not a string."""
    token = body.get("resumeToken")
    if token is not None and not isinstance(token, str):
        raise BadRequest("resumeToken must be a string", field="resumeToken")
    return token or None


def check_result(body: Mapping[str, Any]) -> str:
    """The status a `complete` request asks for, or BadRequest."""
    result = body.get("result")
    if not isinstance(result, str) or result not in RESULTS:
        raise BadRequest("result must be 'approved' or 'declined'", field="result")
    return RESULTS[result]

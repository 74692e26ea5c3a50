"""The domain's errors, one small tree; the web layer maps them to JSON.

QrstreamError                 500
 ├── BadRequest               400  (field: the input that was wrong)
 ├── Unauthorized             401
 ├── Forbidden                403
 │    └── InvalidSignature    403
 ├── NotFound                 404
 ├── Conflict                 409  (current_status)
 ├── Gone                     410
 ├── PayloadTooLarge          413
 ├── RateLimited              429  (retry_after)
 ├── NotConfigured            500
 └── StoreUnavailable         503  (retry_after; raised by the store layer, qrstream/store/)
"""

from __future__ import annotations

from typing import Any


class QrstreamError(Exception):
    """Base of every error the server answers on purpose."""

    status = 500
    retry_after: int | None = None
    """Seconds after which the same request may succeed (a `Retry-After` header), if it may."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class BadRequest(QrstreamError):
    status = 400

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        if field is not None:
            extra["field"] = field
        super().__init__(message, **extra)
        self.field = field


class Unauthorized(QrstreamError):
    status = 401


class Forbidden(QrstreamError):
    status = 403


class InvalidSignature(Forbidden):
    def __init__(self) -> None:
        super().__init__("Invalid signature.")


class NotFound(QrstreamError):
    status = 404


class Conflict(QrstreamError):
    status = 409


class Gone(QrstreamError):
    status = 410


class PayloadTooLarge(QrstreamError):
    status = 413


class RateLimited(QrstreamError):
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotConfigured(QrstreamError):
    status = 500


class StoreUnavailable(QrstreamError):
    """The store cannot be reached or cannot take the write now (down, restarting, locked past its
    timeout, disk full). The same request may well succeed later: answered 503 with Retry-After."""

    status = 503
    retry_after: int | None = 1

    def __init__(self, reason: str) -> None:
        super().__init__("Service temporarily unavailable")
        self.reason = reason

    def __str__(self) -> str:
        return f"store unavailable: {self.reason}"

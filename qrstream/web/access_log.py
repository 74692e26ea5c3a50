"""The access log: method, masked path, status, duration — never a secret."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

from qrstream.redact import SecretFilter, mask_text
from qrstream.web.policy import POLICIES
from qrstream.web.request_id import REQUEST_ID, current_request_id


def _log_path(request: web.BaseRequest) -> str:
    """The path as its route's policy masks it; a request never routed (malformed) is masked as text."""
    if isinstance(request, web.Request) and request._match_info is not None:
        return request.app[POLICIES].log_path(request)
    return mask_text(request.path_qs)


class AccessLogger(AbstractAccessLogger):
    json_format = False

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        fields: dict[str, Any] = {
            "remote": request.remote,
            "method": request.method,
            "path": _log_path(request),
            "status": response.status,
            "duration_ms": round(time * 1000, 2),
        }
        request_id = request.get(REQUEST_ID)
        if request_id:
            fields["request_id"] = request_id
        if self.json_format:
            self.logger.info(json.dumps(fields))
        else:
            self.logger.info(
                '%s "%s %s" %s %.2fms %s',
                fields["remote"],
                fields["method"],
                fields["path"],
                fields["status"],
                fields["duration_ms"],
                fields.get("request_id", "-"),
            )


class JsonAccessLogger(AccessLogger):
    json_format = True


def access_logger_for(log_format: str) -> type[AccessLogger]:
    return JsonAccessLogger if log_format == "json" else AccessLogger


QUIET_LOGGERS = ("aiosqlite", "asyncpg", "redis", "hpack")
"""Libraries whose DEBUG lines echo query parameters (tokens): kept at INFO whatever the level."""


def configure_logging(log_format: str, level: int | str = logging.INFO) -> None:
    """Root logging to stderr: plain text, or one JSON object per line; secrets masked."""
    handler = logging.StreamHandler()
    handler.addFilter(SecretFilter())
    if log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientErrorFilter) for f in server.filters):
        server.addFilter(ClientErrorFilter())
    pool = logging.getLogger("asyncpg.pool")
    if not any(isinstance(f, OneLineFilter) for f in pool.filters):
        pool.addFilter(OneLineFilter())


class OneLineFilter(logging.Filter):
    """asyncpg's pool logs each failed reconnect of its idle connection with a traceback: while
    PostgreSQL is down, one line saying why is enough (the store's 503s say the rest)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            record.msg, record.args = f"{record.getMessage()}: {type(exc).__name__}: {exc}", None
            record.exc_info, record.exc_text = None, None
        return True


class ClientErrorFilter(logging.Filter):
    """aiohttp logs a malformed request (a client's fault, answered 400) at ERROR with a traceback:
    make it one INFO line that says what was wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            what = " ".join(str(exc.message).split())  # aiohttp's message spans lines
            record.msg, record.args = f"{record.getMessage()}: {exc.code} {what}", None
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        try:
            body = json.loads(message) if message.startswith("{") else {"message": message}
        except ValueError:
            body = {"message": message}
        if not isinstance(body, dict):
            body = {"message": message}
        entry = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name}
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        entry.update(body)
        if record.exc_info or record.exc_text:
            # exc_text, when set, is the traceback already masked by SecretFilter
            entry["exc"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(entry)

"""The access log: method, masked path, status, duration — never a secret.

The hot path: a line is built from the route's policy (`qrstream.web.policy`: declared secrets
masked, no regex over the whole line), client-supplied parts pass `mask_untrusted`, and lines are
gathered and written in one write every 50 ms (`AccessWriter`) in the same text or JSON format
as every other log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from typing import Any, TextIO

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

from qrstream.redact import SecretFilter, mask_untrusted
from qrstream.web.policy import POLICIES
from qrstream.web.request_id import HEADER, REQUEST_ID, current_request_id


def _log_path(request: web.BaseRequest) -> str:
    """The path as its route's policy masks it; a request never routed (malformed) is masked as text."""
    if isinstance(request, web.Request) and request._match_info is not None:
        return request.app[POLICIES].log_path(request)
    return mask_untrusted(request.path_qs)


class _Clock:
    """`logging.Formatter`'s default time text (`2024-05-01 12:00:00,123`): its seconds made once
    a second, the whole text once a millisecond (lines of one millisecond share it)."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""
        self._milli = -1
        self._stamp = ""

    def text(self) -> str:
        now = time.time()
        milli = int(now * 1000)
        if milli == self._milli:
            return self._stamp
        second = milli // 1000
        if second != self._second:
            self._second = second
            self._text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        self._milli = milli
        self._stamp = f"{self._text},{milli - second * 1000:03d}"
        return self._stamp


FLUSH_S = 0.05
"""Access lines wait at most this long to be written (one write for all of them)."""
FLUSH_LINES = 512
"""…or until this many are waiting."""


class AccessWriter:
    """Access lines, built masked (no logging record, filter or handler per request), gathered
    and written to the log stream in one write every `FLUSH_S` (or `FLUSH_LINES` lines); `flush`
    writes what is left (the server calls it on shutdown)."""

    def __init__(self) -> None:
        self.stream: TextIO = sys.stderr
        self._lines: list[str] = []
        self._scheduled: asyncio.AbstractEventLoop | None = None  # the loop a flush is due on
        self.clock = _Clock()

    def add(self, line: str) -> None:
        self._lines.append(line)
        if len(self._lines) >= FLUSH_LINES:
            self.flush()
        else:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop: write at once
                self.flush()
                return
            if self._scheduled is not loop:  # none yet, or one on a loop that has gone
                loop.call_later(FLUSH_S, self.flush)
                self._scheduled = loop

    def flush(self) -> None:
        self._scheduled = None
        if not self._lines:
            return
        text = "\n".join(self._lines) + "\n"
        self._lines.clear()
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not take a request with it
            pass


WRITER = AccessWriter()
"""The process's access log writer (`configure_logging` points it at the log stream)."""


class AccessLogger(AbstractAccessLogger):
    """One line per request: remote, method, masked path, status, duration, request id. It honours
    the level of `aiohttp.access` (`QRSTREAM_LOG_LEVEL`): below INFO nothing is even built."""

    json_format = False

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        request_id = request.get(REQUEST_ID)
        if request_id and request_id == request.headers.get(HEADER):  # the client's own: check it
            request_id = mask_untrusted(request_id)
        remote = request.remote
        path = _log_path(request)
        stamp = WRITER.clock.text()
        if self.json_format:
            fields: dict[str, Any] = {
                "time": stamp,
                "level": "INFO",
                "logger": self.logger.name,
                "remote": remote,
                "method": request.method,
                "path": path,
                "status": response.status,
                "duration_ms": round(time * 1000, 2),
            }
            if request_id:
                fields["request_id"] = request_id
            WRITER.add(json.dumps(fields))
        else:
            WRITER.add(
                f'{stamp} INFO {self.logger.name}: {remote} "{request.method} {path}" '
                f"{response.status} {time * 1000:.2f}ms {request_id or '-'}"
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
    WRITER.flush()
    WRITER.stream = handler.stream
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

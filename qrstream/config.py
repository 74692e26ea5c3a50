"""Settings, read once from the environment (and the command line) into a frozen value."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from qrstream.urls import is_http_url


class ConfigError(ValueError):
    """A setting that cannot be used; the message is one line for a person."""


def _split_keys(raw: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in raw.split(",") if k.strip())


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < minimum:
        raise ConfigError(f"{name} must be at least {minimum:g}, got {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    """An on/off setting: `1` (or true/yes/on) is on; empty (or 0/false/no/off) is off."""
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be 1 or 0, got {raw!r}")


def check_http_url(value: str, name: str, *, base: bool = False) -> str:
    """Return `value` (without a trailing slash) if `urls.is_http_url` accepts it, else raise ConfigError."""
    if not is_http_url(value, base=base):
        raise ConfigError(f"{name} must be an absolute http(s) URL, got {value!r}")
    return value.rstrip("/")


@dataclass(frozen=True)
class Config:
    """Everything the server needs to know before it starts."""

    host: str = "127.0.0.1"
    port: int = 8080
    db: str = "./qrstream.db"
    bus: str = "memory"
    public_url: str | None = None
    admin_key: str | None = None
    sdk_keys: tuple[str, ...] = ()
    signing_keys: tuple[str, ...] = ()
    qr_refresh_s: float = 20.0
    qr_scan_timeout_s: float = 100.0
    webhook_url: str | None = None
    # Instance webhooks may reach loopback, private and link-local addresses (development, tests).
    webhook_allow_private: bool = False
    offline_ttl_s: float = 3600.0
    verification_ttl_s: float = 3600.0
    webhook_give_up_s: float = 86400.0
    webhook_max_backoff_s: float = 3600.0
    max_body_bytes: int = 64 * 1024
    log_format: str = "text"
    loop: str = "uvloop"
    """Event loop: `uvloop` (where installed: Linux) or `asyncio` (the standard library's)."""
    render_workers: int = 0
    # Hardening: failed guesses a minute per client address (0: no limit), websocket caps (0: none).
    rate_auth_failures: float = 300.0
    rate_link_failures: float = 120.0
    rate_signature_failures: float = 300.0
    ws_max_per_instance: int = 10_000
    ws_max_per_client: int = 10_000
    ws_heartbeat_s: float = 25.0  # each websocket pinged once a period, dropped unanswered after half
    log_level: str = "INFO"
    # Slow peers (web/peers.py): a deadline for each request head, a cap on slow ones per address.
    header_timeout_s: float = 10.0
    max_pending_per_client: int = 64
    scan_retention_days: float = 400.0
    scan_queue_capacity: int = 20_000  # scans waiting to be written; beyond: dropped, counted
    extra: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        """Read every `QRSTREAM_*` variable; raise ConfigError for an unusable one."""
        port_raw = env.get("QRSTREAM_PORT", "").strip() or "8080"
        public_url = env.get("QRSTREAM_PUBLIC_URL", "").strip() or None
        webhook_url = env.get("QRSTREAM_WEBHOOK_URL", "").strip() or None
        config = cls(
            host=env.get("QRSTREAM_HOST", "").strip() or "127.0.0.1",
            port=parse_port(port_raw, "QRSTREAM_PORT"),
            db=env.get("QRSTREAM_DB", "").strip() or "./qrstream.db",
            bus=env.get("QRSTREAM_BUS", "").strip() or "memory",
            public_url=check_http_url(public_url, "QRSTREAM_PUBLIC_URL", base=True) if public_url else None,
            admin_key=env.get("QRSTREAM_ADMIN_KEY", "").strip() or None,
            sdk_keys=_split_keys(env.get("QRSTREAM_SDK_KEYS", "")),
            signing_keys=_split_keys(env.get("QRSTREAM_SIGNING_KEYS", "")),
            qr_refresh_s=_number(env, "QRSTREAM_QR_REFRESH_S", 20.0, minimum=0.5),
            qr_scan_timeout_s=_number(env, "QRSTREAM_QR_SCAN_TIMEOUT_S", 100.0, minimum=0.1),
            webhook_url=check_http_url(webhook_url, "QRSTREAM_WEBHOOK_URL") if webhook_url else None,
            webhook_allow_private=_flag(env, "QRSTREAM_WEBHOOK_ALLOW_PRIVATE"),
            offline_ttl_s=_number(env, "QRSTREAM_OFFLINE_TTL_S", 3600.0, minimum=1),
            verification_ttl_s=_number(env, "QRSTREAM_VERIFICATION_TTL_S", 3600.0, minimum=1),
            webhook_give_up_s=_number(env, "QRSTREAM_WEBHOOK_GIVE_UP_S", 86400.0, minimum=1),
            webhook_max_backoff_s=_number(env, "QRSTREAM_WEBHOOK_MAX_BACKOFF_S", 3600.0, minimum=0.01),
            max_body_bytes=int(_number(env, "QRSTREAM_MAX_BODY_BYTES", 64 * 1024, minimum=1024)),
            log_format=env.get("QRSTREAM_LOG_FORMAT", "").strip() or "text",
            loop=env.get("QRSTREAM_LOOP", "").strip().lower() or "uvloop",
            render_workers=int(
                _number(env, "QRSTREAM_RENDER_WORKERS", min(2, os.cpu_count() or 1), minimum=0)
            ),
            rate_auth_failures=_number(env, "QRSTREAM_RATE_AUTH_FAILURES", 300.0, minimum=0),
            rate_link_failures=_number(env, "QRSTREAM_RATE_LINK_FAILURES", 120.0, minimum=0),
            rate_signature_failures=_number(env, "QRSTREAM_RATE_SIGNATURE_FAILURES", 300.0, minimum=0),
            ws_max_per_instance=int(_number(env, "QRSTREAM_WS_MAX_PER_INSTANCE", 10_000, minimum=0)),
            ws_max_per_client=int(_number(env, "QRSTREAM_WS_MAX_PER_CLIENT", 10_000, minimum=0)),
            log_level=env.get("QRSTREAM_LOG_LEVEL", "").strip().upper() or "INFO",
            header_timeout_s=_number(env, "QRSTREAM_HEADER_TIMEOUT_S", 10.0, minimum=0.1),
            max_pending_per_client=int(_number(env, "QRSTREAM_MAX_PENDING_PER_CLIENT", 64, minimum=0)),
            scan_retention_days=_number(env, "QRSTREAM_SCAN_RETENTION_DAYS", 400.0, minimum=1),
            scan_queue_capacity=int(_number(env, "QRSTREAM_SCAN_QUEUE_CAPACITY", 20_000, minimum=1)),
        )
        config.check()
        return config

    def replace(self, **changes: object) -> Config:
        """A copy with `changes` applied and checked."""
        config = dataclasses.replace(self, **changes)  # type: ignore[arg-type]
        config.check()
        return config

    def check(self) -> None:
        if self.bus != "memory" and not self.bus.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"--bus must be 'memory' or a redis:// URL, got {self.bus!r}")
        if self.log_format not in ("text", "json"):
            raise ConfigError(f"--log-format must be 'text' or 'json', got {self.log_format!r}")
        if self.loop not in ("uvloop", "asyncio"):
            raise ConfigError(f"QRSTREAM_LOOP must be 'uvloop' or 'asyncio', got {self.loop!r}")
        if not self.db:
            raise ConfigError("--db must not be empty")
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(
                f"QRSTREAM_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {self.log_level!r}"
            )

    def base_url(self, bound_port: int | None = None) -> str:
        """The public URL: the configured one, or http://HOST:PORT with the real port."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{bound_port if bound_port is not None else self.port}"


def parse_port(raw: str, name: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number from 0 to 65535, got {raw!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"{name} must be a whole number from 0 to 65535, got {raw!r}")
    return port

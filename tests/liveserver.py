"""`run.py` in a subprocess with its output drained on threads (a chatty server never blocks on a pipe).

For the tests that need a real process: signals, SIGKILL, restarts on the same database, logs.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Mapping

from tests.serverproc import READY, spawn

ADMIN_KEY = "live-admin-key-0123456789"
SDK_KEY = "live-sdk-key-0123456789"
SIGNING_KEYS = "live-signing-key-one-0123,live-signing-key-two-4567"


def base_env(db: str) -> dict[str, str]:
    """Configured keys (so none is generated and printed) on the SQLite file `db`."""
    return {
        "QRSTREAM_DB": db,
        "QRSTREAM_ADMIN_KEY": ADMIN_KEY,
        "QRSTREAM_SDK_KEYS": SDK_KEY,
        "QRSTREAM_SIGNING_KEYS": SIGNING_KEYS,
        "QRSTREAM_RENDER_WORKERS": "0",
        "QRSTREAM_WEBHOOK_ALLOW_PRIVATE": "1",  # the tests' webhook receivers listen on loopback
    }


class LiveServer:
    """One server process on a free port; use as a context manager (killed on exit)."""

    def __init__(self, env: Mapping[str, str], args: list[str] | None = None) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("QRSTREAM_")}
        full_env.update(env)
        self.proc = spawn(["--port", "0", *(args or [])], full_env)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._ready = threading.Event()
        self.url = ""
        self._threads = [
            threading.Thread(target=self._drain, args=(self.proc.stdout, self.stdout, True), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stderr, self.stderr, False), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _drain(self, stream: object, into: list[str], watch_ready: bool) -> None:
        for line in stream:  # type: ignore[attr-defined]
            line = line.rstrip("\n")
            into.append(line)
            if watch_ready and not self._ready.is_set():
                match = READY.match(line.strip())
                if match:
                    self.url = match.group(1)
                    self._ready.set()

    def wait_ready(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None:
                self.join_output()
                raise AssertionError(f"server exited early ({self.proc.returncode}): {self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"server not ready in time: {self.output()}")
        return self.url

    def send(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout: float = 20.0) -> int:
        code = self.proc.wait(timeout=timeout)
        self.join_output()
        return code

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        self.send(sig)
        return self.wait(timeout)

    def join_output(self) -> None:
        for thread in self._threads:
            thread.join(timeout=5)

    def output(self) -> str:
        return "\n".join(self.stdout + self.stderr)

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.join_output()

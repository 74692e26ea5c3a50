"""Start the real server the way a user does (`run.py --port 0 --db <tmp>`) and stop it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the scripts run as `python bench/<name>.py`
from tests.serverproc import read_ready_line, spawn  # noqa: E402  (one way to start run.py)

ADMIN_KEY = "bench-admin-key"
SDK_KEY = "bench-sdk-key"


class Server:
    """`run.py` in a subprocess on a fresh SQLite file; use as a context manager.

    stderr is collected on a thread (so a chatty server never blocks on a full pipe);
    `stderr_lines` holds it.
    """

    def __init__(
        self, env: Mapping[str, str] | None = None, args: list[str] | None = None, script: Path | None = None
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="qrstream-bench-")
        self.db = str(Path(self._tmp.name) / "bench.db")
        keys = {
            "QRSTREAM_ADMIN_KEY": ADMIN_KEY,
            "QRSTREAM_SDK_KEYS": SDK_KEY,
            "QRSTREAM_SIGNING_KEYS": "bench-signing-key",
        }
        self.proc = spawn(
            ["--port", "0", "--db", self.db, *(args or [])], {**os.environ, **keys, **(env or {})}, script
        )
        self.url = ""
        self.stderr_lines: list[str] = []
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def host_port(self) -> str:
        return self.url.removeprefix("http://")

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line.rstrip("\n"))

    def wait_ready(self, timeout: float = 60.0) -> str:
        assert self.proc.stdout is not None
        try:
            url = read_ready_line(self.proc.stdout, timeout)
        except TimeoutError as exc:
            raise RuntimeError(str(exc)) from None
        if url is None:
            self.proc.wait()
            raise RuntimeError("server exited early:\n" + "\n".join(self.stderr_lines[-20:]))
        self.url = url
        threading.Thread(target=self._drain_stdout, daemon=True).start()
        return self.url

    def _drain_stdout(self) -> None:
        assert self.proc.stdout is not None
        for _ in self.proc.stdout:
            pass

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def __enter__(self) -> Server:
        self.wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._tmp.cleanup()

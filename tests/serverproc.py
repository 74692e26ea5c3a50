"""Start `run.py` as a subprocess, the way a user does, and wait for its ready line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(r"^qrstream listening on (http://\S+)$")


def spawn(
    args: list[str], env: Mapping[str, str] | None = None, script: Path | None = None
) -> subprocess.Popen[str]:
    """`run.py` (or `script`) with `args` and exactly the environment `env` (default: this one's),
    started in the project root with text stdout/stderr pipes."""
    return subprocess.Popen(
        [sys.executable, str(script or ROOT / "run.py"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ if env is None else env),
        cwd=ROOT,
    )


def read_ready_line(stdout: IO[str], timeout: float, lines: list[str] | None = None) -> str | None:
    """Read `stdout` up to the ready line and return its URL, or None when the output ends first;
    TimeoutError once `timeout` seconds have passed. Each line read is appended to `lines`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stdout.readline()
        if not line:
            return None
        if lines is not None:
            lines.append(line.rstrip("\n"))
        match = READY.match(line.strip())
        if match:
            return match.group(1)
    raise TimeoutError("server did not print its ready line in time")


def error_line(args: list[str], env: Mapping[str, str] | None = None, timeout: float = 60.0) -> str:
    """Run `run.py` with `args` expecting a refusal to start: exit status 2 and exactly one line on
    stderr, which is returned."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


class ServerProcess:
    def __init__(self, args: list[str], env: Mapping[str, str] | None = None) -> None:
        self.proc = spawn(args, {**os.environ, **(env or {})})
        self.url = ""
        self.lines: list[str] = []

    def wait_ready(self, timeout: float = 30.0) -> str:
        assert self.proc.stdout is not None
        try:
            url = read_ready_line(self.proc.stdout, timeout, self.lines)
        except TimeoutError as exc:
            raise AssertionError(str(exc)) from None
        if url is None:
            raise AssertionError(f"server exited early: {self.proc.wait()} {self.stderr()}")
        self.url = url
        return url

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read() if self.proc.poll() is not None else ""

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

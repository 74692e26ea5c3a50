"""Run wrk with `--latency` and read its figures."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).resolve().parent / "lua"
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int  # non-2xx/3xx answers plus socket errors


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse(output: str) -> WrkResult:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    bad = 0
    non_ok = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_ok:
        bad += int(non_ok.group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if errors:
        bad += sum(int(n) for n in errors.groups())
    return WrkResult(rps, p50, p99, requests, bad)


def run(
    url: str,
    *,
    script: str | None = None,
    duration_s: float = 5.0,
    connections: int = 32,
    threads: int = 1,
    env: dict[str, str] | None = None,
) -> WrkResult:
    """One wrk run against `url`; `script` names a Lua file in bench/lua/ (headers, POST bodies)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    args = ["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{duration_s:g}s"]
    if script:
        args += ["-s", str(LUA / script)]
    out = subprocess.run(
        [*args, url], capture_output=True, text=True, check=True, env={**(env or {}), "PATH": "/usr/bin:/bin"}
    )
    return parse(out.stdout)

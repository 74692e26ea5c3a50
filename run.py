#!/usr/bin/env python3
"""Launcher: `python3 run.py [options]` serves, `python3 run.py test [pytest args]` tests.

On a machine with only Python >= 3.11 it creates `.venv/` beside this file, installs
the project into it (again only when `pyproject.toml` changed or extras are missing),
and re-executes itself inside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".qrstream-install.json"


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _inside_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def _wanted(extras: list[str]) -> dict[str, object]:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return {"pyproject": digest, "extras": sorted(extras)}


def _installed() -> dict[str, object] | None:
    try:
        return json.loads(STAMP.read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def _ensure_venv(extras: list[str]) -> None:
    if sys.version_info < (3, 11):
        sys.exit("qrstream: error: Python 3.11 or newer is needed")
    if not _venv_python().exists():
        print("qrstream: creating .venv", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    have = _installed() or {}
    want = _wanted(extras)
    same_project = have.get("pyproject") == want["pyproject"]
    had = have.get("extras")
    had_extras = {str(e) for e in had} if isinstance(had, list) else set()
    if same_project and set(extras) <= had_extras:
        return
    # Keep extras installed earlier, so switching between serve and test does not reinstall.
    if same_project:
        extras = sorted(set(extras) | had_extras)
    target = f".[{','.join(extras)}]" if extras else "."
    print(f"qrstream: installing {target} into .venv", file=sys.stderr, flush=True)
    subprocess.run(
        [str(_venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", target],
        cwd=ROOT,
        check=True,
    )
    STAMP.write_text(json.dumps(_wanted(extras)))


def main() -> int:
    args = sys.argv[1:]
    testing = bool(args) and args[0] == "test"
    if not _inside_venv():
        try:
            _ensure_venv(["test"] if testing else [])
        except subprocess.CalledProcessError as exc:
            print(f"qrstream: error: set-up failed ({exc})", file=sys.stderr)
            return 2
        python = str(_venv_python())
        os.execv(python, [python, str(ROOT / "run.py"), *args])
    os.chdir(ROOT)
    if testing:
        import pytest

        return int(pytest.main(args[1:]))
    # Until the server installs its own handlers, SIGTERM stops it like Ctrl-C: exit 0.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        from qrstream.cli import main as serve

        return serve(args)
    except KeyboardInterrupt:  # SIGINT or SIGTERM before the server took over the signals
        return 0


if __name__ == "__main__":
    sys.exit(main())

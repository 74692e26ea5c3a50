"""run.py --demo: demo objects made once, reused after a restart, and usable as printed."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

from tests.qrdecode import decode_b64
from tests.serverproc import ServerProcess


def _demo_lines(tmp_path: Path) -> tuple[str, list[str]]:
    with ServerProcess(
        ["--demo", "--port", "0", "--db", str(tmp_path / "demo.db")], env={"QRSTREAM_SDK_KEYS": "k"}
    ) as server:
        url = server.wait_ready()
        assert server.proc.stdout is not None
        lines = [server.proc.stdout.readline().strip() for _ in range(6)]
        match = re.search(r"curl (\S+/waInstance\S+)", "\n".join(lines))
        assert match, lines
        with urllib.request.urlopen(match.group(1), timeout=5) as resp:
            body = json.load(resp)
        assert body["type"] == "qrCode"
        assert "/link/" in decode_b64(body["message"]).text
        assert server.stop() == 0
    return url, [line.split(url, 1)[-1] for line in lines]


def test_demo_objects_are_made_once(tmp_path: Path) -> None:
    """A second --demo start on the same database prints the same instance, card and verification."""
    _, first = _demo_lines(tmp_path)
    _, second = _demo_lines(tmp_path)
    assert first == second
    assert any("/pair#id=" in line for line in first)

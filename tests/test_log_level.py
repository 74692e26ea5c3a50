"""`QRSTREAM_LOG_LEVEL` is the level of every logger, the access log included (a real `run.py`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from tests.liveserver import LiveServer, base_env


async def _serve_a_few(env: dict[str, str]) -> list[str]:
    with LiveServer(env) as server:
        base = await asyncio.to_thread(server.wait_ready)
        async with aiohttp.ClientSession() as http:
            assert (await http.get(f"{base}/healthz")).status == 200
            assert (await http.get(f"{base}/no-such-page")).status == 404
        assert await asyncio.to_thread(server.stop) == 0
    return server.stderr


async def test_warning_level_writes_no_access_line(tmp_path: Path) -> None:
    """At WARNING the requests are served and no access line (nor any INFO line) is written."""
    env = {**base_env(str(tmp_path / "warn.db")), "QRSTREAM_LOG_LEVEL": "WARNING"}
    stderr = await _serve_a_few(env)
    assert not [line for line in stderr if "aiohttp.access" in line or " INFO " in line], stderr


async def test_info_level_writes_access_lines(tmp_path: Path) -> None:
    """The default level (INFO) writes one access line per request."""
    stderr = await _serve_a_few(base_env(str(tmp_path / "info.db")))
    access = [line for line in stderr if "aiohttp.access" in line]
    assert len(access) == 2 and '"GET /healthz" 200' in access[0], stderr

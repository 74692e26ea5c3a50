"""run.py as a user starts it: ready line, /healthz, clean exit on signals, one-line errors."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from qrstream.cli import build_config
from qrstream.config import ConfigError
from tests.serverproc import ServerProcess, error_line


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serves_healthz_and_exits_0_on_signal(tmp_path: Path, sig: int) -> None:
    """A started server answers /healthz and exits 0 on SIGTERM or SIGINT."""
    with ServerProcess(["--port", "0", "--db", str(tmp_path / "a.db")]) as server:
        url = server.wait_ready()
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        with urllib.request.urlopen(url + "/healthz", timeout=5) as resp:
            assert json.load(resp) == {"status": "ok"}
        assert server.stop(sig) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_while_starting_exits_0_without_a_traceback(tmp_path: Path, sig: int) -> None:
    """SIGTERM or SIGINT as the database is being opened (before the ready line) exits 0, quietly."""
    db = tmp_path / "a.db"
    with ServerProcess(["--port", "0", "--db", str(db)]) as server:
        deadline = time.monotonic() + 30
        while not db.exists() and server.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        assert server.stop(sig) == 0
        assert "Traceback" not in server.stderr()


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--no-such-flag"], {}),
        (["--port", "http"], {}),
        (["--port", "70000"], {}),
        (["--public-url", "ftp://x"], {}),
        (["--bus", "carrier-pigeon"], {}),
        ([], {"QRSTREAM_QR_REFRESH_S": "0.1"}),
        ([], {"QRSTREAM_PORT": "-1"}),
    ],
)
def test_bad_option_is_one_line_and_exit_2(args: list[str], env: dict[str, str], tmp_path: Path) -> None:
    """A bad option prints one line on stderr and exits 2, never a traceback."""
    line = error_line([*args, "--db", str(tmp_path / "x.db")], env, timeout=30)
    assert line.startswith("qrstream: error:"), line


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--public-url", "http://qr.example:99999"], {}),
        (["--public-url", "http://qr example/"], {}),
        (["--public-url", "https://qr.example/?a=1"], {}),
        ([], {"QRSTREAM_PUBLIC_URL": "http://qr.example:port"}),
        (["--public-url", "http://[::1"], {}),
        ([], {"QRSTREAM_WEBHOOK_URL": "http://hooks.example:abc/"}),
        ([], {"QRSTREAM_WEBHOOK_URL": "http://[::1/"}),
        ([], {"QRSTREAM_HEADER_TIMEOUT_S": "0"}),
        ([], {"QRSTREAM_HEADER_TIMEOUT_S": "soon"}),
        ([], {"QRSTREAM_MAX_PENDING_PER_CLIENT": "-1"}),
        ([], {"QRSTREAM_LOG_LEVEL": "LOUD"}),
    ],
)
def test_malformed_urls_are_bad_options(args: list[str], env: dict[str, str]) -> None:
    """A public or webhook URL with a bad port, whitespace or (public) a query, or an unusable
    connection or log setting, is refused at start."""
    with pytest.raises(ConfigError):
        build_config(args, env)


def test_connection_settings_default_and_read() -> None:
    """Header timeout 10 s and 64 slow heads per address by default; both read from the environment."""
    config, _ = build_config([], {})
    assert (config.header_timeout_s, config.max_pending_per_client) == (10.0, 64)
    env = {"QRSTREAM_HEADER_TIMEOUT_S": "2.5", "QRSTREAM_MAX_PENDING_PER_CLIENT": "0"}
    config, _ = build_config([], env)
    assert (config.header_timeout_s, config.max_pending_per_client) == (2.5, 0)


def test_a_good_public_url_keeps_its_port_and_path() -> None:
    """A public URL with a port and a path prefix is accepted, without its trailing slash."""
    config, _ = build_config(["--public-url", "https://qr.example:8443/base/"], {})
    assert config.base_url() == "https://qr.example:8443/base"


@pytest.mark.parametrize("db", ["/no/such/folder/q.db", "{tmp}"])
def test_unusable_database_is_one_line_and_exit_2(db: str, tmp_path: Path) -> None:
    """A database that cannot be opened (missing folder, or a folder itself) exits 2."""
    line = error_line(["--port", "0", "--db", db.format(tmp=tmp_path)], timeout=30)
    assert line.startswith("qrstream: error:"), line


def test_not_a_database_file_is_exit_2(tmp_path: Path) -> None:
    """A file that is not SQLite exits 2 with one line."""
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    error_line(["--port", "0", "--db", str(junk)], timeout=30)

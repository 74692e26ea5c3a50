"""run.py as a user starts it: ready line, /healthz, clean exit on signals, one-line errors."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from qrstream.cli import build_config
from qrstream.config import ConfigError
from tests.serverproc import ROOT, ServerProcess, error_line, read_ready_line


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


def _installed_command() -> Path:
    """The `qrstream` command that installing the project put beside this Python."""
    command = Path(sys.executable).parent / "qrstream"
    assert command.exists(), f"{command} is missing: reinstall the project (python3 run.py test)"
    return command


def _flags(help_text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", help_text))


def test_installed_command_has_the_options_of_run_py() -> None:
    """`pip install .` gives a `qrstream` command ([project.scripts]) with run.py's options."""
    installed = subprocess.run(
        [str(_installed_command()), "--help"], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.startswith("usage: qrstream "), installed.stdout
    launcher = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--help"], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert launcher.returncode == 0, launcher.stderr
    assert launcher.stdout.startswith("usage: run.py "), launcher.stdout
    assert _flags(installed.stdout) == _flags(launcher.stdout)
    assert {"--port", "--db", "--bus", "--public-url", "--demo"} <= _flags(installed.stdout)


def test_installed_command_serves_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    """The installed command starts the server (its ready line, /healthz) and exits 0 on SIGTERM;
    a bad option is one line on stderr and exit 2, as with run.py."""
    command = str(_installed_command())
    proc = subprocess.Popen(
        [command, "--port", "0", "--db", str(tmp_path / "a.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,  # not the project root: it runs from anywhere
    )
    try:
        assert proc.stdout is not None
        url = read_ready_line(proc.stdout, 30)
        assert url is not None, proc.communicate(timeout=30)[1]
        with urllib.request.urlopen(url + "/healthz", timeout=5) as resp:
            assert json.load(resp) == {"status": "ok"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
    refused = subprocess.run([command, "--port", "http"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [refused.stderr.strip()]
    assert refused.stderr.startswith("qrstream: error:"), refused.stderr

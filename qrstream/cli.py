"""The command line: parse options, open everything, serve until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, NoReturn

from aiohttp import web

from qrstream.bus import BusError
from qrstream.config import Config, ConfigError, check_http_url, parse_port
from qrstream.store import StoreError
from qrstream.web.acceptor import GuardedSite
from qrstream.web.access_log import WRITER as ACCESS_LOG
from qrstream.web.access_log import access_logger_for, configure_logging
from qrstream.web.app import create_app
from qrstream.web.keys import SERVICES
from qrstream.web.peers import PEERS

log = logging.getLogger("qrstream")

SHUTDOWN_TIMEOUT_S = 10.0
# aiohttp's default of 128 drops SYNs when hundreds of websockets (re)connect at once, and a
# dropped SYN costs the client a 1 s retransmit (bench/fanout.py); the kernel caps it at somaxconn.
LISTEN_BACKLOG = 4096

# The collector's thresholds once serving. A full (generation-2) collection walks every live
# object with the loop stopped: 0.8-1.35 s at 10,000 watched instances (~1.6M objects), and the
# frames due meanwhile come late. Python's default runs one after 10 generation-1 collections
# (two a minute there); 100 makes them rarer without keeping garbage long (the other limit, a
# quarter of the live objects promoted since the last one, still applies). bench/instances.py
# --gc, 10k instances, 60 s: default 2 full collections, 45-246 gaps > 21 s in 2 of 3 runs;
# (700, 10, 100): 1 full collection, 0 gaps.
GC_THRESHOLDS = (700, 10, 100)
# aiohttp's own default keeps an idle keep-alive connection for an hour; nginx's and run_app's 75 s.
KEEPALIVE_TIMEOUT_S = 75.0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"qrstream: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _prog() -> str:
    """The name the user started us by: `run.py`, `qrstream` (the installed command) or `python -m`."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if name in ("", "__main__.py"):
        return "python -m qrstream"
    return name


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=_prog(), description="Serve qrstream.")
    parser.add_argument("--host", help="listen address (QRSTREAM_HOST, default 127.0.0.1)")
    parser.add_argument("--port", help="listen port, 0 picks a free one (QRSTREAM_PORT, default 8080)")
    parser.add_argument("--db", help="SQLite file or postgresql:// URL (QRSTREAM_DB)")
    parser.add_argument("--bus", help="'memory' or a redis:// URL (QRSTREAM_BUS)")
    parser.add_argument("--public-url", help="base of every URL in a QR code (QRSTREAM_PUBLIC_URL)")
    parser.add_argument("--log-format", choices=["text", "json"], help="log lines as text or JSON")
    parser.add_argument("--demo", action="store_true", help="create a demo instance, card and verification")
    return parser


def build_config(argv: Sequence[str], env: Mapping[str, str]) -> tuple[Config, argparse.Namespace]:
    """Environment first, flags over it; ConfigError for anything unusable."""
    args = _parser().parse_args(list(argv))
    config = Config.from_env(env)
    changes: dict[str, object] = {}
    if args.host is not None:
        changes["host"] = args.host
    if args.port is not None:
        changes["port"] = parse_port(args.port, "--port")
    if args.db is not None:
        changes["db"] = args.db
    if args.bus is not None:
        changes["bus"] = args.bus
    if args.public_url is not None:
        changes["public_url"] = check_http_url(args.public_url, "--public-url", base=True)
    if args.log_format is not None:
        changes["log_format"] = args.log_format
    return (config.replace(**changes) if changes else config), args


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family = infos[0][0]
        return socket.create_server((host, port), family=family, reuse_port=False)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


async def serve(config: Config, *, demo: bool = False) -> int:
    # Signals first: a SIGINT or SIGTERM while the database opens still ends in a clean exit 0.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    sock = _bind(config.host, config.port)
    config = config.replace(port=sock.getsockname()[1])
    app = create_app(config)
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log_class=access_logger_for(config.log_format),
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        keepalive_timeout=KEEPALIVE_TIMEOUT_S,
    )
    try:
        await runner.setup()
    except (StoreError, BusError) as exc:
        sock.close()
        raise ConfigError(str(exc)) from None
    try:
        services = app[SERVICES]
        if services.secrets.admin_key_created:
            print(
                f"qrstream: generated admin key (stored in the database): {services.secrets.admin_key}",
                file=sys.stderr,
                flush=True,
            )
        if stop.is_set():  # told to stop while starting: never say ready
            return 0
        site = GuardedSite(runner, sock, app[PEERS], backlog=LISTEN_BACKLOG)
        await site.start()
        # Everything made so far (modules, app, caches' shells) lives as long as the process:
        # out of the collector's sight, a full collection walks only what requests made.
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        print(f"qrstream listening on {_listen_url(config)}", flush=True)
        log.info("event loop: %s", type(loop).__module__.partition(".")[0])  # uvloop or asyncio
        log.debug(
            "listen backlog %d, keep-alive %.0f s, header timeout %g s",
            LISTEN_BACKLOG,
            KEEPALIVE_TIMEOUT_S,
            config.header_timeout_s,
        )
        if demo:
            from qrstream.demo import create_demo

            print(await create_demo(app), flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
        ACCESS_LOG.flush()
    return 0


def run_loop(main: Coroutine[Any, Any, int], loop: str) -> int:
    """Run `main` on uvloop (the default, where it is installed) or on asyncio's own loop."""
    if loop == "uvloop":
        try:
            import uvloop
        except ImportError:  # not on this platform (a Linux dependency): the standard loop
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)


def _listen_url(config: Config) -> str:
    host = config.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{config.port}"


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Entry point of `run.py`, `python -m qrstream` and the installed `qrstream` command (whose
    wrapper passes the returned exit status to `sys.exit`)."""
    # Until the server installs its own handlers, SIGTERM stops it like Ctrl-C: exit 0.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return _main(sys.argv[1:] if argv is None else argv, os.environ if env is None else env)
    except KeyboardInterrupt:  # SIGINT or SIGTERM before the server took the signals over
        return 0


def _main(argv: Sequence[str], env: Mapping[str, str]) -> int:
    try:
        config, args = build_config(argv, env)
    except ConfigError as exc:
        print(f"qrstream: error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_format, config.log_level)
    try:
        return run_loop(serve(config, demo=args.demo), config.loop)
    except ConfigError as exc:
        print(f"qrstream: error: {exc}", file=sys.stderr)
        return 2

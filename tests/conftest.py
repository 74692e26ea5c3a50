"""Fixtures: a fake clock, a config on a real SQLite file, the real app on a real socket."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.web.app import create_app
from tests.clockkit import ParkedClock

pytest_plugins = ("tests.backends",)  # real PostgreSQL and Redis servers, when installed

PUBLIC_URL = "http://qr.test"
ADMIN_KEY = "test-admin-key"
SDK_KEY = "test-sdk-key"

ClientFactory = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
def clock() -> ParkedClock:
    return ParkedClock()


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "qrstream.db")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `scaleout` (every app test with QRSTREAM_TEST_BACKENDS=both) run twice: on the
    embedded defaults and on PostgreSQL + Redis."""
    if "backend" not in metafunc.fixturenames:
        return
    if os.environ.get("QRSTREAM_TEST_BACKENDS") == "both" or metafunc.definition.get_closest_marker(
        "scaleout"
    ):
        metafunc.parametrize("backend", ["embedded", "scaleout"], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """'embedded' (SQLite file, memory bus) unless the test is parametrized with 'scaleout'."""
    return str(getattr(request, "param", "embedded"))


@pytest.fixture
def config(db_path: str, backend: str, request: pytest.FixtureRequest) -> Config:
    base = Config(
        db=db_path,
        public_url=PUBLIC_URL,
        admin_key=ADMIN_KEY,
        sdk_keys=(SDK_KEY,),
        signing_keys=("signing-key-one", "signing-key-two"),
        webhook_allow_private=True,  # the tests' webhook receivers listen on loopback
    )
    if backend == "scaleout":
        return base.replace(
            db=request.getfixturevalue("postgres_url"), bus=request.getfixturevalue("redis_url")
        )
    return base


@pytest.fixture
def make_client(
    aiohttp_client: Any, clock: FakeClock
) -> Callable[..., Awaitable[TestClient[web.Request, web.Application]]]:
    """Start the real app for a config (and this test's fake clock) on a real socket."""

    async def make(config: Config, **kwargs: Any) -> TestClient[web.Request, web.Application]:
        return await aiohttp_client(create_app(config, clock=kwargs.pop("clock", clock)), **kwargs)  # type: ignore[no-any-return]

    return make


@pytest.fixture
async def client(make_client: ClientFactory, config: Config) -> TestClient[web.Request, web.Application]:
    return await make_client(config)


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def sdk_headers() -> dict[str, str]:
    return {"X-SDK-Key": SDK_KEY}

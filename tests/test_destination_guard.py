"""The delivery-time destination checks: a guarded aiohttp connector never connects inside (CONTRACT §10)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from qrstream.webhooks.client import DestinationRefused, GuardedResolver, guarded_socket, refused


class Answers(AbstractResolver):
    """A DNS that answers fixed addresses for every name: what a rebinding attacker's server does."""

    def __init__(self, *hosts: str) -> None:
        self.hosts = hosts

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        family_of = {True: socket.AF_INET6, False: socket.AF_INET}
        return [
            ResolveResult(
                hostname=host,
                host=h,
                port=port,
                family=family_of[":" in h],
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for h in self.hosts
        ]

    async def close(self) -> None:
        pass


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[TestServer, list[str]]]:
    """A real HTTP server on loopback that records every request it gets."""
    hits: list[str] = []

    async def record(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server, hits
    finally:
        await server.close()


def guarded_session(resolver: AbstractResolver | None = None) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        resolver=resolver or GuardedResolver(), socket_factory=guarded_socket, use_dns_cache=False
    )
    return aiohttp.ClientSession(connector=connector)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
async def test_guarded_connector_never_reaches_loopback(
    receiver: tuple[TestServer, list[str]], host: str
) -> None:
    """A literal loopback host, a name resolving to loopback and a mapped address are all refused;
    the receiver, which an unguarded client does reach, gets nothing."""
    server, hits = receiver
    url = f"http://{host}:{server.port}/hook"
    async with guarded_session() as session:
        with pytest.raises(aiohttp.ClientConnectorError) as caught:
            await session.post(url, data=b"{}")
    found = refused(caught.value)
    assert found is not None and found.kind == "loopback"
    assert str(caught.value.os_error) == "destination not allowed"
    assert hits == []
    async with (
        aiohttp.ClientSession() as open_session,
        open_session.post(f"http://127.0.0.1:{server.port}/control", data=b"{}") as resp,
    ):
        assert resp.status == 200
    assert hits == ["/control"]


async def test_a_name_with_any_internal_address_is_refused_whole() -> None:
    """One public and one internal answer: refused, whichever would have been tried first."""
    for answers in [("93.184.215.14", "127.0.0.1"), ("10.0.0.5", "93.184.215.14"), ("::1",)]:
        with pytest.raises(DestinationRefused):
            await GuardedResolver(Answers(*answers)).resolve("rebind.example", 80)
    ok = await GuardedResolver(Answers("93.184.215.14", "2606:4700::1111")).resolve("fine.example", 80)
    assert [r["host"] for r in ok] == ["93.184.215.14", "2606:4700::1111"]


async def test_rebinding_after_a_public_answer_is_caught_at_connect(
    receiver: tuple[TestServer, list[str]],
) -> None:
    """A name that resolves to loopback when the POST is made is refused, and nothing is sent."""
    server, hits = receiver
    async with guarded_session(GuardedResolver(Answers("127.0.0.1"))) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as caught:
            await session.post(f"http://rebind.example:{server.port}/hook", data=b"{}")
    assert refused(caught.value) is not None
    assert hits == []


def test_guarded_socket_is_made_for_public_addresses_only() -> None:
    """The socket factory refuses an internal address before any socket exists, and makes one otherwise."""
    with pytest.raises(DestinationRefused):
        guarded_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80)))
    with pytest.raises(DestinationRefused):
        guarded_socket((socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fe80::1", 80, 0, 2)))
    sock = guarded_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 80)))
    try:
        assert sock.family == socket.AF_INET
    finally:
        sock.close()

"""The delivery-time half of the webhook destination policy (`qrstream.destinations`), for aiohttp.

Two hooks on the client's `TCPConnector`, so that the check is made on what is connected to,
not on the URL text:

- `GuardedResolver` wraps the default resolver and refuses a name when ANY address it
  resolves to is internal (a name answering one public and one internal address is refused
  whole: which one is tried first is not ours to pick);
- `guarded_socket` is the connector's socket factory: it sees the exact address of every
  connection attempt, literal hosts included (aiohttp does not resolve those), and refuses
  an internal one before a socket exists.

Both raise `DestinationRefused`, an `OSError` that aiohttp carries as the `os_error` of its
`ClientConnectorError`; `refused()` finds it there.
"""

from __future__ import annotations

import socket

from aiohappyeyeballs import AddrInfoType
from aiohttp import ClientConnectorError
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from qrstream.destinations import NOT_ALLOWED, parse_address, refusal


class DestinationRefused(OSError):
    """A connection that the destination policy refused; its text never names the address."""

    def __init__(self, kind: str) -> None:
        super().__init__(NOT_ALLOWED)
        self.kind = kind


def _check(host: str) -> None:
    address = parse_address(host)
    kind = "unreadable" if address is None else refusal(address)
    if kind is not None:
        raise DestinationRefused(kind)


class GuardedResolver(AbstractResolver):
    """The default resolver, refusing a name any of whose addresses is internal."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            _check(result["host"])
        return results

    async def close(self) -> None:
        await self._inner.close()


def guarded_socket(addr_info: AddrInfoType) -> socket.socket:
    """A socket for one connection attempt, made only when its address is allowed."""
    family, kind, proto, _, sockaddr = addr_info
    _check(str(sockaddr[0]))
    return socket.socket(family=family, type=kind, proto=proto)


def refused(exc: BaseException) -> DestinationRefused | None:
    """The policy refusal behind an aiohttp connection error, if that is what it was."""
    if isinstance(exc, DestinationRefused):
        return exc
    if isinstance(exc, ClientConnectorError) and isinstance(exc.os_error, DestinationRefused):
        return exc.os_error
    cause = exc.__cause__
    return refused(cause) if cause is not None and cause is not exc else None

"""The webhook sender's HTTP side: an aiohttp ClientSession, one bounded POST per try.

A guarded session (for instance webhooks) connects only where `qrstream.destinations` allows:
the delivery-time half of that policy is two hooks on its `TCPConnector`, so that the check
is made on what is connected to, not on the URL text:

- `GuardedResolver` wraps the default resolver and refuses a name when ANY address it
  resolves to is internal (a name answering one public and one internal address is refused
  whole: which one is tried first is not ours to pick);
- `guarded_socket` is the connector's socket factory: it sees the exact address of every
  connection attempt, literal hosts included (aiohttp does not resolve those), and refuses
  an internal one before a socket exists.

Both raise `DestinationRefused`, an `OSError` that aiohttp carries as the `os_error` of its
`ClientConnectorError`; the POST turns it into `DestinationNotAllowed` (no retry).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from qrstream import __version__
from qrstream.destinations import NOT_ALLOWED, parse_address, refusal
from qrstream.webhooks.sender import DeliveryError, DestinationNotAllowed, Post

USER_AGENT = f"qrstream-webhooks/{__version__}"


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
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, DestinationRefused):
        return exc.os_error
    cause = exc.__cause__
    return refused(cause) if cause is not None and cause is not exc else None


def client_session(concurrency: int, *, guarded: bool = False) -> aiohttp.ClientSession:
    """A session for webhook POSTs: at most `concurrency` connections, no cookies kept; `guarded`:
    only to addresses the destination policy allows, every resolved and connected one checked."""
    if guarded:
        connector = aiohttp.TCPConnector(
            limit=concurrency, limit_per_host=0, resolver=GuardedResolver(), socket_factory=guarded_socket
        )
    else:
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0)
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": USER_AGENT},
    )


def make_post(session: aiohttp.ClientSession, timeout_s: float = 10.0) -> Post:
    """A `Post` over `session`: the body as bytes (so a Content-Length, never chunked),
    redirects not followed (a 3xx is not a delivery), each try bounded by `timeout_s`."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def post(url: str, body: bytes, headers: Mapping[str, str]) -> int:
        try:
            async with session.post(
                url, data=body, headers=dict(headers), timeout=timeout, allow_redirects=False
            ) as response:
                return response.status
        except TimeoutError:  # asyncio.TimeoutError is TimeoutError since 3.11
            raise DeliveryError(f"no answer within {timeout_s:g} s") from None
        except aiohttp.ClientConnectorError as exc:
            if refused(exc) is not None:
                raise DestinationNotAllowed() from None
            # Its text names host and port only, never the path or query (which may hold a secret).
            raise DeliveryError(f"cannot connect: {exc.os_error.strerror or exc.os_error}") from None
        except (aiohttp.ClientError, ValueError, OSError) as exc:
            # ClientError covers resets and bad responses, ValueError a bad URL: name only, as the
            # text of some of them quotes the URL.
            raise DeliveryError(type(exc).__name__) from None

    return post


__all__ = [
    "USER_AGENT",
    "DeliveryError",
    "DestinationNotAllowed",
    "DestinationRefused",
    "GuardedResolver",
    "client_session",
    "guarded_socket",
    "make_post",
    "refused",
]

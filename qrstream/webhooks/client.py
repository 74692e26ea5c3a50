"""The webhook sender's HTTP side: an aiohttp ClientSession, one bounded POST per try.

A guarded session (for instance webhooks) connects only where `qrstream.destinations` allows,
through `qrstream.webhooks.guard`; a refusal comes out of its POST as `DestinationNotAllowed`.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from qrstream import __version__
from qrstream.webhooks.guard import GuardedResolver, guarded_socket, refused
from qrstream.webhooks.sender import DeliveryError, DestinationNotAllowed, Post

USER_AGENT = f"qrstream-webhooks/{__version__}"


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


__all__ = ["USER_AGENT", "DeliveryError", "DestinationNotAllowed", "client_session", "make_post"]

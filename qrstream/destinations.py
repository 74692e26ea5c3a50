"""Where instance webhooks may go: no loopback, private or other internal address (CONTRACT §10).

`setSettings` is open to anyone holding an instance token, so a webhook URL is the caller's
choice of where the server sends a POST. Two checks keep that from reaching inside:

- at save time, a host that is a literal address (in any form the system's resolver reads as
  one: `[::1]`, `::ffff:127.0.0.1`, `2130706433`, `0x7f.1`, `017700000001`) is refused;
- at delivery, every address a name resolves to, and the address actually connected to, is
  checked again (`qrstream.webhooks.client`), so a name (or a DNS answer that changes
  between save and send) cannot get round the first.

The ranges are the standard library's (`ipaddress` flags), plus the shared address space of
RFC 6598 that `is_private` leaves out. An IPv4 address carried inside an IPv6 one (mapped,
NAT64, 6to4) is judged as well, since that is where the packet ends up.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import TypeAlias

Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

NOT_ALLOWED = "destination not allowed"
"""The reason a refused delivery is recorded with (`/admin/webhooks/failed`)."""

SHARED = ipaddress.ip_network("100.64.0.0/10")
"""RFC 6598 carrier-grade NAT space: internal, but not `is_private` in the standard library."""
NAT64 = ipaddress.ip_network("64:ff9b::/96")
"""RFC 6052 well-known NAT64 prefix: the last 32 bits are the IPv4 address reached."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _kind(address: Address) -> str | None:
    """Which internal kind `address` is (the first that applies), or None for a public one."""
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address in SHARED:
        return "shared"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    return None


def refusal(address: Address) -> str | None:
    """Why webhooks may not go to `address` ("loopback", "private", …), or None when they may."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            kind = _kind(inner)
            if kind is not None:
                return kind
            if address.ipv4_mapped is not None or address in NAT64:
                return None  # a translation of a public IPv4 address: judged by that address alone
    return _kind(address)


def is_allowed(address: Address) -> bool:
    """Whether an instance webhook may connect to `address`."""
    return refusal(address) is None


def parse_address(text: str) -> Address | None:
    """`text` as an address (scope ids kept out), or None when it is not one."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def literal_address(host: str) -> Address | None:
    """The address a URL host denotes without any DNS lookup, or None when it is a name.

    Beyond what `ipaddress` reads, the system resolver takes the old numeric forms
    (`2130706433`, `0x7f000001`, `127.1`, octal parts) as addresses; they are asked of it with
    `AI_NUMERICHOST`, which parses and never looks anything up.
    """
    host = host.strip("[]")
    address = parse_address(host)
    if address is not None:
        return address
    if not host or not all(c.isascii() and (c.isalnum() or c in ".:") for c in host):
        return None
    try:
        infos = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError):
        return None
    return parse_address(str(infos[0][4][0])) if infos else None


def host_refusal(host: str) -> str | None:
    """Why a webhook URL's host is refused at save time ("loopback", …), or None.

    Only literal addresses are judged here: a name is not resolved when saved (its answer may
    differ by the time anything is sent); delivery checks what it resolves to.
    """
    address = literal_address(host)
    return refusal(address) if address is not None else None


def host_problem(host: str, *, allow_private: bool) -> str | None:
    """What is wrong with an instance webhook URL's host, as the end of a sentence about the
    field ("must not point to a loopback address"), or None when it may be saved."""
    address = literal_address(host)
    if address is None:
        return None
    if address.version == 4 and host != str(address):
        # aiohttp refuses to connect to 2130706433, 127.1 and the like: no POST could ever arrive.
        return "must write an IPv4 address as four decimal numbers"
    kind = refusal(address)
    if kind is not None and not allow_private:
        return f"must not point to a {kind} address"
    return None

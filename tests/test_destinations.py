"""The webhook destination policy (CONTRACT §10): which addresses and hosts instance webhooks may reach."""

from __future__ import annotations

import ipaddress

import pytest

from qrstream.destinations import host_problem, host_refusal, is_allowed, literal_address, refusal

# One address from each refused range, and the kind it is refused as.
REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.1", "private"),
    ("10.255.255.254", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.1", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("100.64.0.1", "shared"),
    ("100.127.255.254", "shared"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("240.0.0.1", "private|reserved"),  # the standard library files 240/4 under both
    ("::7f00:1", "reserved"),  # IPv4-compatible IPv6, deprecated
    # An IPv4 address inside an IPv6 one is judged as the IPv4 address it reaches.
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.1.2.3", "private"),
    ("::ffff:169.254.169.254", "link-local"),
    ("64:ff9b::a9fe:a9fe", "link-local"),
    ("2002:7f00:1::1", "loopback"),
]

ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "172.32.0.1",
    "100.128.0.1",
    "2606:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize(("text", "kind"), REFUSED)
def test_each_internal_range_is_refused(text: str, kind: str) -> None:
    """Every range of §10 is refused, named by its kind; the edges of 172.16/12 and 100.64/10 too."""
    assert refusal(ipaddress.ip_address(text)) in kind.split("|")
    assert not is_allowed(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", ALLOWED)
def test_public_addresses_are_allowed(text: str) -> None:
    """Public addresses, just outside the private and shared ranges, and translations of public ones."""
    assert refusal(ipaddress.ip_address(text)) is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("fe80::1%eth0", "fe80::1"),
        ("2130706433", "127.0.0.1"),  # decimal
        ("0x7f000001", "127.0.0.1"),  # hexadecimal
        ("017700000001", "127.0.0.1"),  # octal
        ("0177.0.0.1", "127.0.0.1"),  # octal part
        ("127.1", "127.0.0.1"),  # short form
        ("0", "0.0.0.0"),
        ("2852039166", "169.254.169.254"),
    ],
)
def test_literal_forms_the_resolver_reads_as_addresses(host: str, expected: str) -> None:
    """Every numeric form the system resolver takes for an address is read as that address."""
    assert str(literal_address(host)) == expected


@pytest.mark.parametrize(
    "host", ["localhost", "example.com", "metadata.google.internal", "127.0.0.1.", "1e3", ""]
)
def test_names_are_not_literals(host: str) -> None:
    """A name (even one that resolves inside) is not judged when saved: no DNS at save time."""
    assert literal_address(host) is None
    assert host_refusal(host) is None


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("[::1]", "loopback"),
        ("2130706433", "loopback"),
        ("169.254.169.254", "link-local"),
        ("::ffff:192.168.0.1", "private"),
        ("8.8.8.8", None),
    ],
)
def test_host_refusal(host: str, kind: str | None) -> None:
    """A literal host is refused by the kind of its address; a public one is not."""
    assert host_refusal(host) == kind


@pytest.mark.parametrize(
    ("host", "allow_private", "problem"),
    [
        ("127.0.0.1", False, "must not point to a loopback address"),
        ("127.0.0.1", True, None),
        ("::ffff:a9fe:a9fe", False, "must not point to a link-local address"),
        ("2130706433", False, "must write an IPv4 address as four decimal numbers"),
        (
            "134744072",
            True,
            "must write an IPv4 address as four decimal numbers",
        ),  # 8.8.8.8: aiohttp refuses it
        ("8.8.8.8", False, None),
        ("localhost", False, None),
    ],
)
def test_host_problem(host: str, allow_private: bool, problem: str | None) -> None:
    """What setSettings says about a host: internal literals unless allowed; numeric forms never."""
    assert host_problem(host, allow_private=allow_private) == problem

"""Leases: which process does a job that must run in exactly one of them at a time.

An instance's QR rotation is such a job: with several processes watching one
instance, one of them renders and publishes each new frame and the others'
subscribers hear it on the bus. A lease is claimed for a time; claiming it again
before that time ends renews it; an owner that dies stops renewing, so the lease
runs out and another process's next claim takes it over.

With the in-memory bus each process streams to its own websockets only, so each
process owns every job (`LocalLeases`); a shared bus brings shared leases
(`RedisBus.leases()`).
"""

from __future__ import annotations

from typing import Protocol

from qrstream.bus import Bus


class Leases(Protocol):
    async def claim(self, name: str, ttl_s: float) -> bool:
        """Take or renew the lease `name` for `ttl_s` seconds; False while another process holds it."""
        ...

    async def claim_many(self, names: list[str], ttl_s: float) -> list[bool]:
        """`claim` for each name, in one trip: whether each was won, in order."""
        ...

    async def release(self, name: str) -> None:
        """Give the lease up now, if this process holds it."""
        ...


class LocalLeases:
    """One process: nobody to share with, every claim succeeds."""

    async def claim(self, name: str, ttl_s: float) -> bool:
        return True

    async def claim_many(self, names: list[str], ttl_s: float) -> list[bool]:
        return [True] * len(names)

    async def release(self, name: str) -> None:
        return None


def leases_for(bus: Bus) -> Leases:
    """The leases shared by the processes that share `bus`."""
    make = getattr(bus, "leases", None)
    return make() if callable(make) else LocalLeases()

"""The expiry sweeper: verifications become `expired` at `expires_at`, whether or not anyone looks."""

from __future__ import annotations

import asyncio
import logging

from qrstream.clock import Clock
from qrstream.outage import RoundFailures
from qrstream.verifications.service import Verifications

log = logging.getLogger(__name__)

MAX_NAP_S = 1.0
"""The longest sleep between sweeps: a verification made meanwhile (or by another process)
expires at most this late even if its expiry is earlier than the one the sweeper waits for."""


async def sweep_forever(verifications: Verifications, clock: Clock) -> None:
    """Expire what is due, sleep (on `clock`) until the next expiry or at most MAX_NAP_S, repeat."""
    failures = RoundFailures(log, "verification expiry sweep failed")
    while True:
        now = clock.now()
        wake = now + MAX_NAP_S
        try:
            await verifications.expire_due()
            next_expiry = await verifications.next_expiry()
            if next_expiry is not None and next_expiry > now:
                wake = min(wake, next_expiry)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a database hiccup or outage: try again on the next round
            failures.failed(exc)
        else:
            failures.succeeded()
        await clock.sleep_until(wake)

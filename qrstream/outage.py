"""How a background loop reports a failed round: a store outage in one line at most every
OUTAGE_LOG_EVERY_S (the loop retries by itself), anything else with its traceback, every time.

The webhook sender, the expiry sweeper and the QR rotation each run every second or so; during
a store outage a traceback a round would bury the one line that says what is wrong.
"""

from __future__ import annotations

import logging
import time

from qrstream.errors import StoreUnavailable

OUTAGE_LOG_EVERY_S = 10.0


class RoundFailures:
    """One loop's failed rounds, logged on `log` as `what` (what the round could not do)."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self._log = log
        self._what = what
        self._logged_at: float | None = None
        self._quiet = 0

    def failed(self, exc: BaseException) -> None:
        if not isinstance(exc, StoreUnavailable):
            self._log.error("%s", self._what, exc_info=exc)
            return
        now = time.monotonic()  # log pacing: wall time, not the domain clock
        if self._logged_at is not None and now - self._logged_at < OUTAGE_LOG_EVERY_S:
            self._quiet += 1
            return
        more = f" ({self._quiet} more since the last line)" if self._quiet else ""
        self._log.warning("%s: %s; retrying%s", self._what, exc, more)
        self._logged_at, self._quiet = now, 0

    def succeeded(self) -> None:
        if self._logged_at is not None:
            self._log.info("%s: working again", self._what)
            self._logged_at, self._quiet = None, 0

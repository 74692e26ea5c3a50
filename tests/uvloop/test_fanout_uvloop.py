"""The websocket fan-out on uvloop's transports."""

from __future__ import annotations

import asyncio

from qrstream.clock import FakeClock
from qrstream.config import Config
from tests.conftest import ClientFactory
from tests.test_instances_ws import never_reading_is_dropped


async def test_runs_on_uvloop() -> None:
    """This folder's tests really run on uvloop (else they would test nothing new)."""
    assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")


async def test_a_reader_that_never_reads_is_dropped_on_uvloop(
    make_client: ClientFactory, config: Config, clock: FakeClock
) -> None:
    """On uvloop too, a subscriber that never reads is skipped and then dropped (its connection
    closed, no longer counted as open) while another keeps getting every frame."""
    await never_reading_is_dropped(make_client, config, clock)

"""The shared core every API family receives: settings, clock, store, bus, renderer, secrets, links, outbox.

`open_services` opens it before any family starts and closes it after the last one
stopped: it owns the store, the bus and the render pool. The core itself is frozen:
what a family makes (its services, its background tasks) is the family's own.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from qrstream.admin_events import AdminEvents
from qrstream.announce import Announcer, Envelope
from qrstream.bus import Bus, open_bus
from qrstream.clock import Clock
from qrstream.config import Config
from qrstream.leases import Leases, leases_for
from qrstream.links import LinkFor, Links, RoutePaths
from qrstream.outbox import Outbox
from qrstream.qr.render import QrRenderer
from qrstream.store import Database, open_database
from qrstream.store.settings import get_or_create


@dataclass(frozen=True)
class Secrets:
    """Keys the server checks requests against."""

    admin_key: str
    signing_keys: tuple[str, ...]
    admin_key_created: bool = False

    @property
    def signing_key(self) -> str:
        """The key that signs; every one of `signing_keys` verifies."""
        return self.signing_keys[0]


@dataclass(frozen=True)
class Services:
    """What every family is handed when it starts; made whole at once, never filled in later."""

    config: Config
    clock: Clock
    db: Database
    bus: Bus
    renderer: QrRenderer
    secrets: Secrets
    base_url: str
    links: LinkFor
    """Absolute links to the server's named routes under `base_url` (what QR codes and answers hold)."""
    outbox: Outbox
    """Notifications written in a change's transaction, and the webhook sender's doorbell."""
    announcer: Announcer
    """How a committed change is told to its topic's live streams."""
    leases: Leases
    """Jobs that run in one process at a time (shared through the bus when it is Redis)."""
    events: AdminEvents
    """Where the families tell the admin event stream what happened (through the announcer)."""


def make_executor(workers: int) -> Executor | None:
    """A process pool for QR rendering (none when `workers` is 0)."""
    if workers <= 0:
        return None
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))


async def load_secrets(db: Database, config: Config) -> Secrets:
    """Configured keys win; otherwise the stored ones, generated once at first start."""
    created = False
    if config.admin_key:
        admin_key = config.admin_key
    else:
        admin_key, created = await get_or_create(db, "admin_key")
    if config.signing_keys:
        signing_keys = config.signing_keys
    else:
        key, _ = await get_or_create(db, "signing_key")
        signing_keys = (key,)
    return Secrets(admin_key=admin_key, signing_keys=signing_keys, admin_key_created=created)


@asynccontextmanager
async def open_services(
    config: Config, clock: Clock, *, envelope: Envelope, paths: RoutePaths
) -> AsyncIterator[Services]:
    """Open the store, the bus and the render pool and load the secrets; close them all on exit.
    Raises StoreError for a bad database, BusError for an unreachable bus. `envelope` is the
    websocket hub's bus message format, for the announcer; `paths` the router's named paths,
    for the links."""
    async with AsyncExitStack() as opened:
        db = await open_database(config.db)
        opened.push_async_callback(db.close)
        secrets = await load_secrets(db, config)
        bus = await open_bus(config.bus)
        opened.push_async_callback(bus.close)
        executor = make_executor(config.render_workers)
        if executor is not None:
            opened.callback(executor.shutdown, wait=False, cancel_futures=True)
        announcer = Announcer(bus, envelope)
        base_url = config.base_url()
        yield Services(
            config=config,
            clock=clock,
            db=db,
            bus=bus,
            renderer=QrRenderer(executor=executor, workers=config.render_workers),
            secrets=secrets,
            base_url=base_url,
            links=Links(base_url, paths),
            outbox=Outbox(db),
            announcer=announcer,
            events=AdminEvents(announcer),
            leases=leases_for(bus),
        )

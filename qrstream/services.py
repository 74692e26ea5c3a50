"""The shared core every API family stands on: settings, clock, store, bus, renderer, secrets."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import sys
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field

from qrstream.bus import Bus, open_bus
from qrstream.clock import Clock
from qrstream.config import Config
from qrstream.leases import Leases, LocalLeases, leases_for
from qrstream.qr.render import QrRenderer
from qrstream.store import Database, open_database
from qrstream.store.settings import get_or_create

log = logging.getLogger(__name__)


@dataclass
class Secrets:
    """Keys the server checks requests against."""

    admin_key: str
    signing_keys: tuple[str, ...]
    admin_key_created: bool = False

    @property
    def signing_key(self) -> str:
        """The key that signs; every one of `signing_keys` verifies."""
        return self.signing_keys[0]


@dataclass
class Services:
    config: Config
    clock: Clock
    db: Database
    bus: Bus
    renderer: QrRenderer
    secrets: Secrets
    base_url: str
    executor: Executor | None = None
    background: set[asyncio.Task[None]] = field(default_factory=set)
    pending_hooks: list[Callable[[], None]] = field(default_factory=list)
    leases: Leases = field(default_factory=LocalLeases)
    """Jobs that run in one process at a time (shared through the bus when it is Redis)."""

    def notify_pending(self) -> None:
        """Call after committing a notification: wakes the webhook sender now (it also polls ~1 s)."""
        for hook in list(self.pending_hooks):
            hook()

    def spawn(self, coro: object, name: str) -> asyncio.Task[None]:
        """Run a background task owned by the services; it is cancelled on close."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro, name=name)  # type: ignore[arg-type]
        self.background.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def close(self) -> None:
        for task in list(self.background):
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        await self.bus.close()
        await self.db.close()
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)


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


async def open_services(config: Config, clock: Clock) -> Services:
    """Open the store and the bus and load the secrets; raises StoreError for a bad database."""
    db = await open_database(config.db)
    try:
        secrets = await load_secrets(db, config)
        bus = await open_bus(config.bus)
    except BaseException:
        await db.close()
        raise
    executor = make_executor(config.render_workers)
    return Services(
        config=config,
        clock=clock,
        db=db,
        bus=bus,
        renderer=QrRenderer(executor=executor),
        secrets=secrets,
        base_url=config.base_url(),
        executor=executor,
        leases=leases_for(bus),
    )

"""A real HTTP webhook receiver for tests, and helpers that drive the fake clock until it hears."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy

from qrstream.clock import FakeClock
from qrstream.services import Services
from qrstream.store import Queries, deliveries
from qrstream.webhooks.sender import WebhookSender
from tests.clockkit import ParkedClock


@dataclass
class Hit:
    """One POST the receiver got, and what it answered."""

    path: str
    body: bytes
    headers: CIMultiDictProxy[str]
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Records every POST; answers each with `answer(hit_number, body)` (default 200).

    `arrived` lists each POST's body as soon as it is read, before a `hold` keeps it waiting;
    `hits` lists it once answered."""

    def __init__(self, answer: Callable[[int, bytes], int] | None = None) -> None:
        self.answer = answer or (lambda n, body: 200)
        self.hits: list[Hit] = []
        self.arrived: list[bytes] = []
        self.hold: asyncio.Event | None = None
        self._changed = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/{tail:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.arrived.append(body)
        self._changed.set()
        if self.hold is not None:
            await self.hold.wait()
        status = self.answer(len(self.hits), body)
        self.hits.append(Hit(request.path, body, request.headers, status))
        self._changed.set()
        return web.Response(status=status, text="ok")

    @property
    def accepted(self) -> list[Hit]:
        return [h for h in self.hits if 200 <= h.status < 300]

    async def changed(self, within: float) -> None:
        """Wait up to `within` real seconds for the next hit; none coming is not an error."""
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), within)


def answers(*statuses: int) -> Callable[[int, bytes], int]:
    """Answer the first hits with `statuses`, every later one with 200."""
    return lambda n, body: statuses[n] if n < len(statuses) else 200


async def drive(
    clock: FakeClock,
    until: Callable[[], Awaitable[bool]] | Callable[[], bool],
    *,
    receiver: Receiver | None = None,
    step: float = 1.0,
    limit: int = 2000,
) -> None:
    """Advance the fake clock `step` at a time until `until()` holds; the real wait between
    steps only lets sockets and the database catch up."""
    for _ in range(limit):
        done = until()
        if not isinstance(done, bool):
            done = await done
        if done:
            return
        await clock.advance(step)
        if receiver is not None:
            await receiver.changed(0.02)
        else:
            await asyncio.sleep(0.005)
    raise AssertionError("the condition never held")


WORK = WebhookSender._work.__code__  # a worker: the only code that POSTs
RUN = WebhookSender.run.__code__  # the loop that starts workers
WAIT = WebhookSender._wait.__code__  # where that loop waits for the poll time or a wake-up


def _awaiting(coro: object, code: CodeType) -> FrameType | None:
    """The frame of `code` in the chain of coroutines that the suspended `coro` awaits."""
    while coro is not None:
        frame = getattr(coro, "cr_frame", None)
        if frame is not None and frame.f_code is code:
            return frame  # type: ignore[no-any-return]
        coro = getattr(coro, "cr_await", None)
    return None


def _senders_idle(clock: ParkedClock) -> bool:
    """Every webhook worker of every app in this loop is parked on the clock or gone, and every
    sender's loop waits for its next poll, its clock wait not yet due."""
    runs = 0
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None)
        if task.done() or code not in (WORK, RUN):
            continue
        if code is WORK and not clock.parked(task):
            return False
        if code is RUN:
            runs += 1
            waiting = _awaiting(coro, WAIT)
            waits = waiting.f_locals.get("waits") if waiting is not None else None
            if not waits or any(w.done() for w in waits) or not clock.parked(waits[0]):
                return False
    assert runs, "no webhook sender is running"
    return True


async def _nothing_due(clock: FakeClock, db: Queries) -> bool:
    """No pending delivery is due with its lease free: there is nothing a sender should start."""
    now = clock.now()
    row = await db.fetchone(
        "SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?"
        " AND (lease_until IS NULL OR lease_until < ?)",
        now,
        now,
    )
    return row is not None and int(row["n"]) == 0


async def settle(clock: FakeClock, db: Queries, within: float = 30.0) -> None:
    """Wait (bounded, in real time) until the webhook senders are idle at the clock's time: no
    delivery is due, no worker is trying one, each sender's loop has looked and waits. From
    then on nothing is POSTed until the clock moves."""
    assert isinstance(clock, ParkedClock), "settle needs the tests' ParkedClock"
    async with asyncio.timeout(within):
        while True:
            if await _nothing_due(clock, db) and _senders_idle(clock):
                return
            await asyncio.sleep(0.002)  # the senders are busy: let them run


async def linger(clock: FakeClock, db: Queries, rounds: int, *, step: float = 600.0) -> None:
    """Let `rounds` steps of fake time pass, each one only once the senders are idle again (to
    check that nothing more comes, or that what came stays as it is)."""
    await settle(clock, db)
    for _ in range(rounds):
        await clock.advance(step)
        await settle(clock, db)


async def add_instance(services: Services, instance_id: int, webhook_url: str) -> None:
    """An instance row, as the instances API would store it."""
    now = services.clock.now()
    await services.db.execute(
        "INSERT INTO instances (id, token, state, webhook_url, created_at, updated_at)"
        " VALUES (?, ?, 'notAuthorized', ?, ?, ?)",
        instance_id,
        "t" * 50,
        webhook_url,
        now,
        now,
    )


async def change_state(services: Services, instance_id: int, state: str, *, wake: bool = True) -> int:
    """One stateInstanceChanged, written like the instances API: state and outbox in one transaction."""
    now = services.clock.now()
    async with services.db.transaction() as tx:
        await tx.execute(
            "UPDATE instances SET state = ?, updated_at = ? WHERE id = ?", state, now, instance_id
        )
        row = await tx.fetchone("SELECT wid, webhook_url FROM instances WHERE id = ?", instance_id)
        assert row is not None
        body = {
            "typeWebhook": "stateInstanceChanged",
            "instanceData": {"idInstance": instance_id, "wid": row["wid"], "typeInstance": "whatsapp"},
            "timestamp": int(now),
            "stateInstance": state,
        }
        receipt_id = await deliveries.add_notification(
            tx, body=body, now=now, instance_id=instance_id, webhook_url=row["webhook_url"]
        )
    if wake:
        services.outbox.ring()
    return receipt_id


async def delivery(services: Services, receipt_id: int) -> dict[str, Any]:
    row = await services.db.fetchone("SELECT * FROM deliveries WHERE receipt_id = ?", receipt_id)
    assert row is not None
    return dict(row)


def status_is(services: Services, receipt_id: int, status: str) -> Callable[[], Awaitable[bool]]:
    """A `drive` condition: the delivery of `receipt_id` has reached `status` in the database
    (the receiver hears a POST a moment before the sender records its answer)."""

    async def check() -> bool:
        return bool((await delivery(services, receipt_id))["status"] == status)

    return check


async def twenty_from_two_senders(
    clock: FakeClock,
    receiver: Receiver,
    senders: tuple[Services, Services],
    instance_id: int,
    state: Callable[[int], str],
) -> None:
    """Write 20 changes of one instance a second apart, alternately through two senders sharing a
    database, and check that each was accepted once, in order, its retries keeping its key."""
    svc, other = senders
    start_time = clock.now()
    receipts = []
    for n in range(20):
        clock.set(start_time + n)
        receipts.append(await change_state(svc if n % 2 else other, instance_id, state(n)))

    async def all_delivered() -> bool:
        return all([(await delivery(svc, r))["status"] == "delivered" for r in receipts])

    # Settled in the database (not only heard) before jumping far: a jump past a lease while a
    # POST is in flight lets the other sender take it over and send it again, as it should.
    await drive(clock, all_delivered, receiver=receiver)
    await linger(clock, svc.db, 3)

    stamps = [h.json()["timestamp"] for h in receiver.accepted]
    assert stamps == sorted(stamps) and len(stamps) == len(set(stamps)) == 20
    keys = [h.headers["Idempotency-Key"] for h in receiver.hits]
    for receipt_id in receipts:
        row = await delivery(svc, receipt_id)
        assert row["status"] == "delivered"
        assert keys.count(row["idempotency_key"]) == row["attempts"]

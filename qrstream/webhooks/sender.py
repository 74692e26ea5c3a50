"""Webhook delivery: every notification with a URL is POSTed until a 2xx, in order, nothing lost.

The deliveries are rows written with their notification (`Outbox.transaction`), so a
committed change is never forgotten, across restarts too. One worker per destination (an
instance, or a URL for verification webhooks) tries only its oldest pending delivery, so a
destination's notifications arrive in order and a dead receiver delays no one else.
A failed try is retried after an exponential backoff with full jitter, until the receiver
answers 2xx or `give_up_s` has passed since the notification was made; then it is kept as
`failed` (listed for the admin) and logged once. Before each try the destination is read
again: a removed URL gets nothing more, a changed one gets the rest, and the instance's
`webhookUrlToken` as it is then goes in the `Authorization` header. A destination that the
address policy refuses (`qrstream.destinations`; `DestinationNotAllowed` from the POST) fails
at once and for good: no retry can change where it leads.

The sender reads only the outbox's rows (`store.deliveries`); where an instance's webhooks
go is asked of the instances family (`InstanceWebhook`, handed over when the app is wired).
It looks for work when the outbox's doorbell rings and at each poll. The HTTP POST is
injected (`Post`; instance webhooks may get a guarded one of their own), so this module
knows no transport; all waiting is on the injected `Clock`, and the jitter comes from an
injectable `random.Random`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from qrstream.admin_events import AdminEvents
from qrstream.clock import Clock
from qrstream.destinations import NOT_ALLOWED
from qrstream.outage import RoundFailures
from qrstream.redact import mask_path
from qrstream.signing import hmac_hex
from qrstream.store import Database, Row
from qrstream.store import deliveries as rows

log = logging.getLogger(__name__)

Post = Callable[[str, bytes, Mapping[str, str]], Awaitable[int]]
"""POST `body` with `headers` to a URL; return the status, or raise DeliveryError."""

InstanceWebhook = Callable[[int], Awaitable[tuple[str, str]]]
"""An instance's webhook URL and webhookUrlToken as they are now ("" and "" once it is gone)."""


_SCHEME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+ +\S")
"""An RFC 9110 auth-scheme, a space, and credentials: `Basic …`, `Bearer …`, `Token …`."""


def authorization(token: str) -> str:
    """The `Authorization` of an instance's webhook POSTs for its webhookUrlToken: `Bearer <token>`,
    or the token as it is when it already starts with a scheme and a space."""
    return token if _SCHEME.match(token) else f"Bearer {token}"


class DeliveryError(Exception):
    """The receiver could not be reached, or did not answer in time."""


class DestinationNotAllowed(DeliveryError):
    """The destination resolves to an address webhooks may not reach: trying again cannot help."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped, until a deadline after creation."""

    base_s: float = 1.0
    max_backoff_s: float = 3600.0
    give_up_s: float = 86400.0

    def delay(self, attempts: int, jitter: float) -> float:
        """The wait after `attempts` failed tries: uniform in [0, min(cap, base·2^(attempts-1)))."""
        ceiling = min(self.max_backoff_s, self.base_s * 2.0 ** min(max(attempts - 1, 0), 60))
        return ceiling * jitter

    def next_try(self, *, created_at: float, now: float, attempts: int, jitter: float) -> float | None:
        """When to try again after `attempts` failed tries, or None to give up.

        The last try is made at the deadline itself, so giving up always follows a failure
        at or after `give_up_s`.
        """
        deadline = created_at + self.give_up_s
        if now >= deadline:
            return None
        return min(now + self.delay(attempts, jitter), deadline)


def loggable_url(url: str) -> str:
    """The URL without user info, with secret-looking query values masked."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return f"{parts.scheme}://{host}{mask_path(path)}"


class WebhookSender:
    """Finds destinations with pending deliveries and runs one worker for each."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        post: Post,
        signing_key: str,
        policy: RetryPolicy,
        doorbell: asyncio.Event,
        instance_webhook: InstanceWebhook,
        default_url: str = "",
        instance_post: Post | None = None,
        rng: random.Random | None = None,
        poll_s: float = 1.0,
        lease_s: float = 60.0,
        concurrency: int = 32,
        max_workers: int = 10_000,
        events: AdminEvents | None = None,
    ) -> None:
        self.db = db
        self._events = events
        self.clock = clock
        self.policy = policy
        self.rng = rng if rng is not None else random.Random()
        self._post = post
        self._instance_post = instance_post if instance_post is not None else post
        self._signing_key = signing_key
        self._default_url = default_url
        self._instance_webhook = instance_webhook
        self._poll_s = poll_s
        self._lease_s = lease_s
        self._max_workers = max_workers
        self._slots = asyncio.Semaphore(concurrency)
        self._doorbell = doorbell
        self._workers: dict[str, asyncio.Task[None]] = {}
        self.owner = uuid.uuid4().hex
        self._failures = RoundFailures(log, "webhook sender could not read pending deliveries")
        self._worker_failures = RoundFailures(log, "webhook worker failed")

    async def run(self) -> None:
        """Poll (and look at once when the doorbell rings) until cancelled; then stop every worker."""
        try:
            while True:
                self._doorbell.clear()
                try:
                    await self._start_workers()
                except Exception as exc:
                    self._failures.failed(exc)
                else:
                    self._failures.succeeded()
                await self._wait(self.clock.now() + self._poll_s)
        finally:
            workers = list(self._workers.values())
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _wait(self, deadline: float) -> None:
        waits = [
            asyncio.ensure_future(self.clock.sleep_until(deadline)),
            asyncio.ensure_future(self._doorbell.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def _start_workers(self) -> None:
        room = self._max_workers - len(self._workers)
        if room <= 0:
            return
        for destination in await rows.idle_destinations(
            self.db, self.clock.now(), room + len(self._workers), self.owner
        ):
            if destination in self._workers or len(self._workers) >= self._max_workers:
                continue
            task = asyncio.get_running_loop().create_task(
                self._work(destination), name=f"webhooks {destination.split(':', 1)[0]}"
            )
            self._workers[destination] = task
            task.add_done_callback(functools.partial(self._worker_done, destination))

    def _worker_done(self, destination: str, task: asyncio.Task[None]) -> None:
        if self._workers.get(destination) is task:
            del self._workers[destination]
        exc = None if task.cancelled() else task.exception()
        if exc is not None:  # its deliveries stay pending: the next poll starts a worker again
            self._worker_failures.failed(exc)

    async def _work(self, destination: str) -> None:
        """Deliver `destination`'s pending notifications one after another, oldest first."""
        while True:
            delivery = await rows.head(self.db, destination)
            if delivery is None:
                return
            now = self.clock.now()
            lease = delivery["lease_until"]
            # One worker per destination in this process: a lease of ours is one a dead worker left.
            if lease is not None and lease >= now and delivery["owner"] != self.owner:
                return  # another process is trying it; the poll looks again when its lease ends
            if delivery["next_attempt_at"] > now:
                await self.clock.sleep_until(delivery["next_attempt_at"])
                continue  # read it again: it may have been settled meanwhile
            # The slot is taken before the lease, so that waiting for one never eats into the lease.
            async with self._slots:
                now = self.clock.now()
                if not await rows.claim(self.db, delivery, self.owner, now, now + self._lease_s):
                    continue  # another process got there first, or it is no longer due: read again
                try:
                    await self._try(delivery)
                except asyncio.CancelledError:
                    await asyncio.shield(rows.release(self.db, delivery["id"], self.owner))
                    raise

    async def _destination(self, delivery: Row) -> tuple[str, str]:
        """Where the delivery goes now and the `Authorization` to send (or ""): the instance's URL
        and webhookUrlToken as they are today, else the configured URL with none."""
        if delivery["instance_id"] is None:
            return self._default_url, ""
        url, token = await self._instance_webhook(int(delivery["instance_id"]))
        return url, authorization(token) if token else ""

    async def _try(self, delivery: Row) -> None:
        """One try of a leased delivery (holding a slot), and its outcome recorded."""
        did, owner = delivery["id"], self.owner
        if delivery["body"] is None:
            await rows.cancelled(self.db, did, owner, now=self.clock.now(), reason="notification removed")
            return
        url, credentials = await self._destination(delivery)
        if not url:
            await rows.cancelled(self.db, did, owner, now=self.clock.now(), reason="webhook URL removed")
            log.info("webhook %s cancelled: its URL was removed", delivery["receipt_id"])
            return
        body = str(delivery["body"]).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Qrstream-Signature": f"sha256={hmac_hex(self._signing_key, body)}",
            "Idempotency-Key": str(delivery["idempotency_key"]),
        }
        if credentials:
            headers["Authorization"] = credentials
        error: str | None = None
        final = False
        post = self._post if delivery["instance_id"] is None else self._instance_post
        try:
            status = await post(url, body, headers)
        except DestinationNotAllowed:
            error, final = NOT_ALLOWED, True
        except DeliveryError as exc:
            error = str(exc) or type(exc).__name__
        else:
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        now = self.clock.now()
        if error is None:
            await rows.delivered(self.db, did, owner, url=url, now=now)
            return
        attempts = int(delivery["attempts"]) + 1
        created_at = float(delivery["created_at"])
        when = None
        if not final:
            when = self.policy.next_try(
                created_at=created_at, now=now, attempts=attempts, jitter=self.rng.random()
            )
        if when is not None:
            await rows.retry_at(self.db, did, owner, url=url, when=when, error=error)
            return
        if not await rows.gave_up(self.db, did, owner, url=url, now=now, error=error):
            return
        if final:
            log.warning("webhook %s to %s not sent: %s", delivery["receipt_id"], loggable_url(url), error)
        else:
            log.warning(
                "webhook %s to %s given up after %d tries over %.0f s; last error: %s",
                delivery["receipt_id"],
                loggable_url(url),
                attempts,
                now - created_at,
                error,
            )
        if self._events is not None:
            await self._events.webhook_failed(url, error, now)

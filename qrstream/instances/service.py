"""Instances (the Green API account model): credentials, settings, logout, reboot, deletion.

States: `notAuthorized` → `authorized` when a pairing code is redeemed (`linking`), back
to `notAuthorized` on logout (which bumps the generation, so every earlier code is dead);
any state → `starting` on reboot → the state it had, `REBOOT_S` later.
Every move is one conditional write, and every change of `stateInstance` writes its
`stateInstanceChanged` notification in the same transaction (the outbox).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from qrstream.destinations import host_problem
from qrstream.errors import BadRequest, NotFound, Unauthorized
from qrstream.hotcache import HotCache
from qrstream.instances import settings as instance_settings
from qrstream.instances.events import DELETED, record_change, topic
from qrstream.instances.inbox import Inbox
from qrstream.instances.pairing_links import end_links
from qrstream.paging import PageRequest, fetch_page
from qrstream.services import Services
from qrstream.signing import same_secret
from qrstream.store import Queries, Row
from qrstream.tasks import TaskSet
from qrstream.urls import is_http_url

NOT_AUTHORIZED = "notAuthorized"
AUTHORIZED = "authorized"
STARTING = "starting"
REBOOT_S = 2.0
"""How long a rebooting instance stays `starting`."""

_DUMMY_TOKEN = "0" * 50  # compared against when the id is unknown: the same work either way
_COLUMNS = (
    "id, token, state, wid, webhook_url, webhook_url_token, state_webhook, generation, resume_state,"
    " starting_until, created_at"
)
MANY_CHUNK = 500
"""Ids per query of `get_many` (well under every backend's limit on parameters)."""
_CHANGED = "state, wid, webhook_url, state_webhook"
"""What a state move returns: enough to write its notification (or, with stateWebhook no, not)."""
CACHE_TOPIC = "cache:instances"
"""The bus topic on which every process tells the others which instance's row changed."""


@dataclass(frozen=True, slots=True)
class Instance:
    id: int
    token: str
    state: str
    wid: str
    webhook_url: str
    webhook_url_token: str
    state_webhook: str
    generation: int
    resume_state: str
    starting_until: float | None
    created_at: float

    @property
    def logged_in(self) -> bool:
        """Authorized, or starting on the way back to authorized."""
        return self.state == AUTHORIZED or (self.state == STARTING and self.resume_state == AUTHORIZED)

    @classmethod
    def from_row(cls, row: Row) -> Instance:
        return cls(
            id=int(row["id"]),
            token=str(row["token"]),
            state=str(row["state"]),
            wid=str(row["wid"]),
            webhook_url=str(row["webhook_url"]),
            webhook_url_token=str(row["webhook_url_token"]),
            state_webhook=str(row["state_webhook"]),
            generation=int(row["generation"]),
            resume_state=str(row["resume_state"]),
            starting_until=row["starting_until"],
            created_at=float(row["created_at"]),
        )


def check_webhook_url(value: object, field: str = "webhookUrl", *, allow_private: bool) -> str:
    """An absolute http(s) URL, or "" for none; BadRequest otherwise. Unless `allow_private`
    (QRSTREAM_WEBHOOK_ALLOW_PRIVATE), a literal internal address is refused (`destinations`)."""
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be a string", field=field)
    value = value.strip()
    # is_http_url also refuses bad ports, whitespace, control characters and over-long URLs,
    # which would otherwise be retried for a day as undeliverable webhooks.
    if value and not is_http_url(value):
        raise BadRequest(f"{field} must be an absolute http(s) URL", field=field)
    problem = host_problem(urlsplit(value).hostname or "", allow_private=allow_private) if value else None
    if problem is not None:
        raise BadRequest(f"{field} {problem}", field=field)
    return value


def parse_id(raw: str) -> int | None:
    """An idInstance from a path: digits only, else None."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        return None
    return int(raw)


class Instances:
    """The instance store and its state moves."""

    def __init__(self, services: Services, inbox: Inbox, tasks: TaskSet) -> None:
        """`tasks` runs the ends of reboots (owned by the family's cleanup context)."""
        self.services = services
        self.inbox = inbox
        self._tasks = tasks
        self._db = services.db
        self._clock = services.clock
        self.cache: HotCache[Instance] = HotCache(services.bus, CACHE_TOPIC, services.clock)
        """Rows for the `qr` method (`authenticate(cached=True)`); started by the family's context."""

    async def create(self, webhook_url: str = "") -> Instance:
        """A new `notAuthorized` instance with a random 10-digit id and a 50-hex token."""
        now = self._clock.now()
        while True:
            instance_id = secrets.randbelow(9 * 10**9) + 10**9
            token = secrets.token_hex(25)
            row = await self._db.fetchone(
                "INSERT INTO instances (id, token, state, webhook_url, created_at, updated_at)"
                f" VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING {_COLUMNS}",
                instance_id,
                token,
                NOT_AUTHORIZED,
                webhook_url,
                now,
                now,
            )
            if row is not None:
                await self.services.events.instance(instance_id, NOT_AUTHORIZED, now)
                return Instance.from_row(row)

    async def get(self, instance_id: int) -> Instance | None:
        """The instance as it is now (a reboot whose time is up is finished first)."""
        row = await self._db.fetchone(f"SELECT {_COLUMNS} FROM instances WHERE id = ?", instance_id)
        if row is None:
            return None
        instance = Instance.from_row(row)
        if instance.state == STARTING and (instance.starting_until or 0) <= self._clock.now():
            await self.finish_reboot(instance_id)
            return await self.get(instance_id)
        return instance

    async def get_many(self, instance_ids: list[int]) -> dict[int, Instance]:
        """The instances of `instance_ids` that exist, as they are now, in one query per
        `MANY_CHUNK` ids (a reboot whose time is up is finished first, as by `get`)."""
        found: dict[int, Instance] = {}
        for i in range(0, len(instance_ids), MANY_CHUNK):
            chunk = instance_ids[i : i + MANY_CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = await self._db.fetchall(f"SELECT {_COLUMNS} FROM instances WHERE id IN ({marks})", *chunk)
            for row in rows:
                instance = Instance.from_row(row)
                found[instance.id] = instance
        now = self._clock.now()
        for instance in list(found.values()):
            if instance.state == STARTING and (instance.starting_until or 0) <= now:
                again = await self.get(instance.id)
                if again is None:
                    del found[instance.id]
                else:
                    found[instance.id] = again
        return found

    async def require(self, instance_id: int) -> Instance:
        instance = await self.get(instance_id)
        if instance is None:
            raise NotFound("Instance not found")
        return instance

    async def authenticate(self, raw_id: str, token: str, *, cached: bool = False) -> Instance:
        """The instance named by a path's id and token; 401 alike for an unknown id or a wrong token.

        `cached`: the row may come from this process's cache (kept right by every change through
        `changed`, `save_settings` and `delete`), for the hot `qr` path. A `starting` instance is
        never cached: its end is a time (`starting_until`) the store read acts on."""
        instance_id = parse_id(raw_id)
        instance = None
        if instance_id is not None:
            if cached:
                key = str(instance_id)
                instance = self.cache.get(key)
                if instance is None:
                    fill = self.cache.token()
                    instance = await self.get(instance_id)
                    if instance is not None and instance.state != STARTING:
                        self.cache.put(fill, key, instance, tag=key)
            else:
                instance = await self.get(instance_id)
        matches = same_secret(token, instance.token if instance is not None else _DUMMY_TOKEN)
        if instance is None or not matches:
            raise Unauthorized("Unauthorized")
        return instance

    async def save_settings(self, instance: Instance, change: instance_settings.SettingsChange) -> None:
        """setSettings: every given setting at once, the others as they were."""
        async with self._db.transaction() as tx:
            await instance_settings.save(tx, instance.id, change, self._clock.now())
        await self.cache.invalidate(str(instance.id))

    async def settings(self, instance: Instance) -> dict[str, object]:
        """getSettings: the acting settings, then every stored one (defaults for those never set)."""
        rows = await self._db.fetchall(
            "SELECT name, value FROM instance_settings WHERE instance_id = ?", instance.id
        )
        return {
            "wid": instance.wid,
            "webhookUrl": instance.webhook_url,
            "webhookUrlToken": instance.webhook_url_token,
            "stateWebhook": instance.state_webhook,
            **instance_settings.stored_view(rows),
        }

    async def changed(self, instance_id: int, state: str, now: float) -> None:
        """After a committed change to `state`: wake the long polls (the outbox rang the webhook
        sender), drop the row from every process's cache and tell the admin event stream."""
        await self.cache.invalidate(str(instance_id))  # before the stream hears of the change
        await self.inbox.wake(instance_id)
        await self.services.events.instance(instance_id, state, now)

    async def page(self, request: PageRequest) -> tuple[list[Instance], str | None]:
        """One page of every instance, newest first (CONTRACT §7)."""
        page = await fetch_page(self._db, request, select=f"SELECT {_COLUMNS} FROM instances")
        return [Instance.from_row(row) for row in page.rows], page.next

    async def logout(self, instance: Instance) -> None:
        """Back to `notAuthorized` with a new generation (no change when already there)."""
        now = self._clock.now()
        await self._move(
            instance.id,
            now,
            "UPDATE instances SET state = ?, wid = '', generation = generation + 1, resume_state = '',"
            " starting_until = NULL, updated_at = ? WHERE id = ? AND state <> ?"
            f" RETURNING {_CHANGED}",
            NOT_AUTHORIZED,
            now,
            instance.id,
            NOT_AUTHORIZED,
            old_wid=True,
            ends_links=True,
        )

    async def reboot(self, instance: Instance) -> None:
        """`starting` now, and back to the current state `REBOOT_S` later (no change when starting)."""
        now = self._clock.now()
        until = now + REBOOT_S
        moved = await self._move(
            instance.id,
            now,
            "UPDATE instances SET state = ?, resume_state = state, starting_until = ?, updated_at = ?"
            f" WHERE id = ? AND state <> ? RETURNING {_CHANGED}",
            STARTING,
            until,
            now,
            instance.id,
            STARTING,
        )
        if moved:
            self.schedule_reboot_end(instance.id, until)

    async def _move(
        self,
        instance_id: int,
        now: float,
        update: str,
        *args: object,
        old_wid: bool = False,
        ends_links: bool = False,
    ) -> bool:
        """Run one conditional `UPDATE … RETURNING state, wid, webhook_url, state_webhook`; when it
        matched, record the change in the same transaction and announce it (one winner, one
        notification). With `old_wid`, the notification carries the wid from before the update.
        The instance's pairing links die in that transaction too when `ends_links` (logout) or
        when the move lands on `authorized`."""
        async with self.services.outbox.transaction() as tx:
            before = None
            if old_wid:
                before = await tx.fetchone("SELECT wid FROM instances WHERE id = ?", instance_id)
            row = await tx.fetchone(update, *args)
            if row is None or (old_wid and before is None):
                return False
            state = str(row["state"])
            await record_change(
                tx,
                instance_id=instance_id,
                wid=str((before or row)["wid"]),
                state=state,
                webhook_url=str(row["webhook_url"]),
                state_webhook=str(row["state_webhook"]),
                now=now,
            )
            if ends_links or row["state"] == AUTHORIZED:
                await end_links(tx, instance_id)
        await self.changed(instance_id, state, now)
        return True

    def schedule_reboot_end(self, instance_id: int, until: float) -> None:
        async def finish() -> None:
            await self._clock.sleep_until(until)
            await self.finish_reboot(instance_id)

        self._tasks.spawn(finish(), f"reboot-{instance_id}")

    async def finish_reboot(self, instance_id: int) -> None:
        """End a reboot whose time is up: back to the state it had (one winner, one notification)."""
        now = self._clock.now()
        await self._move(
            instance_id,
            now,
            "UPDATE instances SET state = resume_state, resume_state = '', starting_until = NULL,"
            " updated_at = ? WHERE id = ? AND state = ? AND starting_until <= ?"
            f" RETURNING {_CHANGED}",
            now,
            instance_id,
            STARTING,
            now,
        )

    async def resume_reboots(self) -> None:
        """At start: finish the reboots a previous run left behind, on their schedule."""
        rows = await self._db.fetchall("SELECT id, starting_until FROM instances WHERE state = ?", STARTING)
        for row in rows:
            self.schedule_reboot_end(int(row["id"]), float(row["starting_until"] or 0))

    async def delete(self, instance_id: int) -> bool:
        """Remove the instance, its pairing codes, settings and links; its streams get a final error."""
        async with self._db.transaction() as tx:
            deleted = await tx.execute("DELETE FROM instances WHERE id = ?", instance_id)
            await tx.execute("DELETE FROM auth_codes WHERE instance_id = ?", instance_id)
            await tx.execute("DELETE FROM instance_settings WHERE instance_id = ?", instance_id)
            await end_links(tx, instance_id)
        if deleted:
            await self.cache.invalidate(str(instance_id))
            await self.services.announcer.announce(topic(instance_id), DELETED, final=True)
            await self.services.events.instance_deleted(instance_id, self._clock.now())
        return deleted == 1


async def instance_webhook(db: Queries, instance_id: int) -> tuple[str, str]:
    """Where the instance's webhooks go now: its URL and `webhookUrlToken` ("" and "" once it is
    deleted). The webhook sender reads this before each try; the app hands it over when wired,
    so only this family reads its table."""
    row = await db.fetchone("SELECT webhook_url, webhook_url_token FROM instances WHERE id = ?", instance_id)
    if row is None:
        return "", ""
    return str(row["webhook_url"] or ""), str(row["webhook_url_token"] or "")

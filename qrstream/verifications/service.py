"""Verification handoff: the status machine over the stored records (see `verification_records`).

    generated ──start──▶ in_progress ──complete──▶ completed | failed
        │                     │
        └──────── expired ◀───┘   (at expires_at, whether or not anyone looks)

Every move is one conditional write (`UPDATE … WHERE id = ? AND status = ? …`): of
concurrent attempts exactly one changes a row. The webhook notification is written in
the same transaction (the outbox); the change is announced only after the commit.

`start` hands the browser that wins it a resumeToken, of which only the hash is stored (in
the same write as the move). That token resumes the start (the same answer again, after a
reload) and is required to `complete`: a link opened by anyone else cannot finish it.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from qrstream.errors import Conflict, Forbidden, NotFound
from qrstream.hotcache import HotCache
from qrstream.outbox import Change
from qrstream.paging import PageRequest, fetch_page
from qrstream.services import Services
from qrstream.verifications.records import (
    EXPIRED,
    FINAL,
    GENERATED,
    ID_PATTERN,
    IN_PROGRESS,
    OPEN,
    Verification,
    new_id,
    new_resume_token,
    resume_hash,
    to_json,
    topic,
)

log = logging.getLogger(__name__)


NOT_THE_STARTER = "Only the browser that started this verification can complete it"
CACHE_TOPIC = "cache:verifications"
"""The bus topic on which every process tells the others which verification moved."""


class Verifications:
    """The verification store and its status machine, on the core's clock."""

    def __init__(self, core: Services) -> None:
        self._db = core.db
        self._clock = core.clock
        self._outbox = core.outbox
        self._announcer = core.announcer
        self._ttl_s = core.config.verification_ttl_s
        self._webhook_url = core.config.webhook_url or ""
        self._events = core.events
        self.cache: HotCache[Verification] = HotCache(core.bus, CACHE_TOPIC, core.clock)
        """Verifications in `generated`, for the QR endpoint (`qr_ready`); started by the family."""

    async def create(
        self, extra_data: dict[str, Any] | None = None, return_url: str | None = None
    ) -> Verification:
        """A new verification in `generated`, expiring `ttl_s` from now."""
        now = self._clock.now()
        verification = Verification(new_id(), GENERATED, extra_data, return_url, now, now, now + self._ttl_s)
        await self._db.execute(
            "INSERT INTO verifications"
            " (id, status, extra_data, return_url, created_at, updated_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            verification.id,
            GENERATED,
            to_json(extra_data) if extra_data is not None else None,
            return_url,
            now,
            now,
            verification.expires_at,
        )
        await self._events.verification(verification.id, GENERATED, now)
        return verification

    async def page(
        self, request: PageRequest, status: str | None = None
    ) -> tuple[list[Verification], str | None]:
        """One page of verifications (of one status, as of now), newest first (CONTRACT §7).
        One whose time is up is expired on the spot, as a single read would."""
        now = self._clock.now()
        where: list[str] = []
        args: list[Any] = []
        if status == EXPIRED:
            where.append("(status = ? OR (status IN (?, ?) AND expires_at <= ?))")
            args += [EXPIRED, *OPEN, now]
        elif status in OPEN:
            where.append("status = ? AND expires_at > ?")
            args += [status, now]
        elif status is not None:
            where.append("status = ?")
            args.append(status)
        page = await fetch_page(
            self._db, request, select="SELECT * FROM verifications", where=where, args=args
        )
        found = []
        for row in page.rows:
            verification = Verification.from_row(row)
            if verification.status in OPEN and verification.expires_at <= now:
                verification = await self._expire(verification.id) or await self.get(verification.id)
            found.append(verification)
        return found, page.next

    async def get(self, verification_id: str) -> Verification:
        """The verification as of now (expiring it on the spot when due), or NotFound."""
        if not ID_PATTERN.fullmatch(verification_id):
            raise NotFound("Verification not found")
        row = await self._db.fetchone("SELECT * FROM verifications WHERE id = ?", verification_id)
        if row is None:
            raise NotFound("Verification not found")
        verification = Verification.from_row(row)
        if verification.status in OPEN and verification.expires_at <= self._clock.now():
            expired = await self._expire(verification.id)
            return expired or await self.get(verification_id)
        return verification

    async def qr_ready(self, verification_id: str) -> Verification:
        """`get` for the hot QR endpoint: a `generated` one comes from this process's cache until
        its `expires_at` (on the injected clock) or its next move (`_write`, in any process)."""
        found = self.cache.get(verification_id)
        if found is not None:
            return found
        fill = self.cache.token()
        verification = await self.get(verification_id)
        if verification.status == GENERATED:
            until = verification.expires_at
            self.cache.put(fill, verification.id, verification, tag=verification.id, until=until)
        return verification

    async def start(self, verification_id: str, resume_token: str | None = None) -> tuple[Verification, str]:
        """`generated` → `in_progress`, with a new resumeToken: (the verification, the token).

        With the token it was started with, while still `in_progress`: the same answer again,
        and nothing changes. Otherwise Conflict (with current_status), a wrong token included.
        """
        if resume_token is not None:
            current = await self.get(verification_id)
            if current.status == IN_PROGRESS and current.resumable_by(resume_token):
                return current, resume_token
        token = new_resume_token()
        moved = await self._move(verification_id, GENERATED, IN_PROGRESS, resume_hash=resume_hash(token))
        if moved is None:
            await self._refuse(verification_id, GENERATED, "start")
        return moved, token

    async def complete(self, verification_id: str, status: str, resume_token: str | None) -> Verification:
        """`in_progress` → `completed` or `failed`, for the holder of the resumeToken only.

        Checked in order: the id (NotFound), the status (Conflict unless `in_progress`, as for
        `start`, which tells anyone the status too), then the token (Forbidden: started, but by
        another browser). A token cannot be right before a start, and after the end there is
        nothing left to protect, so the status goes first.
        """
        current = await self.get(verification_id)
        if current.status != IN_PROGRESS:
            raise _conflict(IN_PROGRESS, "complete", current.status)
        if not current.resumable_by(resume_token):
            raise Forbidden(NOT_THE_STARTER)
        moved = await self._move(verification_id, IN_PROGRESS, status, resume_hash=current.resume_hash)
        if moved is None:
            await self._refuse(verification_id, IN_PROGRESS, "complete")
        return moved

    async def _move(
        self, verification_id: str, source: str, target: str, *, resume_hash: str | None
    ) -> Verification | None:
        """One conditional move from `source`, setting the resume hash; None when nothing moved."""
        if not ID_PATTERN.fullmatch(verification_id):
            return None
        now = self._clock.now()
        return await self._write(
            "UPDATE verifications SET status = ?, updated_at = ?, resume_hash = ? "
            "WHERE id = ? AND status = ? AND expires_at > ?",
            (target, now, resume_hash, verification_id, source, now),
            verification_id,
            now,
        )

    async def _refuse(self, verification_id: str, source: str, action: str) -> NoReturn:
        """Raise NotFound, or Conflict with the status the verification is in now."""
        current = await self.get(verification_id)
        raise _conflict(source, action, current.status)

    async def _expire(self, verification_id: str) -> Verification | None:
        """Move an open, due verification to `expired`; None when someone else moved it first."""
        now = self._clock.now()
        return await self._write(
            "UPDATE verifications SET status = ?, updated_at = ? "
            "WHERE id = ? AND status IN (?, ?) AND expires_at <= ?",
            (EXPIRED, now, verification_id, *OPEN, now),
            verification_id,
            now,
        )

    async def _write(
        self, sql: str, args: tuple[Any, ...], verification_id: str, now: float
    ) -> Verification | None:
        """One conditional write, plus the webhook outbox row in the same transaction;
        announce it after the commit (final statuses close the streams). None when the write
        changed nothing."""
        async with self._outbox.transaction() as tx:
            if await tx.execute(sql, *args) != 1:
                return None
            row = await tx.fetchone("SELECT * FROM verifications WHERE id = ?", verification_id)
            if row is None:  # cannot happen: the row was just updated in this transaction
                return None
            verification = Verification.from_row(row)
            if self._webhook_url:
                await _notify(tx, verification, now, self._webhook_url)
        await self.cache.invalidate(verification.id)  # before the streams hear of the move
        text, final = to_json(verification.event()), verification.status in FINAL
        try:
            await self._announcer.announce(topic(verification.id), text, final=final)
        except Exception:  # the move has committed; a bus hiccup must not undo the answer
            log.exception("could not publish the change of %s", verification_id)
        await self._events.verification(verification.id, verification.status, verification.updated_at)
        return verification

    async def expire_due(self) -> int:
        """Expire every open verification whose time has come; the number expired here."""
        now = self._clock.now()
        rows = await self._db.fetchall(
            "SELECT id FROM verifications WHERE status IN (?, ?) AND expires_at <= ? ORDER BY expires_at",
            *OPEN,
            now,
        )
        count = 0
        for row in rows:
            if await self._expire(row["id"]) is not None:
                count += 1
        return count

    async def next_expiry(self) -> float | None:
        """When the next open verification expires, if any is open."""
        row = await self._db.fetchone(
            "SELECT MIN(expires_at) AS t FROM verifications WHERE status IN (?, ?)", *OPEN
        )
        return float(row["t"]) if row and row["t"] is not None else None


def _conflict(source: str, action: str, status: str) -> Conflict:
    return Conflict(f"Verification must be in '{source}' state to {action}", current_status=status)


async def _notify(tx: Change, verification: Verification, now: float, webhook_url: str) -> None:
    body = {
        "typeWebhook": "verificationStatusChanged",
        "verificationId": verification.id,
        "status": verification.status,
        "extra_data": verification.extra_data,
        "timestamp": int(now),
    }
    await tx.notify(body, now=now, webhook_url=webhook_url)

"""Digital cards: storage, the dynamic link (`/q/<code>`) and its scans.

Scans go through the write-behind `ScanRecorder` (recorder.py) and are read back by
scans.py; reads flush this process's queue first, so an answer includes every scan the
process has redirected.

A card's `revision` grows whenever its fields change; the dynamic QR image URL
names the revision and a hash that covers the card's design too, so it stays the
same while the card is unchanged and every cache can keep the image forever. Every
image URL given out is recorded with the design it shows (`card_images`) and keeps
answering that picture while the card exists: printed codes keep their look. The
dynamic link itself (the code) never changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import uuid as uuidlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from qrstream.admin_events import AdminEvents
from qrstream.bus import Bus
from qrstream.bus.memory import MemoryBus
from qrstream.cards import scans
from qrstream.cards.fields import FIELDS
from qrstream.cards.recorder import Scan, ScanRecorder
from qrstream.cards.vcard import Contact
from qrstream.clock import Clock
from qrstream.hotcache import HotCache
from qrstream.links import LinkFor
from qrstream.paging import PageRequest, fetch_page, like_pattern, name_key
from qrstream.qr.options import DEFAULT_LOOK, Look, look_from_text, look_to_text
from qrstream.signing import hmac_hex
from qrstream.store import Database, Row

CACHE_TOPIC = "cache:cards"
"""The bus topic on which every process tells the others which card changed (its uuid)."""
CODE_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
CODE_LENGTH = 10
IMAGE_HASH_LENGTH = 24
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)


def parse_uuid(text: str) -> str | None:
    """The canonical (lowercase) form of a card UUID, or None if `text` is not a UUID4."""
    return text.lower() if _UUID.match(text) else None


FLUSH_WAIT_S = 2.0  # a read waits at most this long for this process's queued scans


@dataclass(frozen=True)
class Card:
    uuid: str
    name: str
    title: str | None
    company: str | None
    email: str | None
    phone: str | None
    website: str | None
    note: str | None
    code: str
    target: str | None
    revision: int
    design: Look = DEFAULT_LOOK

    @classmethod
    def from_row(cls, row: Row) -> Card:
        return cls(
            uuid=row["uuid"],
            **{f: row[f] for f in FIELDS},
            code=row["code"],
            target=row["target_url"],
            revision=int(row["revision"]),
            design=look_from_text(row["design"]),
        )

    def fields(self) -> dict[str, str | None]:
        return {f: getattr(self, f) for f in FIELDS}

    def contact(self) -> Contact:
        return Contact(**self.fields())  # type: ignore[arg-type]

    def public_url(self, links: LinkFor) -> str:
        """The card's page: `<public-url>/c/<uuid>`."""
        return links.url("card-page", uuid=self.uuid)

    def link(self, links: LinkFor) -> str:
        """The dynamic link printed in the QR code: `<public-url>/q/<code>`."""
        return links.url("card-link", code=self.code)

    def admin_json(self, links: LinkFor) -> dict[str, Any]:
        return {
            "uuid": self.uuid,
            **self.fields(),
            "target": self.target,
            "publicUrl": self.public_url(links),
            "design": self.design.json(),
        }

    def public_json(self, links: LinkFor) -> dict[str, Any]:
        """The prefetch shape of the reference API."""
        return {
            "uuid": self.uuid,
            "name": self.name,
            "organisation": self.company,
            "position": self.title,
            "description": self.note,
            "email": self.email,
            "phone": self.phone,
            "website": self.website,
            "publicUrl": self.public_url(links),
        }


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


_COLUMNS = "uuid, name, title, company, email, phone, website, note, code, target_url, revision, design"


class CardService:
    """Card storage over the shared `Database`; time from the injected clock; scans through `recorder`."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        recorder: ScanRecorder,
        events: AdminEvents | None = None,
        *,
        bus: Bus | None = None,
    ) -> None:
        """`bus` keeps the cache right across processes (none: a cache of nothing, never live)."""
        self._db = db
        self._clock = clock
        self.recorder = recorder
        self.cache: HotCache[tuple[Card, Look]] = HotCache(bus or MemoryBus(), CACHE_TOPIC, clock)
        """The hot paths' rows, tagged with the card's uuid: `i:<image name>` → (card, the image's
        design) for `by_image`, `q:<code>` → (card, its design) for `by_code`. Started by the family."""
        if events is not None:
            self._events = events
            recorder.listeners.append(self._tell_scans)

    async def _tell_scans(self, added: dict[str, int], at: float) -> None:
        """After a batch of scans is written: each card's new total to the admin event stream."""
        marks = ", ".join("?" for _ in added)
        rows = await self._db.fetchall(
            f"SELECT card_uuid, SUM(count) AS scans FROM card_scans WHERE card_uuid IN ({marks})"
            " GROUP BY card_uuid",
            *added,
        )
        for row in rows:
            await self._events.scan(str(row["card_uuid"]), int(row["scans"]), at)

    async def page(self, request: PageRequest, query: str = "") -> tuple[list[tuple[Card, int]], str | None]:
        """One page of the cards whose name contains `query` (ignoring case; every card when it is
        empty), newest first, each with its scan count (CONTRACT §7)."""
        await self._flushed()  # the counts include every scan this process has redirected
        where, args = [], []
        if query:
            where.append("c.name_key LIKE ? ESCAPE '\\'")
            args.append(like_pattern(name_key(query)))
        page = await fetch_page(
            self._db,
            request,
            select=(
                f"SELECT {', '.join('c.' + c for c in _COLUMNS.split(', '))}, c.created_at,"
                " (SELECT COALESCE(SUM(s.count), 0) FROM card_scans s WHERE s.card_uuid = c.uuid) AS scans"
                " FROM cards c"
            ),
            created="c.created_at",
            key="c.uuid",
            where=where,
            args=args,
        )
        return [(Card.from_row(row), int(row["scans"])) for row in page.rows], page.next

    async def create(self, fields: dict[str, str | None]) -> Card:
        """Store a new card with a fresh UUID4 and dynamic-link code."""
        now = self._clock.now()
        while True:
            card_uuid, code = str(uuidlib.uuid4()), new_code()
            inserted = await self._db.execute(
                f"INSERT INTO cards ({', '.join(FIELDS)}, name_key, uuid, code, revision, created_at,"
                " updated_at)"
                f" VALUES ({', '.join('?' for _ in FIELDS)}, ?, ?, ?, 1, ?, ?) ON CONFLICT DO NOTHING",
                *(fields.get(f) for f in FIELDS),
                name_key(fields.get("name") or ""),
                card_uuid,
                code,
                now,
                now,
            )
            if inserted:  # else the code (or, rarely indeed, the UUID) was taken: draw again
                card = await self.get(card_uuid)
                if card is not None:
                    return card

    async def get(self, card_uuid: str) -> Card | None:
        row = await self._db.fetchone(f"SELECT {_COLUMNS} FROM cards WHERE uuid = ?", card_uuid)
        return Card.from_row(row) if row else None

    async def update(self, card_uuid: str, changes: dict[str, str | None]) -> Card | None:
        """Apply the fields in `changes`; the revision moves only if a value really changed."""
        card = await self.get(card_uuid)
        if card is None:
            return None
        changed = {f: v for f, v in changes.items() if getattr(card, f) != v}
        if not changed:
            return card
        if "name" in changed:
            changed["name_key"] = name_key(changed["name"] or "")
        assignments = ", ".join(f"{f} = ?" for f in changed)
        updated = await self._db.execute(
            f"UPDATE cards SET {assignments}, revision = revision + 1, updated_at = ? WHERE uuid = ?",
            *changed.values(),
            self._clock.now(),
            card_uuid,
        )
        return await self._changed(card_uuid) if updated else None

    async def _changed(self, card_uuid: str) -> Card | None:
        """After a committed change of the card: drop it from every process's cache; the card now."""
        await self.cache.invalidate(card_uuid)
        return await self.get(card_uuid)

    async def delete(self, card_uuid: str) -> bool:
        """Remove the card and its scan counts; False when there was none."""
        async with self._db.transaction() as tx:
            deleted = await tx.execute("DELETE FROM cards WHERE uuid = ?", card_uuid)
            await tx.execute("DELETE FROM card_images WHERE card_uuid = ?", card_uuid)
            for table in ("card_scans", "scan_events", "card_bot_visits"):
                await tx.execute(f"DELETE FROM {table} WHERE card_uuid = ?", card_uuid)
        if deleted:
            await self.cache.invalidate(card_uuid)
        return bool(deleted)

    async def set_target(self, card_uuid: str, url: str | None) -> Card | None:
        """Point the dynamic link at `url` (None: the card's own page)."""
        updated = await self._db.execute(
            "UPDATE cards SET target_url = ?, updated_at = ? WHERE uuid = ?",
            url,
            self._clock.now(),
            card_uuid,
        )
        return await self._changed(card_uuid) if updated else None

    async def set_design(self, card_uuid: str, design: Look) -> Card | None:
        """Draw the card's image URL with `design` from now on (URLs given out keep theirs)."""
        updated = await self._db.execute(
            "UPDATE cards SET design = ?, updated_at = ? WHERE uuid = ?",
            look_to_text(design),
            self._clock.now(),
            card_uuid,
        )
        return await self._changed(card_uuid) if updated else None

    async def image_name(self, card: Card, *, key: str, links: LinkFor) -> str:
        """`<revision>-<hash>.png` for the card's dynamic QR image, recorded so it can be served.

        The hash covers what the image shows (the link under the public URL, the design) and
        the revision, so the name is the same on every call while none of them changes.
        (The default design adds nothing to the hash: those names are what they always were.)
        """
        design = look_to_text(card.design)
        shown = f"card-qrcode\n{card.uuid}\n{card.revision}\n{card.link(links)}"
        digest = hmac_hex(key, shown + (f"\n{design}" if design else ""))[:IMAGE_HASH_LENGTH]
        await self._db.execute(
            "INSERT INTO card_images (hash, card_uuid, revision, design, created_at)"
            " SELECT ?, uuid, ?, ?, ? FROM cards WHERE uuid = ? ON CONFLICT DO NOTHING",
            digest,
            card.revision,
            design,
            self._clock.now(),
            card.uuid,
        )
        return f"{card.revision}-{digest}.png"

    async def by_image(self, revision: int, digest: str) -> tuple[Card, Look] | None:
        """The card behind the image `<revision>-<digest>.png` and the design that image shows;
        None when no such image was given out or its card is gone. From the cache when it can."""
        key = f"i:{revision}-{digest}"
        found = self.cache.get(key)
        if found is not None:
            return found
        fill = self.cache.token()
        row = await self._db.fetchone(
            "SELECT card_images.design AS image_design, "
            + ", ".join(f"cards.{c.strip()}" for c in _COLUMNS.split(","))
            + " FROM card_images JOIN cards ON cards.uuid = card_images.card_uuid"
            " WHERE card_images.hash = ? AND card_images.revision = ?",
            digest,
            revision,
        )
        if row is None:
            return None
        card = Card.from_row(row)
        found = card, look_from_text(row["image_design"])
        self.cache.put(fill, key, found, tag=card.uuid)
        return found

    async def by_code(self, code: str) -> Card | None:
        """The card behind a dynamic link (from the cache when it can)."""
        key = "q:" + code
        found = self.cache.get(key)
        if found is not None:
            return found[0]
        fill = self.cache.token()
        row = await self._db.fetchone(f"SELECT {_COLUMNS} FROM cards WHERE code = ?", code)
        if row is None:
            return None
        card = Card.from_row(row)
        self.cache.put(fill, key, (card, card.design), tag=card.uuid)
        return card

    def scanned(self, card: Card, *, address: str, user_agent: str, referer: str | None) -> None:
        """Queue one GET of the card's dynamic link (a bot's is counted apart); never waits."""
        self.recorder.record(Scan(card.uuid, self._clock.now(), address, user_agent, referer))

    async def _flushed(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FLUSH_WAIT_S):
                await self.recorder.flush()

    async def stats(self, card_uuid: str, days: scans.DayRange | None = None) -> dict[str, Any]:
        """The scan statistics of §11 over `days` (default: all time)."""
        await self._flushed()
        return await scans.card_stats(self._db, card_uuid, days or scans.DayRange())

    async def scans_csv(self, card_uuid: str, days: scans.DayRange | None = None) -> AsyncIterator[str]:
        """The card's scans as CSV text, in pieces (header first)."""
        await self._flushed()
        async for chunk in scans.csv_chunks(self._db, card_uuid, days or scans.DayRange()):
            yield chunk

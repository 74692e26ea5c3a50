"""Admin lists as keyset pages, newest first (CONTRACT §7): `?limit=N` and an opaque `?after` cursor.

A page is ordered by `(created_at, key)` descending, so rows made in the same instant still have
one order. The cursor is the position of a page's last row, `[created_at, key]` as JSON in
unpadded base64url: the next page is the rows strictly below it in that order, so paging while
rows are added never repeats a row or skips one that existed when the first page was read.
A cursor is checked before use: anything this server could not have made is a 400 naming `after`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qrstream.errors import BadRequest
from qrstream.store import Queries, Row

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_CURSOR_LENGTH = 200
MAX_KEY_LENGTH = 100

Key = int | str


@dataclass(frozen=True)
class PageRequest:
    """What a client asked for: how many rows, and after which position."""

    limit: int = DEFAULT_LIMIT
    after: tuple[float, Key] | None = None


@dataclass(frozen=True)
class Page:
    rows: Sequence[Row]
    next: str | None


def encode_cursor(created_at: float, key: Key) -> str:
    raw = json.dumps([created_at, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _bad_cursor() -> BadRequest:
    return BadRequest("after must be the next cursor of a previous page", field="after")


def decode_cursor(text: str, key_type: type[int] | type[str]) -> tuple[float, Key]:
    """The position a cursor names; BadRequest (field `after`) for anything else."""
    if not text or len(text) > MAX_CURSOR_LENGTH or not text.isascii():
        raise _bad_cursor()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw)
    except (ValueError, binascii.Error):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _bad_cursor() from None
    if not isinstance(value, list) or len(value) != 2:
        raise _bad_cursor()
    created_at, key = value
    if (
        isinstance(created_at, bool)
        or not isinstance(created_at, (int, float))
        or not math.isfinite(created_at)
    ):
        raise _bad_cursor()
    if key_type is int:
        if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < 2**63:
            raise _bad_cursor()
    elif not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise _bad_cursor()
    return float(created_at), key


def page_request(query: Mapping[str, str], key_type: type[int] | type[str]) -> PageRequest:
    """`limit` (1 to 500, default 100) and `after` from a request's query; BadRequest naming either."""
    limit = DEFAULT_LIMIT
    raw_limit = query.get("limit")
    if raw_limit is not None:
        raw_limit = raw_limit.strip()
        if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}", field="limit")
        limit = int(raw_limit)
    raw_after = query.get("after")
    after = decode_cursor(raw_after, key_type) if raw_after is not None else None
    return PageRequest(limit=limit, after=after)


async def fetch_page(
    db: Queries,
    request: PageRequest,
    *,
    select: str,
    created: str = "created_at",
    key: str = "id",
    where: Sequence[str] = (),
    args: Sequence[Any] = (),
) -> Page:
    """One page of `select` (a `SELECT … FROM …` without WHERE/ORDER), newest first.

    `created` and `key` name the ordering columns as the statement sees them (they must be among
    its result columns too, under their bare names); `where` are extra conditions, `args` theirs.
    """
    conditions = list(where)
    params = list(args)
    if request.after is not None:
        # A row value: both stores walk the (created_at, key) index from the cursor down.
        conditions.append(f"({created}, {key}) < (?, ?)")
        params += [request.after[0], request.after[1]]
    sql = select
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    sql += f" ORDER BY {created} DESC, {key} DESC LIMIT ?"
    rows = await db.fetchall(sql, *params, request.limit + 1)
    if len(rows) <= request.limit:
        return Page(rows=rows, next=None)
    rows = rows[: request.limit]
    last = rows[-1]
    created_name, key_name = created.rpartition(".")[2], key.rpartition(".")[2]
    return Page(rows=rows, next=encode_cursor(float(last[created_name]), last[key_name]))


def like_pattern(text: str) -> str:
    """A LIKE pattern (ESCAPE '\\') matching values that contain `text` literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def name_key(name: str) -> str:
    """The form of a name that a case-insensitive search compares (the same on every store)."""
    return name.casefold()

"""Named values kept in the store: generated secrets that must survive restarts."""

from __future__ import annotations

import secrets

from qrstream.store import Database, StoreError


async def get_or_create(db: Database, name: str, make: str | None = None) -> tuple[str, bool]:
    """Return the stored value of `name`, storing `make` (or a fresh 32-byte hex secret) first
    if there is none; the flag says whether it was created now."""
    row = await db.fetchone("SELECT value FROM settings WHERE name = ?", name)
    if row is not None:
        return str(row["value"]), False
    value = make if make is not None else secrets.token_hex(32)
    inserted = await db.execute(
        "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", name, value
    )
    if inserted:
        return value, True
    row = await db.fetchone("SELECT value FROM settings WHERE name = ?", name)
    if row is None:
        raise StoreError(f"setting {name!r} vanished while being created")
    return str(row["value"]), False

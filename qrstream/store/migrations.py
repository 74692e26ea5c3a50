"""The schema, as numbered migrations applied once each, in order, at start.

Written once for both backends; `{…}` names the few types that differ.
Never edit a migration that has shipped: add the next one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from qrstream.store import Database, Queries

Step = Callable[[Queries], Awaitable[None]]
"""A migration step written in Python, for data SQL alone cannot compute the same on both stores."""

TYPES = {
    "sqlite": {
        "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "float": "REAL",
        "bigint": "INTEGER",
        "blob": "BLOB",
    },
    "postgres": {
        "serial": "BIGSERIAL PRIMARY KEY",
        "float": "DOUBLE PRECISION",
        "bigint": "BIGINT",
        "blob": "BYTEA",
    },
}


async def _fill_card_name_keys(tx: Queries) -> None:
    # The search key of every card's name, as `paging.name_key` computes it for new ones
    # (Python's casefold: SQLite's LOWER folds ASCII only, PostgreSQL's follows its locale).
    for row in await tx.fetchall("SELECT uuid, name FROM cards"):
        await tx.execute(
            "UPDATE cards SET name_key = ? WHERE uuid = ?", str(row["name"]).casefold(), row["uuid"]
        )


MIGRATIONS: list[str | tuple[str, Step]] = [
    # 1: settings (generated secrets survive restarts)
    """
    CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: cards, their dynamic links and scans
    """
    CREATE TABLE cards (
        uuid TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        title TEXT, company TEXT, email TEXT, phone TEXT, website TEXT, note TEXT,
        code TEXT NOT NULL UNIQUE,
        target_url TEXT,
        revision {bigint} NOT NULL DEFAULT 1,
        image_hash TEXT,
        created_at {float} NOT NULL,
        updated_at {float} NOT NULL
    );
    CREATE INDEX cards_image ON cards (image_hash);
    CREATE TABLE card_scans (
        card_uuid TEXT NOT NULL,
        day TEXT NOT NULL,
        count {bigint} NOT NULL DEFAULT 0,
        PRIMARY KEY (card_uuid, day)
    );
    """,
    # 3: verifications
    """
    CREATE TABLE verifications (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        extra_data TEXT,
        return_url TEXT,
        created_at {float} NOT NULL,
        updated_at {float} NOT NULL,
        expires_at {float} NOT NULL
    );
    CREATE INDEX verifications_open ON verifications (expires_at)
        WHERE status IN ('generated', 'in_progress');
    """,
    # 4: instances, pairing codes issued by getAuthorizationCode, the notification outbox
    """
    CREATE TABLE instances (
        id {bigint} PRIMARY KEY,
        token TEXT NOT NULL,
        state TEXT NOT NULL,
        wid TEXT NOT NULL DEFAULT '',
        webhook_url TEXT NOT NULL DEFAULT '',
        generation {bigint} NOT NULL DEFAULT 0,
        resume_state TEXT NOT NULL DEFAULT '',
        starting_until {float},
        created_at {float} NOT NULL,
        updated_at {float} NOT NULL
    );
    CREATE INDEX instances_starting ON instances (starting_until) WHERE state = 'starting';
    CREATE TABLE auth_codes (
        code TEXT PRIMARY KEY,
        instance_id {bigint} NOT NULL,
        phone TEXT NOT NULL,
        generation {bigint} NOT NULL,
        expires_at {float} NOT NULL,
        used_at {float}
    );
    CREATE INDEX auth_codes_instance ON auth_codes (instance_id);
    CREATE TABLE notifications (
        receipt_id {serial},
        instance_id {bigint},
        body TEXT NOT NULL,
        webhook_url TEXT NOT NULL DEFAULT '',
        created_at {float} NOT NULL,
        acked_at {float}
    );
    CREATE INDEX notifications_queue ON notifications (instance_id, receipt_id) WHERE acked_at IS NULL;
    """,
    # 5: webhook deliveries, one per notification with a webhook URL, written in the same transaction.
    # status: pending -> delivered | failed (given up) | cancelled (URL removed, instance gone).
    # destination orders them: 'instance:<id>' or 'url:<url>'; only its oldest pending row is tried.
    """
    CREATE TABLE deliveries (
        id {serial},
        receipt_id {bigint} NOT NULL,
        destination TEXT NOT NULL,
        instance_id {bigint},
        url TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts {bigint} NOT NULL DEFAULT 0,
        created_at {float} NOT NULL,
        next_attempt_at {float} NOT NULL,
        lease_until {float},
        owner TEXT,
        delivered_at {float},
        gave_up_at {float},
        cancelled_at {float},
        last_error TEXT
    );
    CREATE INDEX deliveries_pending ON deliveries (destination, id) WHERE status = 'pending';
    CREATE INDEX deliveries_failed ON deliveries (gave_up_at) WHERE status = 'failed';
    """,
    # 6: Green API settings. The two that act are columns, read where they act (the webhook sender,
    # each state change's transaction); the others are only stored and echoed by getSettings.
    """
    ALTER TABLE instances ADD COLUMN webhook_url_token TEXT NOT NULL DEFAULT '';
    ALTER TABLE instances ADD COLUMN state_webhook TEXT NOT NULL DEFAULT 'yes';
    CREATE TABLE instance_settings (
        instance_id {bigint} NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (instance_id, name)
    );
    """,
    # 7: the SHA-256 (hex) of the resumeToken that `start` handed the portal's browser; NULL until started
    """
    ALTER TABLE verifications ADD COLUMN resume_hash TEXT;
    """,
    # 8: pairing links (watch-only tickets of §9), kept as a hash with their expiry
    """
    CREATE TABLE pairing_links (
        ticket_hash TEXT PRIMARY KEY,
        instance_id {bigint} NOT NULL,
        expires_at {float} NOT NULL,
        created_at {float} NOT NULL
    );
    CREATE INDEX pairing_links_instance ON pairing_links (instance_id);
    """,
    # 9: one row per counted scan (no address: `visitor` is a keyed hash that changes every UTC day),
    # deleted after QRSTREAM_SCAN_RETENTION_DAYS while card_scans keeps the daily counts;
    # bots and link-preview fetchers apart, counted per card, day and name.
    """
    CREATE TABLE scan_events (
        id {serial},
        card_uuid TEXT NOT NULL,
        at {float} NOT NULL,
        day TEXT NOT NULL,
        device TEXT NOT NULL,
        os TEXT NOT NULL,
        browser TEXT NOT NULL,
        referrer TEXT,
        visitor TEXT NOT NULL
    );
    CREATE INDEX scan_events_card_time ON scan_events (card_uuid, at);
    CREATE INDEX scan_events_time ON scan_events (at);
    CREATE TABLE card_bot_visits (
        card_uuid TEXT NOT NULL,
        day TEXT NOT NULL,
        bot TEXT NOT NULL,
        count {bigint} NOT NULL DEFAULT 0,
        PRIMARY KEY (card_uuid, day, bot)
    );
    """,
    # 10: card designs (compact JSON, '' for the default look), and every card image URL given
    # out with the design it shows: each keeps answering while its card exists. The images
    # named so far (cards.image_hash, the default look) are carried over.
    """
    ALTER TABLE cards ADD COLUMN design TEXT NOT NULL DEFAULT '';
    CREATE TABLE card_images (
        hash TEXT PRIMARY KEY,
        card_uuid TEXT NOT NULL,
        revision {bigint} NOT NULL,
        design TEXT NOT NULL DEFAULT '',
        created_at {float} NOT NULL
    );
    CREATE INDEX card_images_card ON card_images (card_uuid);
    INSERT INTO card_images (hash, card_uuid, revision, design, created_at)
        SELECT image_hash, uuid, revision, '', updated_at FROM cards WHERE image_hash IS NOT NULL
    """,
    # 11: the admin lists (newest first, keyset pages), the card name search, event-stream tickets
    # (one use each: used_at is set by one conditional UPDATE; only a digest is stored).
    (
        """
        CREATE INDEX instances_created ON instances (created_at, id);
        CREATE INDEX cards_created ON cards (created_at, uuid);
        ALTER TABLE cards ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
        CREATE INDEX verifications_created ON verifications (created_at, id);
        CREATE INDEX verifications_status ON verifications (status, created_at, id);
        CREATE TABLE event_tickets (
            digest TEXT PRIMARY KEY,
            expires_at {float} NOT NULL,
            used_at {float}
        );
        CREATE INDEX event_tickets_expiry ON event_tickets (expires_at);
        """,
        _fill_card_name_keys,
    ),
]


def _render(sql: str, dialect: str) -> str:
    return sql.format(**TYPES[dialect])


def statements(sql: str, dialect: str) -> list[str]:
    return [s.strip() for s in _render(sql, dialect).split(";") if s.strip()]


async def migrate(db: Database) -> int:
    """Apply every migration not yet applied; return the schema version."""
    await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = await db.fetchone("SELECT MAX(version) AS v FROM schema_version")
    current = int(row["v"]) if row and row["v"] is not None else 0
    for number, migration in enumerate(MIGRATIONS, start=1):
        if number <= current:
            continue
        sql, step = migration if isinstance(migration, tuple) else (migration, None)
        async with db.transaction() as tx:
            for statement in statements(sql, db.dialect):
                await tx.execute(statement)
            if step is not None:
                await step(tx)
            await tx.execute("INSERT INTO schema_version (version) VALUES (?)", number)
    return len(MIGRATIONS)

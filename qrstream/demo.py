"""`run.py --demo`: one demo instance, card and verification, made once and reused after restarts."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from qrstream.cards.keys import CARDS
from qrstream.errors import QrstreamError
from qrstream.instances.keys import INSTANCES
from qrstream.store.settings import get_or_create
from qrstream.verifications.keys import VERIFICATIONS
from qrstream.web.keys import SERVICES

DEMO_SETTING = "demo_objects"


async def _demo_ids(app: web.Application) -> dict[str, Any]:
    """The stored demo ids, creating the instance and the card the first time only."""
    db = app[SERVICES].db
    row = await db.fetchone("SELECT value FROM settings WHERE name = ?", DEMO_SETTING)
    if row is not None:
        return dict(json.loads(row["value"]))
    instance = await app[INSTANCES].create()
    card = await app[CARDS].create(
        {
            "name": "Ada Lovelace",
            "title": "Analyst",
            "company": "Analytical Engines Ltd",
            "email": "ada@example.com",
            "phone": "+44 20 7946 0000",
            "website": "https://example.com",
            "note": "Demo card made by run.py --demo",
        }
    )
    ids = {"instance": instance.id, "card": card.uuid}
    value, _ = await get_or_create(db, DEMO_SETTING, json.dumps(ids))
    return dict(json.loads(value))


async def _demo_verification(app: web.Application, ids: dict[str, Any]) -> str:
    """The demo verification while it can still be scanned, else a fresh one (stored)."""
    verifications = app[VERIFICATIONS]
    db = app[SERVICES].db
    current = ids.get("verification")
    if current:
        try:
            if (await verifications.get(current)).status == "generated":
                return str(current)
        except QrstreamError:  # gone: make a new one
            pass
    verification = await verifications.create({"demo": True})
    ids["verification"] = verification.id
    await db.execute("UPDATE settings SET value = ? WHERE name = ?", json.dumps(ids), DEMO_SETTING)
    return verification.id


async def create_demo(app: web.Application) -> str:
    """Make (or find) the demo objects and say how to use them."""
    services = app[SERVICES]
    links = services.links
    ids = await _demo_ids(app)
    verification_id = await _demo_verification(app, ids)
    instance = await app[INSTANCES].get(int(ids["instance"]))
    if instance is None:
        return "demo: the demo instance was deleted; remove the 'demo_objects' setting to make a new one"
    sdk = "$SDK_KEY" if services.config.sdk_keys else "<set QRSTREAM_SDK_KEYS first>"
    card = str(ids["card"])
    instance_qr = links.url("instance-qr", id=str(instance.id), token=instance.token)
    portal = links.url("verify-portal", query={"verification_id": verification_id})
    return "\n".join(
        [
            "demo: pairing page   " + links.url("pair") + f"#id={instance.id}&token={instance.token}",
            "demo: instance QR    " + f"curl {instance_qr}",
            "demo: card page      " + links.url("card-page", uuid=card),
            "demo: card QR        " + "curl -X POST " + links.url("card-qr-code", uuid=card),
            "demo: verification   " + portal,
            "demo: its QR         "
            + f"curl -H 'X-SDK-Key: {sdk}' "
            + links.url("verification-qrcode", id=verification_id)
            + " -o qr.png",
        ]
    )

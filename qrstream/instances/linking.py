"""Linking a phone: redeeming a QR link code or a phone-entry code authorizes the instance.

Both end in ONE conditional write, `… SET state = 'authorized' WHERE id = ? AND state =
'notAuthorized' AND generation = ?`: of concurrent redemptions exactly one wins, and the
`stateInstanceChanged` notification is written in the same transaction. A used, expired,
unknown or malformed code is `Gone` ("QR code expired"); a bad phone is `BadRequest`.
A phone-entry code entered with another phone number than the one it was issued for is
`Gone` too, so the answer never tells whether a code exists.
"""

from __future__ import annotations

from qrstream.errors import BadRequest, Gone
from qrstream.instances import pairing
from qrstream.instances.events import account_data, record_change, topic
from qrstream.instances.frames import Frames
from qrstream.instances.pairing_links import end_links
from qrstream.instances.service import AUTHORIZED, NOT_AUTHORIZED, Instance, Instances
from qrstream.store import Queries

EXPIRED = "QR code expired"


def require_phone(value: object, field: str = "phone") -> str:
    phone = pairing.normalize_phone(value)
    if phone is None:
        raise BadRequest(f"{field} must be a phone number of 7 to 15 digits", field=field)
    return phone


class Linking:
    """Redemption of pairing codes, and issuing of phone-entry codes."""

    def __init__(self, instances: Instances, frames: Frames, secret: str) -> None:
        self._instances = instances
        self._frames = frames
        self._secret = secret
        self._db = instances.services.db
        self._outbox = instances.services.outbox
        self._announcer = instances.services.announcer
        self._clock = instances.services.clock
        self._scan_timeout = instances.services.config.qr_scan_timeout_s

    async def redeem_link(self, code: str, phone_value: object) -> str:
        """Redeem the code of a QR frame for `phone`; returns the instance's new wid."""
        phone = require_phone(phone_value)
        parsed = pairing.parse_code(code)
        if parsed is None:
            raise Gone(EXPIRED)
        now = self._clock.now()
        if not pairing.window_valid(parsed.instance_id, parsed.window, now, self._frames.period):
            raise Gone(EXPIRED)
        instance = await self._instances.get(parsed.instance_id)
        if instance is None or not pairing.code_matches(self._secret, parsed, instance.generation):
            raise Gone(EXPIRED)
        return await self._authorize(instance.id, instance.generation, phone, claim=None)

    async def issue_code(self, instance: Instance, phone_value: object) -> str | None:
        """A phone-entry code for `phone`, valid for the scan timeout; None when already authorized
        (or rebooting on the way back to authorized: such a code could never be redeemed)."""
        phone = require_phone(phone_value, "phoneNumber")
        if instance.logged_in:
            return None
        now = self._clock.now()
        expires_at = now + self._scan_timeout
        # The instance's spent codes go now, so the store does not grow with every call.
        await self._db.execute(
            "DELETE FROM auth_codes WHERE instance_id = ? AND (expires_at <= ? OR used_at IS NOT NULL)",
            instance.id,
            now,
        )
        while True:
            code = pairing.new_auth_code()
            inserted = await self._db.execute(
                "INSERT INTO auth_codes (code, instance_id, phone, generation, expires_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (code) DO NOTHING",
                code,
                instance.id,
                phone,
                instance.generation,
                expires_at,
            )
            if inserted:
                return code

    async def redeem_code(self, code_value: object, phone_value: object) -> str:
        """Redeem a phone-entry code with the phone it was issued for; returns the new wid."""
        phone = require_phone(phone_value)
        code = pairing.normalize_auth_code(code_value)
        if code is None:
            raise Gone(EXPIRED)
        row = await self._db.fetchone("SELECT instance_id, generation FROM auth_codes WHERE code = ?", code)
        if row is None:
            raise Gone(EXPIRED)
        return await self._authorize(int(row["instance_id"]), int(row["generation"]), phone, claim=code)

    async def _claim(self, tx: Queries, code: str, phone: str, now: float) -> bool:
        claimed = await tx.execute(
            "UPDATE auth_codes SET used_at = ? WHERE code = ? AND phone = ? AND used_at IS NULL"
            " AND expires_at > ?",
            now,
            code,
            phone,
            now,
        )
        return claimed == 1

    async def _authorize(self, instance_id: int, generation: int, phone: str, *, claim: str | None) -> str:
        wid = f"{phone}@c.us"
        now = self._clock.now()
        async with self._outbox.transaction() as tx:
            if claim is not None and not await self._claim(tx, claim, phone, now):
                raise Gone(EXPIRED)
            row = await tx.fetchone(
                "UPDATE instances SET state = ?, wid = ?, updated_at = ?"
                " WHERE id = ? AND state = ? AND generation = ? RETURNING webhook_url, state_webhook",
                AUTHORIZED,
                wid,
                now,
                instance_id,
                NOT_AUTHORIZED,
                generation,
            )
            if row is None:
                raise Gone(EXPIRED)  # rolls back the claim too
            await record_change(
                tx,
                instance_id=instance_id,
                wid=wid,
                state=AUTHORIZED,
                webhook_url=str(row["webhook_url"]),
                state_webhook=str(row["state_webhook"]),
                now=now,
            )
            await end_links(tx, instance_id)  # authorized: every pairing link of it is done
        await self._instances.changed(instance_id, AUTHORIZED, now)
        await self._announcer.announce(topic(instance_id), account_data(wid), final=True)
        return wid

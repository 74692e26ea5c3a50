"""The verifications family's application keys."""

from __future__ import annotations

from aiohttp import web

from qrstream.verifications.service import Verifications
from qrstream.web.answers import Answers

VERIFICATIONS: web.AppKey[Verifications] = web.AppKey("verifications", Verifications)
VERIFICATION_ANSWERS: web.AppKey[Answers] = web.AppKey("verifications_answers", Answers)
"""The family's prepared answers to its hot QR requests (`qrstream.web.answers`)."""

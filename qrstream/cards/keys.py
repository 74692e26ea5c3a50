"""The cards family's application keys."""

from __future__ import annotations

from aiohttp import web

from qrstream.cards.service import CardService
from qrstream.web.answers import Answers

CARDS: web.AppKey[CardService] = web.AppKey("cards", CardService)
CARD_ANSWERS: web.AppKey[Answers] = web.AppKey("cards_answers", Answers)
"""The family's prepared answers to its hot QR requests (`qrstream.web.answers`)."""

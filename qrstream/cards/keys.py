"""The cards family's application keys."""

from __future__ import annotations

from aiohttp import web

from qrstream.cards.service import CardService

CARDS: web.AppKey[CardService] = web.AppKey("cards", CardService)

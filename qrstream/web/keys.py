"""The app's core keys: the shared services and every open websocket.

Each family's own keys live beside the module that owns them (`qrstream.<family>.keys`).
"""

from __future__ import annotations

import weakref

from aiohttp import web

from qrstream.services import Services

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
WEBSOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("websockets")

"""The instances family's application keys."""

from __future__ import annotations

from aiohttp import web

from qrstream.clock import Deadlines
from qrstream.instances.frames import Frames
from qrstream.instances.linking import Linking
from qrstream.instances.pairing_links import PairingLinks
from qrstream.instances.rotation import Rotator
from qrstream.instances.service import Instances
from qrstream.web.answers import Answers

INSTANCES: web.AppKey[Instances] = web.AppKey("instances", Instances)
FRAMES: web.AppKey[Frames] = web.AppKey("frames", Frames)
LINKING: web.AppKey[Linking] = web.AppKey("linking", Linking)
ROTATOR: web.AppKey[Rotator] = web.AppKey("rotator", Rotator)
PAIRING_LINKS: web.AppKey[PairingLinks] = web.AppKey("pairing_links", PairingLinks)
SCAN_DEADLINES: web.AppKey[Deadlines] = web.AppKey("scan_deadlines", Deadlines)
"""The scan timeouts of every scanqrcode socket of this process, on one timer."""
QR_ANSWERS: web.AppKey[Answers] = web.AppKey("instances_answers", Answers)
"""The family's prepared answers to its hot QR requests (`qrstream.web.answers`)."""

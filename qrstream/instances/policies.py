"""What the instances family's routes declare (`qrstream.web.policy`): secrets and guesses."""

from __future__ import annotations

from qrstream.web.policy import Guess, RoutePolicy

INSTANCE_API = RoutePolicy(
    family="instances", secrets=frozenset({"token"}), guess=Guess("instance-auth", frozenset({401}))
)
"""The Green API methods: the token in the path is the instance's password."""
LINK_PAGE = RoutePolicy(family="instances", secrets=frozenset({"code"}))
"""The phone's page: the code in its path is a pairing capability."""
REDEEM = LINK_PAGE.but(guess=Guess("link-code", frozenset({400, 404, 410})))
"""Redeeming a code is a guess at one."""
PAIRING_LINK = RoutePolicy(
    family="instances", secrets=frozenset({"ticket"}), guess=Guess("link-code", frozenset({410}))
)
"""A pairing link's page and stream: the ticket is the capability, and a dead or unknown one (410) is a
failed guess, charged like a pairing code's."""

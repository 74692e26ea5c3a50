"""What the log masking hides: webhook tokens and Authorization headers wherever they are quoted."""

from __future__ import annotations

import pytest

from qrstream.redact import MASK, mask_text

TOKEN = "Basic dXNlcjpwYXNz word"


@pytest.mark.parametrize(
    "text",
    [
        '{"webhookUrl": "https://h.example/x", "webhookUrlToken": "%s", "stateWebhook": "yes"}',
        "{'webhookUrlToken': '%s', 'k': 2}",
        "POST /wa Authorization: %s",
        "<CIMultiDict('Authorization': '%s', 'X-Other': 'y')>",
        '{"authorization":"%s","a":2}',
    ],
)
def test_webhook_token_is_masked_wherever_quoted(text: str) -> None:
    """The token, scheme and all, is gone; what surrounds it stays readable."""
    masked = mask_text(text % TOKEN)
    assert "dXNlcjpwYXNz" not in masked and "word" not in masked
    assert MASK in masked


def test_neighbours_of_a_masked_token_stay() -> None:
    """Only the value is masked, not the keys after it."""
    masked = mask_text('{"webhookUrlToken": "a\\"b c", "stateWebhook": "no"}')
    assert masked == '{"webhookUrlToken": "***", "stateWebhook": "no"}'


def test_words_about_authorization_are_not_masked() -> None:
    """A sentence naming the header keeps its words."""
    assert mask_text("the Authorization header is missing") == "the Authorization header is missing"


def test_pairing_link_tickets_are_masked() -> None:
    """`/p/<ticket>` and its websocket path lose the ticket."""
    assert mask_text("GET /p/Zx_9-abc/scanqrcode 101") == "GET /p/***/scanqrcode 101"

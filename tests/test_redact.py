"""What the log masking hides: webhook tokens and Authorization headers wherever they are quoted."""

from __future__ import annotations

import pytest

from qrstream import redact
from qrstream.redact import MASK, MASKED_MEMO, MASKED_MEMO_LEN, mask_text, mask_untrusted, protect_logs

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


def test_remembered_masks_follow_the_protected_keys() -> None:
    """`mask_untrusted` remembers its answers, but a key protected (or no longer) after a text was
    masked once changes the next answer: the memo never hands out a mask made without that key."""
    key = "k3y-" + "z" * 20  # no secret shape: only the protected literal masks it
    text = f"/x/{key}"
    assert mask_untrusted(text) == text
    assert mask_untrusted(text) == text  # remembered
    unprotect = protect_logs([key])
    try:
        assert key not in mask_untrusted(text) and MASK in mask_untrusted(text)
    finally:
        unprotect()
    assert mask_untrusted(text) == text


def test_the_memo_stays_bounded_and_long_texts_are_not_kept() -> None:
    """At most MASKED_MEMO texts are kept, none longer than MASKED_MEMO_LEN; each still masked."""
    for n in range(MASKED_MEMO + 10):
        assert mask_untrusted(f"plain{n}") == f"plain{n}"
    assert len(redact._masked) <= MASKED_MEMO
    long_text = "a" * (MASKED_MEMO_LEN + 1)
    assert mask_untrusted(long_text) == long_text
    assert long_text not in redact._masked
    assert mask_untrusted("ver_" + "0" * 32) == MASK  # a verification id, masked from the memo too
    assert mask_untrusted("ver_" + "0" * 32) == MASK

"""The retry policy as pure functions of attempts, jitter and time; loggable URLs."""

from __future__ import annotations

import random

from qrstream.webhooks.sender import RetryPolicy, loggable_url


def test_delay_doubles_from_one_second_under_full_jitter() -> None:
    """The wait after n failures is jitter * 2^(n-1) seconds: anywhere from 0 up to the ceiling."""
    policy = RetryPolicy(base_s=1.0, max_backoff_s=3600.0)
    assert [policy.delay(n, 1.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert policy.delay(3, 0.5) == 2.0
    assert policy.delay(5, 0.0) == 0.0


def test_delay_is_capped_by_max_backoff() -> None:
    """However many failures, no wait exceeds max_backoff_s (no overflow for huge counts)."""
    policy = RetryPolicy(max_backoff_s=3600.0)
    assert policy.delay(13, 1.0) == 3600.0
    assert policy.delay(10_000, 0.999) < 3600.0


def test_seeded_jitter_repeats() -> None:
    """The same seed gives the same schedule."""
    policy = RetryPolicy()
    one, two = random.Random(42), random.Random(42)
    assert [policy.delay(n, one.random()) for n in range(1, 20)] == [
        policy.delay(n, two.random()) for n in range(1, 20)
    ]


def test_next_try_stops_at_the_give_up_deadline() -> None:
    """Retries are scheduled no later than created + give_up_s; at or after it, give up."""
    policy = RetryPolicy(max_backoff_s=3600.0, give_up_s=86400.0)
    assert policy.next_try(created_at=0.0, now=10.0, attempts=1, jitter=0.5) == 10.5
    assert policy.next_try(created_at=0.0, now=86000.0, attempts=20, jitter=1.0) == 86400.0
    assert policy.next_try(created_at=0.0, now=86400.0, attempts=21, jitter=0.1) is None


def test_loggable_url_hides_user_info_and_tokens() -> None:
    """Logged webhook URLs keep host and path but not passwords or token-like query values."""
    assert loggable_url("https://bob:pw@hooks.example:8443/in?token=abc&x=1") == (
        "https://hooks.example:8443/in?token=***&x=1"
    )

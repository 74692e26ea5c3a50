"""Pairing codes and windows as pure functions of time."""

from __future__ import annotations

from qrstream.instances import pairing

SECRET = "pairing-secret"
PERIOD = 20.0


def test_windows_are_spread_by_instance_phase() -> None:
    """Different instances turn their windows at different instants within a period."""
    starts = {pairing.window_start(i, 100, PERIOD) % PERIOD for i in range(1_000_000_001, 1_000_000_051)}
    assert len(starts) > 40


def test_window_bounds_contain_now() -> None:
    """The window of `now` starts at or before it and ends after it, one period long."""
    for now in (1_767_225_600.0, 1_767_225_613.37, 1_800_000_000.5):
        w = pairing.window_at(1234567890, now, PERIOD)
        start, end = pairing.window_start(1234567890, w, PERIOD), pairing.window_end(1234567890, w, PERIOD)
        assert start <= now < end
        assert end - start == PERIOD


def test_code_round_trips_and_is_bound_to_generation() -> None:
    """A code parses back to its instance and window, and matches only its own generation."""
    code = pairing.make_code(SECRET, 9876543210, 3, 88_361_280)
    assert len(code) == pairing.CODE_LENGTH and code == code.lower() and "=" not in code
    parsed = pairing.parse_code(code)
    assert parsed is not None
    assert (parsed.instance_id, parsed.window) == (9876543210, 88_361_280)
    assert pairing.code_matches(SECRET, parsed, 3)
    assert not pairing.code_matches(SECRET, parsed, 4)
    assert not pairing.code_matches("another-secret", parsed, 3)


def test_codes_are_deterministic_and_distinct() -> None:
    """The same window gives the same code (any process); the next window another one."""
    assert pairing.make_code(SECRET, 1111111111, 0, 5) == pairing.make_code(SECRET, 1111111111, 0, 5)
    assert pairing.make_code(SECRET, 1111111111, 0, 5) != pairing.make_code(SECRET, 1111111111, 0, 6)


def test_malformed_codes_do_not_parse() -> None:
    """Wrong length, padding or alphabet: no code."""
    good = pairing.make_code(SECRET, 1111111111, 0, 5)
    for bad in ("", good[:-1], good + "a", good[:-1] + "=", good[:-1] + "1", "é" * 32):
        assert pairing.parse_code(bad) is None, bad


def test_window_valid_while_current_and_five_seconds_after() -> None:
    """A code is valid from its window's start until 5 s after the window is replaced."""
    i, w = 1234567890, 88_000_000
    start, end = pairing.window_start(i, w, PERIOD), pairing.window_end(i, w, PERIOD)
    assert not pairing.window_valid(i, w, start - 0.001, PERIOD)
    assert pairing.window_valid(i, w, start, PERIOD)
    assert pairing.window_valid(i, w, end + 4.99, PERIOD)
    assert not pairing.window_valid(i, w, end + 5.0, PERIOD)


def test_auth_codes_use_an_unambiguous_alphabet() -> None:
    """Phone-entry codes are XXXX-XXXX without 0, O, 1 or I, and normalise from what people type."""
    for _ in range(200):
        code = pairing.new_auth_code()
        assert len(code) == 9 and code[4] == "-"
        assert not set(code) & set("01OI")
        assert pairing.normalize_auth_code(code.lower().replace("-", " ")) == code
    assert pairing.normalize_auth_code("ABCD-EFG0") is None
    assert pairing.normalize_auth_code(12345678) is None


def test_phone_numbers() -> None:
    """7 to 15 digits, from an int or a string with '+' and separators; nothing else."""
    assert pairing.normalize_phone(79001234567) == "79001234567"
    assert pairing.normalize_phone("+7 (900) 123-45-67") == "79001234567"
    for bad in (True, -1234567, 123456, "123456", "1" * 16, "12345a7", "", None, 7.5, "١٢٣٤٥٦٧"):
        assert pairing.normalize_phone(bad) is None, bad

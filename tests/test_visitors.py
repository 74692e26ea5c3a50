"""The parsing of who scanned: families from real User-Agent strings, bots by name, visitor keys."""

from __future__ import annotations

import pytest
from crawleruseragents import CRAWLER_USER_AGENTS_DATA

from qrstream.cards.visitors import (
    NOT_BOTS,
    SCRIPT_TAGS,
    UNKNOWN,
    Agent,
    AgentParser,
    VisitorKeys,
    bot_matcher,
    bot_patterns,
    referrer_host,
)
from tests.uastrings import BOTS, HUMANS, Sample

# uap-core does not know the PlayStation's system: it says "Other" (bench/useragents.py lists it).
UNKNOWN_OS = {"playstation"}


@pytest.fixture(scope="module")
def parser() -> AgentParser:
    return AgentParser()


@pytest.mark.parametrize("sample", HUMANS, ids=lambda s: s.key)
def test_people_get_their_device_os_and_browser(parser: AgentParser, sample: Sample) -> None:
    """Each real browser string gives the device class and the families a person would name."""
    agent = parser.parse(sample.ua)
    assert agent.bot is None
    assert agent.device == sample.device
    assert agent.os == (UNKNOWN if sample.key in UNKNOWN_OS else sample.os[0])
    if sample.browser:
        assert agent.browser == sample.browser[0]


@pytest.mark.parametrize("sample", BOTS, ids=lambda s: s.key)
def test_bots_are_named(parser: AgentParser, sample: Sample) -> None:
    """Crawlers and link-preview fetchers are bots, named as their User-Agent names them."""
    assert parser.parse(sample.ua) == Agent(bot=sample.bot)


@pytest.mark.parametrize(
    "ua", ["curl/8.5.0", "python-requests/2.32.3", "Python/3.12 aiohttp/3.14.0", "Go-http-client/1.1"]
)
def test_scripts_are_not_bots(parser: AgentParser, ua: str) -> None:
    """HTTP libraries count as scans from an "other" device, as Shlink counts them."""
    agent = parser.parse(ua)
    assert agent.bot is None
    assert agent.device == "other"


def test_an_empty_user_agent_is_an_unknown_person(parser: AgentParser) -> None:
    assert parser.parse("") == Agent(device="other", os=UNKNOWN, browser=UNKNOWN)


def test_link_preview_names_merged_after_the_maintained_list(parser: AgentParser) -> None:
    """Fetchers only qrstream's own list knows are bots too, matched ignoring case."""
    assert parser.parse("Mozilla/5.0 ZoomBot (Linkbot 1.0)").bot is not None
    assert parser.parse("Mozilla/5.0 (compatible; Iframely/1.3.1)").bot == "Iframely"


@pytest.mark.parametrize("rust", [True, False], ids=["ua-parser-rs", "python-re"])
def test_every_listed_crawler_is_found_and_no_browser(rust: bool) -> None:
    """Both matchers find every example of the maintained list (bar the scripts and the
    entries that match real browsers), and none of the real browser strings."""
    match = bot_matcher(bot_patterns(), rust=rust)
    examples = [
        example
        for entry in CRAWLER_USER_AGENTS_DATA
        if not SCRIPT_TAGS & set(entry.get("tags", ())) and entry["pattern"] not in NOT_BOTS
        for example in entry.get("instances", ())
    ]
    assert len(examples) > 1000
    assert [ua for ua in examples if match(ua) is None] == []
    assert [s.key for s in HUMANS if match(s.ua) is not None] == []


def test_parses_are_cached_in_a_bounded_lru() -> None:
    """A repeated string is parsed once; the cache never holds more than its size."""
    parser = AgentParser(cache_size=2)
    for ua in (HUMANS[0].ua, HUMANS[0].ua, HUMANS[1].ua, HUMANS[2].ua):
        parser.parse(ua)
    info = parser.parse.cache_info()
    assert (info.hits, info.misses, info.currsize) == (1, 3, 2)


def test_visitor_keys_are_one_a_day_and_reveal_no_address() -> None:
    keys = VisitorKeys("secret")
    ua = HUMANS[0].ua
    today = keys.key("2026-01-01", "203.0.113.7", ua)
    assert today == keys.key("2026-01-01", "203.0.113.7", ua)
    assert len(today) == 32 and int(today, 16) >= 0
    others = {
        keys.key("2026-01-02", "203.0.113.7", ua),  # next day: unlinkable
        keys.key("2026-01-01", "203.0.113.8", ua),
        keys.key("2026-01-01", "203.0.113.7", HUMANS[1].ua),
        VisitorKeys("another secret").key("2026-01-01", "203.0.113.7", ua),
    }
    assert today not in others and len(others) == 4
    assert "203.0.113.7" not in today


def test_visitor_keys_keep_two_day_keys_at_most() -> None:
    keys = VisitorKeys("secret")
    first = keys.key("2026-01-01", "a", "b")
    keys.key("2026-01-02", "a", "b")
    keys.key("2026-01-03", "a", "b")
    assert keys.key("2026-01-01", "a", "b") == first  # derived again, the same


@pytest.mark.parametrize(
    ("referer", "host"),
    [
        ("https://www.linkedin.com/feed/update/123?trk=x#top", "www.linkedin.com"),
        ("HTTP://Example.COM:8443/path", "example.com"),
        ("android-app://com.google.android.gm/", "com.google.android.gm"),
        ("http://[2001:db8::1]:80/x", "2001:db8::1"),
        ('https://a,b"c.example/p', 'a,b"c.example'),
        ("", None),
        (None, None),
        ("not a url", None),
        ("/relative/path", None),
        ("http://[broken/", None),
        ("https://exa mple.com/", None),
        ("https://" + "a" * 300 + ".com/", None),
    ],
)
def test_referrer_host_only(referer: str | None, host: str | None) -> None:
    """Only the referrer's host is kept: no scheme, port, path, query or fragment."""
    assert referrer_host(referer) == host

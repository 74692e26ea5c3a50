"""Who opened a dynamic link: device class, OS and browser families, bots by name, a visitor key.

Parsing uses maintained data, not patterns of our own: uap-core's rules through `ua-parser`
(with its Rust accelerator `ua-parser-rs`, else its pure-Python resolver) for the families,
and the `crawler-user-agents` list, merged with the link-preview fetchers qrstream knew
before, for bots. bench/useragents.py measured the choice against `device-detector`: as
accurate on the fixed set (tests/uastrings.py) and some 300 times faster per parse. Parses are kept
in a bounded LRU keyed by the User-Agent string, so a crowd's repeated strings cost one.

Entries of `crawler-user-agents` tagged `http-library` or `browser-automation` (curl,
python-requests, aiohttp, HeadlessChrome) are not bots here: like Shlink (Matomo's
device-detector), a script that follows the link counts as a scan from an "other" device.

The visitor key is an HMAC of the address and the User-Agent under a key derived from a
stored secret and the UTC day, so the same visitor has one key a day and keys of different
days cannot be linked; the address itself is never kept.
"""

from __future__ import annotations

import functools
import hmac
import importlib.util
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

DEVICES = ("mobile", "tablet", "desktop", "other")
UNKNOWN = "Other"  # uap-core's name for a family it cannot tell
CACHE_SIZE = 8192

# Crawler-list entries that are not bots here (module docstring), and single patterns of the
# list that match real browsers: an Android build id seen in many phones' in-app browsers.
SCRIPT_TAGS = frozenset({"http-library", "browser-automation"})
NOT_BOTS = frozenset({r"AP3A\.240617\.008"})

# The link-preview fetchers qrstream recognised before it used a maintained list; merged
# after the list (whose names win) and matched ignoring case.
LINK_PREVIEWS = (
    "facebookexternalhit|facebookcatalog|facebot|meta-externalagent|twitterbot|slackbot|slack-imgproxy"
    "|whatsapp|telegrambot|discordbot|linkedinbot|googlebot|google-inspectiontool|adsbot-google"
    "|bingbot|bingpreview|skypeuripreview|applebot|pinterestbot|redditbot|embedly|quora link preview"
    "|vkshare|iframely|mastodon|bitlybot|yandexbot|duckduckbot|baiduspider"
    "|microsoftpreview|teamsbot|zoombot|crawler|spider"
)

# uap-core names device and OS families but has no device class: these say which is which.
_MOBILE_OS = frozenset(
    {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Symbian OS", "Firefox OS", "Sailfish"}
)
_DESKTOP_OS = frozenset(
    {
        "Windows", "Mac OS X", "Linux", "Ubuntu", "Debian", "Fedora", "Red Hat", "SUSE", "Mint",
        "Arch Linux", "Gentoo", "Chrome OS", "FreeBSD", "OpenBSD", "NetBSD", "Solaris",
    }
)  # fmt: skip
_TABLET_FAMILIES = ("iPad", "Kindle", "Generic Tablet")
_OTHER_DEVICES = ("TV", "PlayStation", "Xbox", "Nintendo", "Chromecast")


@dataclass(frozen=True, slots=True)
class Agent:
    """What a User-Agent string says: a bot's name, or the families of a person's device."""

    device: str = "other"
    os: str = UNKNOWN
    browser: str = UNKNOWN
    bot: str | None = None


def device_class(device_family: str | None, brand: str | None, os_family: str | None) -> str:
    """`mobile`, `tablet`, `desktop` or `other` from uap-core's device and OS families."""
    family = device_family or ""
    if brand == "Generic_Android_Tablet" or family.startswith(_TABLET_FAMILIES) or "Tablet" in family:
        return "tablet"
    if any(word in family for word in _OTHER_DEVICES):
        return "other"
    if os_family in _MOBILE_OS or family in ("iPhone", "Generic Smartphone", "Generic Feature Phone"):
        return "mobile"
    if os_family in _DESKTOP_OS:
        return "desktop"
    return "other"


def _crawler_patterns() -> list[str]:
    from crawleruseragents import CRAWLER_USER_AGENTS_DATA

    return [
        entry["pattern"]
        for entry in CRAWLER_USER_AGENTS_DATA
        if not SCRIPT_TAGS & set(entry.get("tags", ())) and entry["pattern"] not in NOT_BOTS
    ]


def bot_patterns() -> list[str]:
    """The bot patterns in order of precedence: the maintained list, then `LINK_PREVIEWS`."""
    return [*_crawler_patterns(), f"(?i:{LINK_PREVIEWS})"]


def bot_matcher(patterns: Iterable[str], *, rust: bool = True) -> Callable[[str], str | None]:
    """The text a bot pattern matched in a string, or None.

    Through ua-parser-rs (Rust regex with literal prefilters: ~3 µs a string for the whole
    list; the first pattern in list order wins) when installed and `rust`; else one Python
    alternation of non-capturing groups (~0.5 ms a string; the leftmost match wins — with a
    group per pattern the same search takes half a second).
    """
    patterns = list(patterns)
    if rust and importlib.util.find_spec("ua_parser_rs"):
        import ua_parser_rs

        rules = [(f"({p})", None, None, None, None, None) for p in patterns]  # family: the match
        extractor = ua_parser_rs.UserAgentExtractor(rules)

        def first_rs(ua: str) -> str | None:
            found = extractor.extract(ua)
            return str(found.family) if found is not None else None

        return first_rs
    alternation = re.compile("|".join(f"(?:{p})" for p in patterns))

    def first_re(ua: str) -> str | None:
        found = alternation.search(ua)
        return found[0] if found else None

    return first_re


def _bot_name(matched: str) -> str:
    return matched.strip(" /;:(),+").strip()[:64] or "bot"


def _resolver() -> Callable[[str], Any]:
    from ua_parser import BestAvailableResolver, Domain, RegexResolver, load_builtins, load_lazy_builtins

    resolve = BestAvailableResolver(load_lazy_builtins() if RegexResolver else load_builtins())
    return lambda ua: resolve(ua, Domain.ALL)


class AgentParser:
    """User-Agent string → `Agent`, with a bounded LRU of the last `cache_size` strings.

    Building one loads the rules (~0.3 s): do it once, off the event loop.
    """

    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        self._resolve = _resolver()
        self._bots = bot_matcher(bot_patterns())
        self.parse: functools._lru_cache_wrapper[Agent] = functools.lru_cache(maxsize=cache_size)(self._parse)

    def _parse(self, ua: str) -> Agent:
        matched = self._bots(ua)
        if matched is not None:
            return Agent(bot=_bot_name(matched))
        result = self._resolve(ua)
        browser, os_, device = result.user_agent, result.os, result.device
        if device is not None and device.family == "Spider":  # uap-core knows a few more bots
            return Agent(bot=_bot_name(browser.family if browser else "Spider"))
        os_family = os_.family if os_ else None
        return Agent(
            device=device_class(
                device.family if device else None, device.brand if device else None, os_family
            ),
            os=os_family or UNKNOWN,
            browser=browser.family if browser else UNKNOWN,
        )


@functools.cache
def shared_parser() -> AgentParser:
    """One parser (rules and cache) for the whole process, built on first use."""
    return AgentParser()


class VisitorKeys:
    """Visitor keys: HMAC-SHA256(day key, address NUL User-Agent), 128 bits in hex.

    The day key is HMAC-SHA256(secret, "qrstream visitor key" NUL day); only today's and
    yesterday's are kept in memory.
    """

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._days: dict[str, bytes] = {}

    def day_key(self, day: str) -> bytes:
        key = self._days.get(day)
        if key is None:
            if len(self._days) >= 2:
                self._days.pop(min(self._days))
            key = self._days[day] = hmac.digest(
                self._secret, b"qrstream visitor key\0" + day.encode(), "sha256"
            )
        return key

    def key(self, day: str, address: str, user_agent: str) -> str:
        message = address.encode() + b"\0" + user_agent.encode("utf-8", "surrogateescape")
        return hmac.digest(self.day_key(day), message, "sha256")[:16].hex()


def referrer_host(referer: str | None) -> str | None:
    """The host of a `Referer` header (lowercase, no port, path or query), or None."""
    if not referer or len(referer) > 4096:
        return None
    try:
        host = urlsplit(referer.strip()).hostname
    except ValueError:
        return None
    if not host or len(host) > 253 or any(c.isspace() or not c.isprintable() for c in host):
        return None
    return host

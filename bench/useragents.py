"""User-Agent parser evaluation: accuracy on tests/uastrings.py and cold parse time per string.

Candidates (PyPI): `ua-parser` with the uap-core rules (`ua-parser-builtins`), through its
Rust accelerator `ua-parser-rs` and through its pure-Python resolver; `device-detector`
(Matomo's rules, Python port); `crawler-user-agents` for bots (one alternation of its
patterns; name = the matched text). Each parse is cold: every string is made distinct by
its version numbers, and the libraries' own caches are bypassed, so the figure is what a
cache miss costs. A missing candidate is reported as such.

    .venv/bin/python bench/useragents.py [--strings 2000] [--rounds 5]
    (pip install '.[bench]' brings every candidate)
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stats import median, table

from tests.uastrings import BOTS, HUMANS, Sample


@dataclass(frozen=True)
class Verdict:
    """What a candidate says of one string: a bot's name, or device class, OS and browser."""

    bot: str | None = None
    device: str = "other"
    os: str | None = None
    browser: str | None = None


Parse = Callable[[str], Verdict]

# -- ua-parser ---------------------------------------------------------------------------------
_UAP_MOBILE_OS = {"iOS", "iPadOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Symbian OS"}
_UAP_DESKTOP_OS = {"Windows", "Mac OS X", "Linux", "Ubuntu", "Fedora", "Debian", "Chrome OS", "FreeBSD"}


def uap_verdict(result: object) -> Verdict:
    """ua-parser has no device class: derive one from its device and OS families."""
    ua, os_, device = result.user_agent, result.os, result.device  # type: ignore[attr-defined]
    if device is not None and device.family == "Spider":
        return Verdict(bot=ua.family if ua else "Spider")
    family = device.family if device else ""
    brand = device.brand if device else ""
    os_family = os_.family if os_ else None
    if brand == "Generic_Android_Tablet" or family.startswith(("iPad", "Kindle")) or "Tablet" in family:
        kind = "tablet"
    elif os_family in _UAP_MOBILE_OS:
        kind = "mobile"
    elif os_family in _UAP_DESKTOP_OS:
        kind = "desktop"
    else:
        kind = "other"
    return Verdict(None, kind, os_family, ua.family if ua else None)


def uap_rust() -> Parse | None:
    if not importlib.util.find_spec("ua_parser_rs"):
        return None
    from ua_parser import Domain, load_lazy_builtins
    from ua_parser.regex import Resolver

    resolver = Resolver(load_lazy_builtins())
    return lambda ua: uap_verdict(resolver(ua, Domain.ALL).complete())


def uap_python() -> Parse | None:
    if not importlib.util.find_spec("ua_parser"):
        return None
    from ua_parser import BasicResolver, Domain, load_builtins

    resolver = BasicResolver(load_builtins())
    return lambda ua: uap_verdict(resolver(ua, Domain.ALL).complete())


# -- device-detector ---------------------------------------------------------------------------
_DD_KINDS = {"smartphone": "mobile", "phablet": "mobile", "feature phone": "mobile", "tablet": "tablet"}


def device_detector() -> Parse | None:
    if not importlib.util.find_spec("device_detector"):
        return None
    from device_detector import DeviceDetector
    from device_detector.parser.settings import DESKTOP_OS

    def parse(ua: str) -> Verdict:
        d = DeviceDetector(ua, check_cache=False).parse()
        if d.is_bot():
            return Verdict(bot=d.all_details["bot"].get("name") or "bot")
        kind = _DD_KINDS.get(str(d.device_type()), "other")
        if d.device_type() == "desktop" or (not d.device_type() and d.os_name() in DESKTOP_OS):
            kind = "desktop"  # the Python port leaves some desktop OSes (GNU/Linux) without a type
        return Verdict(None, kind, d.os_name() or None, d.client_name() or None)

    return parse


# -- crawler-user-agents -----------------------------------------------------------------------
def crawler_list() -> Callable[[str], str | None] | None:
    if not importlib.util.find_spec("crawleruseragents"):
        return None
    from crawleruseragents import CRAWLER_USER_AGENTS_DATA

    kept = [e["pattern"] for e in CRAWLER_USER_AGENTS_DATA if not set(e.get("tags", ())) & SCRIPTS]
    pattern = re.compile("|".join(f"(?:{p})" for p in kept))
    return lambda ua: (m[0].strip("/ ;") or "bot") if (m := pattern.search(ua)) else None


SCRIPTS = {"http-library", "browser-automation"}  # curl, requests, headless browsers: counted, as Shlink does


def with_crawlers(parse: Parse, crawlers: Callable[[str], str | None]) -> Parse:
    """Bots from the crawler list first, then whatever the parser says."""
    return lambda ua: Verdict(bot=name) if (name := crawlers(ua)) else parse(ua)


# -- what qrstream runs -------------------------------------------------------------------------
def qrstream_parser(cache_size: int) -> Parse:
    from qrstream.cards.visitors import AgentParser

    parser = AgentParser(cache_size=cache_size)
    return lambda ua: Verdict(*_fields(parser.parse(ua)))


def _fields(agent: object) -> tuple[str | None, str, str | None, str | None]:
    bot, device, os_, browser = (getattr(agent, f) for f in ("bot", "device", "os", "browser"))
    return bot, device, os_ if os_ != "Other" else None, browser if browser != "Other" else None


# -- measurement -------------------------------------------------------------------------------
def _stem(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def score(parse: Parse) -> tuple[int, int, int, int, list[str]]:
    """(device right, os right, browser right, bots named right) over the fixed set, and misses."""
    device = os_ = browser = bots = 0
    misses: list[str] = []
    for s in HUMANS:
        v = parse(s.ua)
        device += v.device == s.device and v.bot is None
        os_ += v.os in s.os if s.os else v.os is None
        browser += v.browser in s.browser if s.browser else True
        for what, ok in (
            ("device", v.device == s.device and v.bot is None),
            ("os", v.os in s.os or not s.os),
        ):
            if not ok:
                misses.append(f"{s.key}: {what} {v.bot or getattr(v, what)!r}")
        if s.browser and v.browser not in s.browser:
            misses.append(f"{s.key}: browser {v.browser!r}")
    for s in BOTS:
        v = parse(s.ua)
        ok = v.bot is not None and s.bot is not None and _stem(v.bot).startswith(_stem(s.bot)[:5])
        bots += ok
        if not ok:
            misses.append(f"{s.key}: bot {v.bot!r}")
    return device, os_, browser, bots, misses


def distinct_strings(count: int, seed: int = 7) -> list[str]:
    """`count` different strings shaped like the fixed set (random version numbers)."""
    rng = random.Random(seed)
    samples: list[Sample] = [*HUMANS, *BOTS]
    out = []
    for i in range(count):
        ua = samples[i % len(samples)].ua
        out.append(re.sub(r"\d+", lambda m: str(rng.randrange(1, 200)), ua, count=3) + f" r{i}")
    return out


def cold_us(parse: Callable[[str], object], strings: list[str], rounds: int) -> float:
    """Median over rounds of the mean microseconds per parse of distinct strings."""
    figures = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        for ua in strings:
            parse(ua)
        figures.append((time.perf_counter() - start) / len(strings) * 1e6)
    return median(figures)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strings", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    crawlers = crawler_list()
    candidates: list[tuple[str, Callable[[], Parse | None]]] = [
        ("ua-parser + ua-parser-rs", uap_rust),
        ("ua-parser (pure Python)", uap_python),
        ("device-detector", device_detector),
    ]
    rows: list[list[object]] = []
    notes: list[str] = []
    strings = distinct_strings(args.strings)
    for name, make in candidates:
        start = time.perf_counter()
        parse = make()
        if parse is None:
            rows.append([name, "not installed", "", "", "", "", ""])
            continue
        parse(HUMANS[0].ua)
        load_ms = (time.perf_counter() - start) * 1e3
        for label, p in ((name, parse), (f"{name} + crawler-user-agents", None)):
            if p is None:
                if crawlers is None:
                    continue
                p = with_crawlers(parse, crawlers)
            device, os_, browser, bots, misses = score(p)
            n = min(args.strings, 300) if "device-detector" in label else args.strings
            us = cold_us(p, strings[:n], args.rounds if n == args.strings else 1)
            rows.append(
                [
                    label,
                    f"{device}/{len(HUMANS)}",
                    f"{os_}/{len(HUMANS)}",
                    f"{browser}/{len(HUMANS)}",
                    f"{bots}/{len(BOTS)}",
                    us,
                    load_ms,
                ]
            )
            notes.extend(f"{label} — {m}" for m in misses)
    if crawlers is not None:
        rows.append(
            [
                "crawler-user-agents alone (Python re)",
                "",
                "",
                "",
                "",
                cold_us(crawlers, strings, args.rounds),
                "",
            ]
        )
    start = time.perf_counter()
    ours = qrstream_parser(cache_size=0)
    ours(HUMANS[0].ua)
    load_ms = (time.perf_counter() - start) * 1e3
    device, os_, browser, bots, misses = score(ours)
    counts = [
        f"{device}/{len(HUMANS)}",
        f"{os_}/{len(HUMANS)}",
        f"{browser}/{len(HUMANS)}",
        f"{bots}/{len(BOTS)}",
    ]
    rows.append(["qrstream AgentParser, cache miss", *counts, cold_us(ours, strings, args.rounds), load_ms])
    notes.extend(f"qrstream — {m}" for m in misses)
    cached = qrstream_parser(cache_size=len(strings))
    for ua in strings:
        cached(ua)
    rows.append(
        ["qrstream AgentParser, cache hit", "", "", "", "", cold_us(cached, strings, args.rounds), ""]
    )
    print(
        table(
            ["candidate", "device", "OS", "browser", "bots named", "cold parse µs", "load + first parse ms"],
            rows,
        )
    )
    print("\nMisses:")
    print("\n".join(f"- {n}" for n in notes) or "- none")


if __name__ == "__main__":
    main()

"""A fixed set of real User-Agent strings and what a person would say each one is.

`os` and `browser` list the acceptable family names (parsers name a few differently, e.g.
"Mac OS X" or "Mac"); the first is the one qrstream reports. `bot` is the name qrstream gives
a crawler or link-preview fetcher (other parsers' names count when they start the same way):
such a visit is recorded apart and never counted as a scan.
Used by tests/test_useragents.py and by bench/useragents.py (the library evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    key: str
    ua: str
    device: str = "other"
    os: tuple[str, ...] = ()
    browser: tuple[str, ...] = ()
    bot: str | None = None


HUMANS = [
    Sample(
        "ios-safari",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
        "mobile",
        ("iOS",),
        ("Mobile Safari", "Safari"),
    ),
    Sample(
        "ios-chrome",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/125.0.6422.80 Mobile/15E148 Safari/604.1",
        "mobile",
        ("iOS",),
        ("Chrome Mobile iOS", "Chrome"),
    ),
    Sample(
        "android-chrome",
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
        "mobile",
        ("Android",),
        ("Chrome Mobile",),
    ),
    Sample(
        "android-samsung",
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
        "mobile",
        ("Android",),
        ("Samsung Internet", "Samsung Browser"),
    ),
    Sample(
        "android-firefox",
        "Mozilla/5.0 (Android 14; Mobile; rv:126.0) Gecko/126.0 Firefox/126.0",
        "mobile",
        ("Android",),
        ("Firefox Mobile",),
    ),
    Sample(
        "instagram-android",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A.240505.004; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.179 Mobile Safari/537.36 Instagram 331.0.0.37.90 Android (34/14; 420dpi; 1080x2205; Google/google; Pixel 8; shiba; shiba; en_GB; 598323397)",
        "mobile",
        ("Android",),
        ("Instagram",),
    ),
    Sample(
        "facebook-ios",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/462.0.0.38.106;FBBV/601463254;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.4;FBSS/3;FBID/phone;FBLC/en_GB;FBOP/5]",
        "mobile",
        ("iOS",),
        ("Facebook",),
    ),
    Sample(
        "ipad-safari",
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
        "tablet",
        ("iOS", "iPadOS"),
        ("Mobile Safari", "Safari"),
    ),
    Sample(
        "galaxy-tab",
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "tablet",
        ("Android",),
        ("Chrome",),
    ),
    Sample(
        "kindle-fire",
        "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/123.3.1 like Chrome/123.0.6312.118 Safari/537.36",
        "tablet",
        ("Android", "Fire OS"),
        ("Amazon Silk", "Mobile Silk"),
    ),
    Sample(
        "firefox-windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "desktop",
        ("Windows",),
        ("Firefox",),
    ),
    Sample(
        "edge-windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
        "desktop",
        ("Windows",),
        ("Edge", "Microsoft Edge"),
    ),
    Sample(
        "chrome-mac",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "desktop",
        ("Mac OS X", "Mac", "macOS"),
        ("Chrome",),
    ),
    Sample(
        "safari-mac",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
        "desktop",
        ("Mac OS X", "Mac", "macOS"),
        ("Safari",),
    ),
    Sample(
        "chrome-linux",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "desktop",
        ("Linux", "GNU/Linux"),
        ("Chrome",),
    ),
    Sample(
        "firefox-ubuntu",
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
        "desktop",
        ("Ubuntu",),
        ("Firefox",),
    ),
    Sample(
        "chromebook",
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "desktop",
        ("Chrome OS",),
        ("Chrome",),
    ),
    Sample(
        "smart-tv",
        "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV Safari/537.36",
        "other",
        ("Tizen",),
        ("Safari", "Samsung Internet", "Chrome"),
    ),
    Sample(
        "playstation",
        "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)",
        "other",
        ("PlayStation", "PlayStation 5"),
        (),
    ),
]

BOTS = [
    Sample("slackbot", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", bot="Slackbot"),
    Sample("whatsapp", "WhatsApp/2.23.20.0 A", bot="WhatsApp"),
    Sample(
        "googlebot",
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.91 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        bot="Googlebot",
    ),
    Sample(
        "facebookexternalhit",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        bot="facebookexternalhit",
    ),
    Sample(
        "imessage-preview",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
        bot="facebookexternalhit",
    ),
    Sample("twitterbot", "Twitterbot/1.0", bot="Twitterbot"),
    Sample("telegrambot", "TelegramBot (like TwitterBot)", bot="TelegramBot"),
    Sample(
        "discordbot", "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", bot="Discordbot"
    ),
    Sample(
        "linkedinbot",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        bot="LinkedInBot",
    ),
    Sample(
        "bingbot", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", bot="bingbot"
    ),
    Sample(
        "teams",
        "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/51.0.2704.103 Safari/537.36 SkypeUriPreview Preview/0.5",
        bot="SkypeUriPreview",
    ),
]

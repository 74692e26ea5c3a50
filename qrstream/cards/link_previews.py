"""Link-preview bots and crawlers: they open a card's dynamic link, but nobody scanned it."""

from __future__ import annotations

import re

_PREVIEWERS = re.compile(
    r"facebookexternalhit|facebookcatalog|facebot|meta-externalagent|twitterbot|slackbot|slack-imgproxy"
    r"|whatsapp|telegrambot|discordbot|linkedinbot|googlebot|google-inspectiontool|adsbot-google"
    r"|bingbot|bingpreview|skypeuripreview|applebot|pinterestbot|redditbot|embedly|quora link preview"
    r"|vkshare|iframely|mastodon|bitlybot|yandexbot|duckduckbot|baiduspider"
    r"|microsoftpreview|teamsbot|zoombot|crawler|spider",
    re.IGNORECASE,
)


def is_link_preview(user_agent: str | None) -> bool:
    """Whether `user_agent` names a link-preview bot or a crawler."""
    return bool(user_agent) and _PREVIEWERS.search(user_agent or "") is not None

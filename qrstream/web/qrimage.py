"""QR image answers shared by the families: the §8 query parameters read, the image rendered.

The endpoint gives its defaults (the card image URL gives the card's design); the query
changes them, each bad value a 400 in the family's shape naming the parameter. A request
that changed nothing renders exactly the endpoint's default spec, in the renderer's main
cache; any other option set is cached apart (`custom`), in a small LRU of its own.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from qrstream.qr.options import FORMATS, QrOptions, parse_query
from qrstream.qr.render import QrImage, QrSpec
from qrstream.web.http import services


def spec_of(data: str, options: QrOptions) -> QrSpec:
    """The render spec of `data` drawn with `options`."""
    look = options.look
    return QrSpec(
        data,
        size=options.size,
        error=look.ecc.lower(),
        border=look.margin,
        format=options.format,
        dark=look.dark,
        light=look.light,
    )


def requested(request: web.Request, defaults: QrOptions, *, formats: tuple[str, ...] = FORMATS) -> QrOptions:
    """The options this request asks for: `defaults` changed by its query parameters."""
    if not request.query_string:  # the common case: nothing to parse
        return defaults
    return parse_query(request.query, defaults, formats=formats)


async def render(request: web.Request, data: str, options: QrOptions, defaults: QrOptions) -> QrImage:
    """The image of `data` drawn with `options`; cached apart unless they are the defaults."""
    spec = spec_of(data, options)
    return await services(request).renderer.render(spec, custom=options != defaults)


def image_response(image: QrImage, headers: Mapping[str, str]) -> web.Response:
    """The image itself as the body, with its media type (text as UTF-8)."""
    media_type = image.media_type.split(";")[0]
    charset = "utf-8" if media_type.startswith("text/") else None
    return web.Response(body=image.body, content_type=media_type, charset=charset, headers=headers)

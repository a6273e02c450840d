"""HTTP caching and compression for the portal.

* Static files are fingerprinted: templates link `/static/portal.css?v=<hash of the file>` (`templating.static_url`), so
  they are cached for a year (`immutable`) and a changed file gets a new address.
* Pages (GET, 200, HTML) carry a weak ETag of their body and a short max-age; a browser that sends the ETag
  back in If-None-Match gets 304 without the body. A page depends on the reader's language, chosen by the
  `lang` cookie or Accept-Language, hence `Vary`.
* Responses are gzip-compressed (Litestar's CompressionConfig, set in marketplace/app.py), except the live
  auction board's Server-Sent Events, which must reach the browser event by event.
"""

from __future__ import annotations

import hashlib
from typing import Any

from litestar.config.compression import CompressionConfig
from litestar.datastructures import CacheControlHeader, MutableScopeHeaders
from litestar.types import ASGIApp, Receive, Scope, Send

PAGE_MAX_AGE = 60  # seconds a browser may show a page again without asking
# what a page depends on besides its address: the language (cookie or header) and htmx's fragment requests
VARY = ("Accept-Language", "Cookie", "HX-Request")
STATIC_CACHE = CacheControlHeader(public=True, max_age=365 * 24 * 3600, immutable=True)


def compression() -> CompressionConfig:
    return CompressionConfig(backend="gzip", gzip_compress_level=6, minimum_size=500,
                             exclude=[r"^/api/v1/auctions/[^/]+/events"])


def page_cache(app: ASGIApp) -> ASGIApp:
    """ASGI middleware for the portal's pages: ETag, If-None-Match -> 304, Cache-Control and Vary on a GET
    answered 200 with HTML (the page is buffered: pages are tens of kilobytes; CSV streams pass through)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if str(scope["type"]) != "http" or scope.get("method") not in ("GET", "HEAD"):
            await app(scope, receive, send)
            return
        start: Any = None
        body: list[bytes] = []

        async def buffered(message: Any) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders(message)
                if message["status"] == 200 and (headers.get("content-type") or "").startswith("text/html"):
                    start = message
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            content = b"".join(body)
            etag = 'W/"' + hashlib.sha256(content).hexdigest()[:32] + '"'
            headers = MutableScopeHeaders(start)
            headers["ETag"] = etag
            headers.setdefault("Cache-Control", f"public, max-age={PAGE_MAX_AGE}")
            vary = [v.strip() for v in (headers.get("Vary") or "").split(",") if v.strip()]
            headers["Vary"] = ", ".join([*vary, *(v for v in VARY if v not in vary)])
            asked = [t.strip() for t in _header(scope, b"if-none-match").split(",") if t.strip()]
            if etag in asked or "*" in asked:
                del headers["Content-Length"]
                start["status"] = 304
                await send(start)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            headers["Content-Length"] = str(len(content))
            await send(start)
            await send({"type": "http.response.body", "body": content, "more_body": False})

        await app(scope, receive, buffered)

    return middleware


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""

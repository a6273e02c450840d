"""Hardening of every request and response (issue 17, finding 7).

* `body_limits(max_bytes, max_depth)`: an ASGI middleware that reads a request's body before its handler
  does and refuses a body larger than REQUEST_MAX_BODY_BYTES (413) or JSON nested deeper than JSON_MAX_DEPTH
  (400), as problem+json naming the body and the rule, before anything parses it. msgspec decodes
  recursively, so ~1,000 levels of `[` raised RecursionError, a 500 with a traceback, on any JSON endpoint,
  anonymous ones included. Any body but a form is checked: Litestar decodes a JSON handler's body whatever
  the Content-Type says. The depth is only measured when the body has more brackets than the limit (two
  C-speed counts for every body; a sealed bid has a handful), so the bids' hot path does not pay for it.
* `StreamLimits`: at most SSE_ANONYMOUS_MAX anonymous live-board streams (Server-Sent Events) per process
  and SSE_ANONYMOUS_PER_IP per client address; beyond, 429 problem+json with Retry-After.
* `security_headers(settings)`: a before-send hook adding, to every response (pages, API, errors), a
  Content-Security-Policy (only our own origin, no inline script, no framing), X-Frame-Options DENY,
  X-Content-Type-Options nosniff, Referrer-Policy and, behind HTTPS, Strict-Transport-Security. The API
  documentation pages (/schema) get a CSP that allows the inline script Litestar writes to start Swagger UI,
  whose files we serve ourselves (no CDN).
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from marketplace.core import i18n
from marketplace.core.auth.service import client_address
from marketplace.core.errors import PROBLEM_JSON, problem_body
from marketplace.core.i18n import N_, gettext
from marketplace.settings import Settings

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORMS = (b"multipart/form-data", b"application/x-www-form-urlencoded")

# The one inline style the portal runs: the indicator rules htmx 2 adds to <head> when it loads (the awards
# explorer), allowed by its hash rather than by 'unsafe-inline'. tests/security/test_csp_browser.py fails
# when an htmx upgrade changes it.
HTMX_INDICATOR_STYLE = ("'sha256-" + base64.b64encode(hashlib.sha256(
    b".htmx-indicator{opacity:0;visibility: hidden} .htmx-request .htmx-indicator, .htmx-request.htmx-indicator"
    b"{opacity:1;visibility: visible;transition: opacity 200ms ease-in}").digest()).decode() + "'")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' " + HTMX_INDICATOR_STYLE + "; img-src 'self' data:;"
       " font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self';"
       " frame-ancestors 'none'")
# Swagger UI's page (Litestar's render plugin) starts the bundle with an inline script and styles itself
# inline; the bundle and its CSS are ours (marketplace.app.SWAGGER_ASSETS), never a CDN's.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"
            " img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'")
DOCS_PREFIX = "/schema"


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in `body` (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def too_deep(body: bytes, max_depth: int) -> bool:
    """Is `body` nested deeper than `max_depth`? Counted only when it has more brackets than that."""
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False
    return json_depth(body) > max_depth


async def _refuse(send: Send, status: int, type_: str, title: str, message: str, rule: str, path: str,
                  headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = problem_body(status=status, type_=type_, title=title, detail=message, instance=path,
                        errors=[{"field": "body", "rule": rule, "message": message}])
    raw = msgspec.json.encode(body)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(raw)).encode()),
                            (b"content-language", i18n.language_tag().encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": raw, "more_body": False})


def body_limits(max_bytes: int, max_depth: int) -> Any:
    """The middleware (a factory Litestar calls with the next app): see the module's docstring."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP or scope["method"] not in BODY_METHODS:
                await app(scope, receive, send)
                return
            content_type = b""
            length = None
            for name, value in scope["headers"]:
                if name == b"content-type":
                    content_type = value.lower()
                elif name == b"content-length" and value.isdigit():
                    length = int(value)
            if content_type.startswith(FORMS):  # forms are parsed (and limited) by Litestar, never as JSON
                await app(scope, receive, send)
                return
            path = scope["path"]
            too_large = (N_("The request is too large"), N_("The body must be at most {limit} bytes"))
            if length is not None and length > max_bytes:
                await _refuse(send, 413, "payload-too-large", gettext(too_large[0]),
                              gettext(too_large[1], limit=max_bytes), "max_size", path)
                return
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                message: Any = await receive()
                if message["type"] != "http.request":  # the client went away
                    await app(scope, _replay([], message, receive), send)
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > max_bytes:
                    await _refuse(send, 413, "payload-too-large", gettext(too_large[0]),
                                  gettext(too_large[1], limit=max_bytes), "max_size", path)
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            if too_deep(body, max_depth):
                await _refuse(send, 400, "bad-request", gettext(N_("Bad request")),
                              gettext(N_("The JSON body is nested deeper than {limit} levels"), limit=max_depth),
                              "max_depth", path)
                return
            await app(scope, _replay([body], None, receive), send)

        return middleware

    return factory


def _replay(bodies: list[bytes], pending: Any, receive: Receive) -> Receive:
    """A receive that gives the body already read, then whatever the client sends next (its disconnect)."""
    queue: list[Any] = [{"type": "http.request", "body": b, "more_body": False} for b in bodies]
    if pending is not None:
        queue.append(pending)

    async def replay() -> Any:
        if queue:
            return queue.pop(0)
        return await receive()

    return replay


def security_headers(settings: Settings) -> Any:
    """The before-send hook: see the module's docstring."""
    common = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
              (b"referrer-policy", b"no-referrer")]
    if settings.public_base_url.startswith("https://"):
        common.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    page = [*common, (b"content-security-policy", CSP.encode())]
    docs = [*common, (b"content-security-policy", DOCS_CSP.encode())]
    names = {name for name, _ in page}

    async def hook(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        extra = docs if scope.get("path", "").startswith(DOCS_PREFIX) else page
        headers = list(message.get("headers") or [])
        present = {bytes(name).lower() for name, _ in headers} & names
        headers.extend(h for h in extra if h[0] not in present)
        message["headers"] = headers

    return hook


# Live boards (Server-Sent Events) an anonymous caller may hold open: each is a connection and a task for as
# long as the caller likes, so they are counted per process and per client address (issue 17).
STREAM_PATH = re.compile(r"^/api/v1/auctions/[^/]+/events/?$")


class StreamLimits:
    """Open anonymous event streams of this process: at most `total`, and `per_ip` per client address (0: no
    limit). A signed-in caller (a bearer token or an API key) is not counted: their streams are theirs."""

    def __init__(self, total: int, per_ip: int, trusted_proxy_hops: int) -> None:
        self.total, self.per_ip, self.hops = total, per_ip, trusted_proxy_hops
        self.open = 0
        self.by_ip: dict[str, int] = {}

    def middleware(self, app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if (scope["type"] != ScopeType.HTTP or scope["method"] != "GET"
                    or not scope["path"].endswith(("/events", "/events/")) or not STREAM_PATH.match(scope["path"])
                    or any(name in (b"authorization", b"x-api-key") for name, _ in scope["headers"])):
                await app(scope, receive, send)
                return
            ip = client_address(ASGIConnection(scope), self.hops)
            if (self.total and self.open >= self.total) or (self.per_ip and self.by_ip.get(ip, 0) >= self.per_ip):
                message = gettext(N_("Too many live connections are open; close one or try again later"))
                await _refuse(send, 429, "too-many-requests", gettext(N_("Too many requests")), message, "streams",
                              scope["path"], headers=[(b"retry-after", b"10")])
                return
            self.open += 1
            self.by_ip[ip] = self.by_ip.get(ip, 0) + 1
            try:
                await app(scope, receive, send)
            finally:
                self.open -= 1
                left = self.by_ip[ip] - 1
                if left:
                    self.by_ip[ip] = left
                else:
                    del self.by_ip[ip]

        return middleware

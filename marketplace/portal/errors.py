"""Error pages for browsers: the same problem the API answers (status, title, detail, in the caller's
language), as an HTML page when the caller asks for HTML.

Content negotiation on `Accept`: a browser (`text/html` first) gets the page; an API client
(`application/json`, `application/problem+json`, no Accept, or `*/*`) keeps problem+json. Under the portal's
own pages `*/*` gets the page too (they are pages). The problem is made by marketplace.core.errors' handlers
first, so the status, the headers (Retry-After, Allow...), the translation and the logging of a 500 with its
reference are the API's, whatever the caller gets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from litestar import Request, Response
from litestar.response import Template

from marketplace.core.errors import PROBLEM_JSON
from marketplace.core.i18n import N_
from marketplace.core.i18n import gettext as _

Handler = Callable[[Request[Any, Any, Any], Any], Response[Any]]

API_FIRST = [PROBLEM_JSON, "application/json", "text/html"]
HTML_FIRST = ["text/html", PROBLEM_JSON, "application/json"]

# headers of the problem that still mean something on the page
KEPT_HEADERS = ("retry-after", "allow", "www-authenticate", "content-language")

# What the page says as its heading, per status (the problem's own title otherwise).
HEADINGS = {
    401: N_("Sign in to see this page"),
    403: N_("You may not see this page"),
    404: N_("We could not find that page"),
    500: N_("Something went wrong on our side"),
    503: N_("The service is busy right now"),
}
ADVICE = {
    404: N_("It may have been moved, or the address may be mistyped. Drafts are not public until the agency "
            "publishes them."),
    500: N_("It is not your fault. If it happens again, tell us the reference above."),
    503: N_("Try again in a moment."),
}


def wants_html(request: Request[Any, Any, Any], *, page: bool = False) -> bool:
    """Whether the caller prefers an HTML page to problem+json (`page`: the address is a portal page, where
    an Accept that takes anything gets the page)."""
    if not page and not request.headers.get("accept"):
        return False
    return request.accept.best_match(HTML_FIRST if page else API_FIRST) == "text/html"


def page_for(request: Request[Any, Any, Any], response: Response[Any]) -> Response[Any]:
    """The problem in `response` as the error page."""
    body: Mapping[str, Any] = response.content if isinstance(response.content, Mapping) else {}
    status = response.status_code or 500
    heading = _(HEADINGS[status]) if status in HEADINGS else str(body.get("title") or "")
    detail = body.get("detail") or (body.get("title") if status in HEADINGS else None)
    headers = {k: v for k, v in response.headers.items() if k.lower() in KEPT_HEADERS}
    return Template("error.html", status_code=status, headers=headers, context={
        "status": status, "heading": heading, "detail": detail,
        "advice": _(ADVICE[status]) if status in ADVICE else None, "error_id": body.get("error_id")})


def negotiated(handler: Handler, *, page: bool = False) -> Handler:
    """`handler` (one of core's problem handlers), answering a browser with the error page."""

    def handle(request: Request[Any, Any, Any], exc: Any) -> Response[Any]:
        response = handler(request, exc)
        if request.headers.get("hx-request") or not wants_html(request, page=page):
            return response
        return page_for(request, response)

    return handle


def negotiate_all(handlers: Mapping[Any, Any], *, page: bool = False) -> dict[Any, Handler]:
    return {exc: negotiated(h, page=page) for exc, h in handlers.items()}

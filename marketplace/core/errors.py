"""Typed business errors and RFC 9457 problem+json for every error the API can return.

A service raises a DomainError subclass; it carries its HTTP status, a stable problem type, a
translatable title and detail, and the field and rule at fault. Views never build error responses.
"""

from __future__ import annotations

import http
import logging
import re
import uuid
from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)

from marketplace.core import i18n
from marketplace.core.i18n import N_, Plural, gettext

log = logging.getLogger("marketplace.errors")

PROBLEM_BASE = "https://mercadoabierto.pe/problems/"
PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    status: int = 400
    type: str = "bad-request"
    title: str = N_("Bad request")

    def __init__(
        self,
        detail: str | Plural | None = None,
        *,
        field: str | None = None,
        rule: str | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__((detail.singular if isinstance(detail, Plural) else detail) or self.title)
        self.detail = detail
        self.field = field
        self.rule = rule
        self.params = params or {}
        self.headers = headers or {}
        self.extra = extra


class InvalidInput(DomainError):
    status = 422
    type = "validation-error"
    title = N_("The request is not valid")


class Unauthorized(DomainError):
    status = 401
    type = "unauthorized"
    title = N_("Authentication is required")


class Forbidden(DomainError):
    status = 403
    type = "forbidden"
    title = N_("You are not allowed to do this")


class NotFound(DomainError):
    status = 404
    type = "not-found"
    title = N_("Not found")


class Conflict(DomainError):
    status = 409
    type = "conflict"
    title = N_("The request conflicts with the current state")


class DeadlinePassed(Conflict):
    type = "deadline-passed"
    title = N_("The deadline has passed")


class IdempotencyConflict(Conflict):
    type = "idempotency-key-reused"
    title = N_("This Idempotency-Key was used with a different request")


class Unavailable(DomainError):
    status = 503
    type = "service-unavailable"
    title = N_("The service is temporarily unavailable")


def problem_body(
    *,
    status: int,
    type_: str,
    title: str,
    detail: str | None = None,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An RFC 9457 problem. With exactly one error, its `field` and `rule` are also at the top, so a client
    reads the field at fault without digging into `errors`."""
    body: dict[str, Any] = {"type": PROBLEM_BASE + type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        if len(errors) == 1:
            body["field"] = errors[0]["field"]
            body["rule"] = errors[0]["rule"]
        body["errors"] = errors
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem(*, status: int, headers: dict[str, str] | None = None, **fields: Any) -> Response[Any]:
    """A problem+json response (see `problem_body` for the fields), saying which language it speaks."""
    headers = {"Content-Language": i18n.language_tag(), **(headers or {})}
    return Response(content=problem_body(status=status, **fields), status_code=status, media_type=PROBLEM_JSON,
                    headers=headers)


def _speak(request: Request[Any, Any, Any]) -> None:
    """Answer in the caller's language. The language middleware has chosen it for every request that reached
    a route; an unknown path or method is refused before any middleware runs, so choose it here too (the same
    way: ?lang=, the `lang` cookie, Accept-Language, then the DEFAULT_LOCALE setting)."""
    settings = request.app.state.get("settings")
    i18n.set_language(i18n.choose(query=request.query_params.get("lang"), cookie=request.cookies.get("lang"),
                                  accept_language=request.headers.get("accept-language"),
                                  default=getattr(settings, "default_locale", None) or "es_PE"))


def _domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    _speak(request)
    title = gettext(exc.title)
    detail = gettext(exc.detail, **exc.params) if exc.detail else None
    errors = None
    if exc.field:
        errors = [{"field": exc.field, "rule": exc.rule or exc.type, "message": detail or title}]
    return problem(
        status=exc.status, type_=exc.type, title=title, detail=detail, instance=request.url.path,
        errors=errors, headers=exc.headers, **exc.extra,
    )


_MISSING = re.compile(r"missing required field `([^`]+)`")
_AT = re.compile(r"at `\$\.?([^`]*)`")
_UNKNOWN = re.compile(r"unknown field `([^`]+)`")
_BOUND = re.compile(r"expected `[^`]+` (>=|<=|>|<|that is a multiple of)")


def _field_of(key: str | None, source: str | None, message: str) -> str:
    """The dotted path of the field at fault, from msgspec's message ('... - at `$.lots[0].qty`')."""
    source = getattr(source, "value", source)  # Litestar passes its ParamType enum
    if source in ("query", "path", "header", "cookie") and key:
        return f"{source}.{key}"
    at = _AT.search(message)
    path = at.group(1) if at else ""
    missing = _MISSING.search(message) or _UNKNOWN.search(message)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    return path or (key if key and key != "data" else "body")


def _rule_of(message: str) -> str:
    """The rule a msgspec message names. Constraint messages all start with 'Expected', so the specific
    rules are tested before the generic type mismatch."""
    m = message.lower()
    if "missing required field" in m:
        return "required"
    if "unknown field" in m:
        return "unknown_field"
    if "of length" in m:
        return "length"
    if "matching regex" in m or "pattern" in m:
        return "pattern"
    if "invalid enum value" in m or "one of" in m:
        return "enum"
    if _BOUND.search(m):
        return "range"
    if "expected" in m:
        return "type"
    if "required" in m:
        return "required"
    return "invalid"


# msgspec's English messages, said again in the caller's language.
_EXPLAIN: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Object missing required field `[^`]+`"), N_("This field is required")),
    (re.compile(r"^Object contains unknown field `[^`]+`"), N_("This field is not allowed")),
    (re.compile(r"^Expected `\w+` of length (?P<op>>=|<=) (?P<n>\d+)"), N_("Must have a length {op} {n}")),
    (re.compile(r"^Expected `\w+` (?P<op>>=|<=|>|<) (?P<n>-?[\d.]+)"), N_("Must be {op} {n}")),
    (re.compile(r"^Expected `\w+` matching regex"), N_("Does not have the required format")),
    (re.compile(r"^Invalid enum value (?P<value>.+?)$"), N_("{value} is not one of the allowed values")),
    (re.compile(r"^Expected `(?P<expected>[^`]+)`, got `(?P<got>[^`]+)`"),
     N_("Expected a value of type {expected}, got {got}")),
    (re.compile(r"^Invalid RFC3339 encoded (datetime|date|time)"),
     N_("Not a valid date and time (RFC 3339, e.g. 2026-12-01T09:30:00-05:00)")),
    (re.compile(r"^Expected `datetime` with a timezone component"), N_("The date and time needs its time zone")),
    (re.compile(r"^Invalid UUID"), N_("Not a valid id (UUID)")),
    (re.compile(r"^Invalid (decimal|base64|ISO8601|enum)"), N_("This value is not valid")),
    (re.compile(r"^JSON is malformed"), N_("The body is not valid JSON")),
]


def _explain(message: str) -> str:
    """msgspec's message in the caller's language (see _translated), or a plain "not valid" when it cannot
    be said in that language."""
    text = message.split(" - at `", 1)[0].strip()
    return _translated(text) or gettext(N_("This value is not valid"))


def _translated(text: str) -> str | None:
    """`text` in the caller's language: a message of msgspec's or Litestar's we know, said again; one of ours
    (a msgid) translated; any other as it is when the caller reads English (the language third-party
    messages are written in); else None."""
    for pattern, msgid in _EXPLAIN:
        m = pattern.search(text)
        if m:
            return gettext(msgid, **m.groupdict())
    lang = i18n.current_language()
    if text in i18n.catalog(lang) or text in i18n.catalog(i18n.FALLBACK) or lang == i18n.SOURCE:
        return gettext(text)
    return None


def _validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    _speak(request)
    errors = []
    for item in exc.extra or []:
        if isinstance(item, dict):
            message = str(item.get("message", ""))
            field = _field_of(item.get("key"), item.get("source"), message)
            errors.append({"field": field, "rule": _rule_of(message), "message": _explain(message)})
    if not errors:
        errors = [{"field": "body", "rule": "invalid", "message": _explain(str(exc.detail))}]
    return problem(
        status=422, type_="validation-error", title=gettext(InvalidInput.title),
        detail=gettext("{field}: {message}", field=errors[0]["field"], message=errors[0]["message"]),
        instance=request.url.path, errors=errors,
    )


_HTTP_TYPES = {
    400: ("bad-request", DomainError.title),
    401: ("unauthorized", Unauthorized.title),
    403: ("forbidden", Forbidden.title),
    404: ("not-found", NotFound.title),
    405: ("method-not-allowed", N_("Method not allowed")),
    409: ("conflict", Conflict.title),
    413: ("payload-too-large", N_("The request is too large")),
    415: ("unsupported-media-type", N_("Unsupported media type")),
    429: ("too-many-requests", N_("Too many requests")),
}


# What the router's refusals mean, said in place of Litestar's bare status phrase ("Not Found")
_HTTP_DETAILS = {
    404: N_("There is nothing at this address"),
    405: N_("This address does not answer this HTTP method"),
}


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ValidationException):
        return _validation_error(request, exc)
    _speak(request)
    status = exc.status_code
    if isinstance(exc, NotAuthorizedException):
        status = 401
    elif isinstance(exc, PermissionDeniedException):
        status = 403
    type_, title = _HTTP_TYPES.get(status, ("http-error", N_("Request failed")))
    if status >= 500:
        return _internal(request, exc)
    return problem(status=status, type_=type_, title=gettext(title), detail=_http_detail(exc.detail, status, title),
                   instance=request.url.path, headers=exc.headers)


def _http_detail(detail: str | None, status: int, title: str) -> str | None:
    """Litestar's detail in the caller's language (see _translated); when it only repeats the status ("Not
    Found"), what that status means here, or nothing."""
    if not detail or detail == title:
        return None
    try:
        if detail.casefold() == http.HTTPStatus(status).phrase.casefold():
            return gettext(_HTTP_DETAILS[status]) if status in _HTTP_DETAILS else None
    except ValueError:
        pass
    return _translated(detail)


_UNAVAILABLE = (
    OSError,
    ConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
    # a connection broken mid-operation (the server restarting): "cannot switch to state ...; another
    # operation is in progress" on the pool's reset at release (tests/drills/test_postgres_restart.py)
    asyncpg.exceptions.InternalClientError,
)


# (status, headers, body) of a problem not yet made into a response
Problem = tuple[int, dict[str, str], dict[str, Any]]


def _data_error(request: Request[Any, Any, Any], exc: asyncpg.exceptions.DataError) -> Problem:
    """PostgreSQL refused a value the caller sent (a NUL character in text, a number out of range, a
    malformed literal): the request is at fault, and the transaction has rolled back, so nothing was written."""
    log.info("data error on %s %s: %s", request.method, request.url.path, exc)
    message = gettext(N_("A value in the request cannot be stored: {reason}"),
                      reason=type(exc).__name__.removesuffix("Error"))
    return 422, {}, problem_body(status=422, type_="invalid-value", title=gettext(InvalidInput.title),
                                 detail=message, instance=request.url.path,
                                 errors=[{"field": "body", "rule": "storable", "message": message}])


def internal_problem(request: Request[Any, Any, Any], exc: BaseException) -> Problem:
    """The problem an unexpected exception gets: 422 for a value PostgreSQL cannot store, 503 with
    Retry-After when a dependency is unavailable or the transaction must be retried, 500 (logged with a
    reference) for anything else. In the caller's language."""
    _speak(request)
    if isinstance(exc, asyncpg.exceptions.DataError):
        return _data_error(request, exc)
    path = request.url.path
    if isinstance(exc, _UNAVAILABLE) or isinstance(getattr(exc, "__cause__", None), _UNAVAILABLE):
        log.warning("dependency unavailable on %s %s: %r", request.method, path, exc)
        return 503, {"Retry-After": "2"}, problem_body(status=503, type_="service-unavailable",
                                                        title=gettext(Unavailable.title), instance=path)
    if isinstance(exc, (asyncpg.exceptions.SerializationError, asyncpg.exceptions.DeadlockDetectedError)):
        return 503, {"Retry-After": "1"}, problem_body(status=503, type_="retry", title=gettext(Unavailable.title),
                                                        detail=gettext("Please retry the request"), instance=path)
    error_id = uuid.uuid4().hex
    log.exception("internal error %s on %s %s", error_id, request.method, path, exc_info=exc)
    return 500, {}, problem_body(status=500, type_="internal-error", title=gettext(N_("Internal error")),
                                 detail=gettext("Reference: {error_id}", error_id=error_id), instance=path,
                                 error_id=error_id)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status, headers, body = internal_problem(request, exc)
    headers = {"Content-Language": i18n.language_tag(), **headers}
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _recursion(request: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    """A body nested too deeply for the decoder: the caller's fault (400), never a 500. The body-limits
    middleware (marketplace.core.hardening) refuses such bodies first; this is the backstop."""
    _speak(request)
    log.info("recursion limit on %s %s", request.method, request.url.path)
    message = gettext(N_("The JSON body is nested too deeply"))
    return problem(status=400, type_="bad-request", title=gettext(DomainError.title), detail=message,
                   instance=request.url.path, errors=[{"field": "body", "rule": "max_depth", "message": message}])


exception_handlers = {
    RecursionError: _recursion,
    DomainError: _domain_error,
    HTTPException: _http_error,
    Exception: _internal,
}

__all__ = [
    "Conflict", "DeadlinePassed", "DomainError", "Forbidden", "IdempotencyConflict", "InvalidInput",
    "NotFound", "PROBLEM_JSON", "Unauthorized", "Unavailable", "exception_handlers", "internal_problem", "problem",
    "problem_body",
]

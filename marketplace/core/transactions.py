"""Transactions by mechanism: one unit of work per unsafe HTTP request and one per job body.

* HTTP: `UnitOfWorkMiddleware` opens a unit of work before the handler of every POST, PUT, PATCH and DELETE
  runs and decides when the response starts: a 1xx-3xx status commits (then the after-commit actions run,
  then the status line goes out), a 4xx or 5xx rolls back. So a client never sees a 2xx for a change that
  did not commit, and a refused request writes nothing, whatever the handler did before failing. Should the
  commit itself fail (a serialization failure, the server gone), the client gets that problem instead of the
  handler's answer.
* Jobs: `wrap_job(fn)` runs the body of an arq job in a unit of work, committed when the job returns and
  rolled back when it raises. The worker wraps every job it gathers (marketplace.worker).

A handler or job that must manage its transactions itself says so with the one marker, `own_transaction`,
and a comment giving the reason: `@post(..., opt=OWN_TRANSACTION)` on a handler, `@own_transaction` on a
job. Reasons that qualify: a hot path that is one statement of its own (bid submission), a body that
commits in several steps so that one failure does not undo the others (sweepers, the outbox drain), work
that must not hold a transaction open across a slow call to another service (Stripe).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from marketplace.core import db
from marketplace.core.errors import PROBLEM_JSON, internal_problem

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# The marker of a handler that opens its own transactions: `@post(..., opt=OWN_TRANSACTION)`.
OWN_TRANSACTION: dict[str, Any] = {"own_transaction": True}

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def own_transaction(fn: F) -> F:
    """The marker of a job that opens its own transactions (say why in a comment beside it)."""
    fn.own_transaction = True  # type: ignore[attr-defined]
    return fn


class UnitOfWorkMiddleware(ASGIMiddleware):
    """One unit of work around every unsafe request whose handler does not carry OWN_TRANSACTION."""

    scopes = (ScopeType.HTTP,)
    exclude_opt_key = "own_transaction"

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] not in UNSAFE_METHODS:
            await next_app(scope, receive, send)
            return
        async with db.unit_of_work() as uow:
            replaced = False

            async def send_after_deciding(message: Message) -> None:
                nonlocal replaced
                if replaced:
                    return  # the handler's answer was replaced by the commit's failure
                if message["type"] == "http.response.start" and not uow.finished:
                    if message["status"] < 400:
                        try:
                            await uow.commit()
                        except Exception as exc:  # noqa: BLE001 - answered as a problem below
                            replaced = True
                            await _send_commit_failure(scope, send, exc)
                            return
                    else:
                        await uow.rollback()
                await send(message)

            try:
                await next_app(scope, receive, send_after_deciding)
            finally:
                if not uow.finished:  # no response started (the handler raised past every handler)
                    await uow.rollback()


async def _send_commit_failure(scope: Scope, send: Send, exc: Exception) -> None:
    """The problem a failed commit gets: the same mapping as any error (503 with Retry-After for a
    serialization failure or a lost server, 500 otherwise)."""
    status, headers, body = internal_problem(Request(scope), exc)
    raw = msgspec.json.encode(body)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM_JSON.encode()),
                            (b"content-length", str(len(raw)).encode()),
                            *((k.lower().encode(), v.encode()) for k, v in headers.items())]})
    await send({"type": "http.response.body", "body": raw, "more_body": False})


def wrap_job(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """`fn` run in one unit of work, unless it is marked `own_transaction`."""
    if getattr(fn, "own_transaction", False):
        return fn

    @functools.wraps(fn)
    async def in_unit_of_work(*args: Any, **kwargs: Any) -> Any:
        async with db.unit_of_work():
            return await fn(*args, **kwargs)

    return in_unit_of_work

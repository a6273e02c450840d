"""Idempotency-Key for POSTs that create money or bids: the same key and body get the same answer.

The key is claimed by inserting a row in the request's own transaction, so:

- the first request inserts the row, does its work and stores its response before commit;
- a concurrent duplicate's INSERT waits on the primary key until the first commits (then it replays the
  stored answer) or rolls back (then it proceeds as the first);
- a refused request (an error rolls the transaction back) leaves no key behind: a retry is judged afresh;
- the same key with another body (or another path) is 409 IdempotencyConflict.

Keys are scoped by who asks (organisation and user) and by the route, so two clients never collide.
Usage in a handler:

    async with unit_of_work():
        claim = await idempotency.claim(actor=actor, route="POST /api/v1/tenders/{id}/bids",
                                        key=request.headers.get("idempotency-key"), request=(path, body))
        if claim.replay is None:
            result = await service.fn(...)
            await claim.store(status=201, response=msgspec.to_builtins(result))
    if claim.replay is not None:
        return Response(claim.replay.response, status_code=claim.replay.status)

A writer that does its work in one statement (the sealed bid) claims the key inside it instead:
`prepare()` checks the header and fingerprints the request without touching the database; the statement
inserts the key with its answer (INSERT ... ON CONFLICT DO NOTHING, its own writes gated on that insert),
and when it wrote nothing, `claim.stored()` gives the answer to replay.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import msgspec

from marketplace.core import db
from marketplace.core.actor import Actor
from marketplace.core.errors import Conflict, IdempotencyConflict, InvalidInput
from marketplace.core.i18n import N_

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
_encoder = msgspec.json.Encoder(order="sorted")


@dataclass(frozen=True, slots=True)
class Stored:
    status: int
    response: Any


@dataclass(slots=True)
class Claim:
    scope: str
    key: str | None
    replay: Stored | None = None
    fingerprint: str = ""

    async def store(self, *, status: int, response: Any) -> None:
        """Record the answer for this key, in the current transaction (no-op without a key)."""
        if self.key is None:
            return
        await db.execute(
            "UPDATE idempotency_key SET status = $3, response = $4::jsonb WHERE scope = $1 AND key = $2",
            self.scope, self.key, status, _encoder.encode(response).decode(),
        )

    async def stored(self) -> Stored | None:
        """The committed answer for this key, to replay; None when the key is free. IdempotencyConflict
        when the key was used with another request."""
        if self.key is None:
            return None
        row = await db.fetchrow(
            "SELECT request_hash, status, response FROM idempotency_key WHERE scope = $1 AND key = $2",
            self.scope, self.key,
        )
        if row is None:
            return None
        if row["request_hash"] != self.fingerprint:
            raise IdempotencyConflict(N_("This Idempotency-Key was already used with a different request"),
                                      field="header.Idempotency-Key", rule="reused")
        if row["status"] == 0:  # committed without an answer: the first request did not store one
            raise Conflict(N_("The first request with this Idempotency-Key has no stored answer"),
                           field="header.Idempotency-Key", rule="in_progress")
        response = row["response"]
        if isinstance(response, str):
            response = msgspec.json.decode(response)
        return Stored(status=row["status"], response=response)


def encode(response: Any) -> str:
    """A response as `idempotency_key.response` stores it (for writers that insert the key themselves)."""
    return _encoder.encode(msgspec.to_builtins(response)).decode()


def scope_of(actor: Actor, route: str) -> str:
    return f"{actor.org_id or '-'}:{actor.user_id or '-'}:{route}"


def request_hash(request: Any, secret: bytes | None = None) -> str:
    """The fingerprint of a request: canonical JSON of whatever identifies it (path, decoded body).

    With `secret`, an HMAC: a request whose body must stay confidential (a sealed bid's prices) leaves no
    plain hash in the database that a guess of the few unknown fields could be checked against."""
    data = _encoder.encode(msgspec.to_builtins(request))
    if secret is not None:
        return hmac.new(secret, data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


def prepare(*, actor: Actor, route: str, key: str | None, request: Any, secret: bytes | None = None) -> Claim:
    """Check the header and fingerprint the request, without touching the database: for a writer that claims
    the key inside its own statement (INSERT ... ON CONFLICT DO NOTHING, then `stored()` when it lost)."""
    scope = scope_of(actor, route)
    if key is None:
        return Claim(scope=scope, key=None)
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(N_("The Idempotency-Key header must be 1 to 255 printable characters"),
                           field="header.Idempotency-Key", rule="length")
    return Claim(scope=scope, key=key, fingerprint=request_hash(request, secret))


async def claim(*, actor: Actor, route: str, key: str | None, request: Any, secret: bytes | None = None) -> Claim:
    """Claim `key` for this request in the current transaction, or find the answer to replay."""
    c = prepare(actor=actor, route=route, key=key, request=request, secret=secret)
    if c.key is None:
        return c
    inserted = await db.fetchrow(
        "INSERT INTO idempotency_key (scope, key, request_hash, status, response)"
        " VALUES ($1, $2, $3, 0, 'null'::jsonb) ON CONFLICT DO NOTHING RETURNING 1 AS ok",
        c.scope, c.key, c.fingerprint,
    )
    if inserted is not None:
        return c
    c.replay = await c.stored()
    if c.replay is None:  # deleted between the two statements (expiry): treat as new
        return await claim(actor=actor, route=route, key=key, request=request, secret=secret)
    return c

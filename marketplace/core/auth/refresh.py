"""Refresh tokens, rotated and revocable (issue 17, finding 7; OAuth 2.0 RFC 6749 section 6, and the
refresh token rotation of RFC 6819 5.2.2.3 and the OAuth 2.0 Security BCP).

A sign-in starts a *family*; its refresh token is 256 random bits, shown once, stored as a SHA-256 digest
(a fast hash is right for a random secret, as for API keys). `rotate` spends the token presented and issues
the next one of the family with a fresh access token. The token is spent by one conditional UPDATE
(`... WHERE spent_at IS NULL AND revoked_at IS NULL`): of two concurrent refreshes with one token, the second
waits for the first's row lock and then finds it spent, so exactly one succeeds. A spent token presented
again is taken as stolen (the thief or the owner holds a copy): the whole family is revoked, so neither can
go on, and the owner signs in again. A token is refused too when its user is disabled or its token version
is no longer the user's (signed out everywhere, roles changed: marketplace.core.auth.service), and then its
family is revoked as well.

A refusal still commits what it found (the spend, the family's revocation), then raises: `rotate` opens its
own unit of work, because the token endpoint runs outside the request's (it is OWN_TRANSACTION).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from uuid import UUID

from marketplace.core import audit, clock, db
from marketplace.core.actor import SYSTEM, Actor
from marketplace.core.auth import tokens
from marketplace.core.errors import Unauthorized
from marketplace.core.i18n import N_

FIELD = "refresh_token"  # the field a refusal names in problem+json
PREFIX = "mrt_"  # tells a refresh token from an access token or an API key at a glance (logs, secret scanners)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _refused(message: str, rule: str) -> Unauthorized:
    return Unauthorized(message, field=FIELD, rule=rule, headers={"WWW-Authenticate": 'Bearer error="invalid_grant"'})


async def issue(*, user_id: UUID, token_version: int, ttl_seconds: int, family_id: UUID | None = None) -> str:
    """A new refresh token for the user (a new family unless `family_id`); only its digest is stored.
    Runs in the caller's unit of work, or commits on its own outside one (after a password sign-in)."""
    token = PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    sql = ("INSERT INTO refresh_token (family_id, user_id, token_hash, token_version, issued_at, expires_at)"
           " VALUES (coalesce($1, gen_random_uuid()), $2, $3, $4, $5, $6)")
    args = (family_id, user_id, _digest(token), token_version, now, now + timedelta(seconds=ttl_seconds))
    # The user's expired tokens go as a new one comes: nothing can be done with them (an expired token is
    # refused whatever its state), and the table stays as small as the live sessions.
    purge = "DELETE FROM refresh_token WHERE user_id = $1 AND expires_at <= $2"
    if db.in_unit_of_work():
        await db.execute(purge, user_id, now)
        await db.execute(sql, *args)
    else:
        await db.execute_autocommit(purge, user_id, now)
        await db.execute_autocommit(sql, *args)
    return token


async def _revoke_family(family_id: UUID, reason: str) -> None:
    await db.execute("UPDATE refresh_token SET revoked_at = $2, revoked_reason = $3"
                     " WHERE family_id = $1 AND revoked_at IS NULL", family_id, clock.now(), reason)


async def rotate(*, token: str, secret: str, access_ttl_seconds: int,
                 refresh_ttl_seconds: int) -> tuple[str, int, str]:
    """Spend `token` and return (access token, its lifetime, the next refresh token). Unauthorized (401,
    field `refresh_token`) with rule `invalid` (unknown), `expired`, `reused` (spent before: the family is
    revoked now), `revoked`, `inactive` (user disabled) or `stale` (signed out everywhere or roles changed)."""
    refusal: Unauthorized | None = None
    result: tuple[str, int, str] | None = None
    async with db.unit_of_work():
        now = clock.now()
        row = await db.fetchrow(
            "UPDATE refresh_token SET spent_at = $2 WHERE token_hash = $1 AND spent_at IS NULL"
            " AND revoked_at IS NULL RETURNING family_id, user_id, token_version, expires_at",
            _digest(token), now)
        if row is None:
            old = await db.fetchrow("SELECT family_id, user_id, revoked_at FROM refresh_token WHERE token_hash = $1",
                                    _digest(token))
            if old is None:
                refusal = _refused(N_("The refresh token is not valid"), "invalid")
            elif old["revoked_at"] is not None:
                refusal = _refused(N_("The refresh token has been revoked; sign in again"), "revoked")
            else:
                await _revoke_family(old["family_id"], "reused")
                await audit.record(actor=SYSTEM, action="user.refresh_token_reused", entity_type="user",
                                   entity_id=old["user_id"], data={"family_id": str(old["family_id"])})
                refusal = _refused(N_("The refresh token was already used; sign in again"), "reused")
        else:
            user = await db.fetchrow(
                "SELECT u.roles, u.active, u.token_version, o.id AS org_id, o.kind FROM app_user u"
                " JOIN organisation o ON o.id = u.organisation_id WHERE u.id = $1", row["user_id"])
            if row["expires_at"] <= now:
                refusal = _refused(N_("The refresh token has expired; sign in again"), "expired")
            elif user is None or not user["active"]:
                await _revoke_family(row["family_id"], "inactive")
                refusal = _refused(N_("This account no longer exists or is disabled"), "inactive")
            elif user["token_version"] != row["token_version"]:
                await _revoke_family(row["family_id"], "stale")
                refusal = _refused(N_("You were signed out everywhere or your roles changed; sign in again"),
                                   "stale")
            else:
                access, ttl = tokens.issue(secret=secret, ttl_seconds=access_ttl_seconds, user_id=row["user_id"],
                                           org_id=user["org_id"], org_kind=user["kind"], roles=list(user["roles"]),
                                           version=user["token_version"])
                nxt = await issue(user_id=row["user_id"], token_version=user["token_version"],
                                  ttl_seconds=refresh_ttl_seconds, family_id=row["family_id"])
                result = (access, ttl, nxt)
    if refusal is not None:
        raise refusal
    assert result is not None
    return result


async def revoke(*, token: str, actor: Actor = SYSTEM) -> None:
    """Revoke the family of `token` (RFC 7009: signing out of one device). An unknown token is no error."""
    async with db.unit_of_work():
        row = await db.fetchrow("SELECT family_id, user_id FROM refresh_token WHERE token_hash = $1", _digest(token))
        if row is not None:
            await _revoke_family(row["family_id"], "signed_out")
            await audit.record(actor=actor, action="user.refresh_token_revoked", entity_type="user",
                               entity_id=row["user_id"], data={"family_id": str(row["family_id"])})

"""Password login, tokens and API keys."""

from __future__ import annotations

import hashlib
import secrets
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from marketplace.core import clock, db
from marketplace.core.actor import ROLES, Actor
from marketplace.core.auth import tokens
from marketplace.core.errors import InvalidInput, Unauthorized
from marketplace.core.i18n import N_

_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so that timing does not reveal which emails exist.
_DUMMY_HASH = _hasher.hash("not-a-password")


def hash_password(password: str) -> str:
    if len(password) < 10:
        raise InvalidInput(N_("The password must have at least 10 characters"), field="password", rule="min_length")
    return _hasher.hash(password)


async def login(*, email: str, password: str, secret: str, ttl_seconds: int) -> tuple[str, int]:
    row = await db.fetchrow(
        "SELECT u.id, u.password_hash, u.roles, u.active, o.id AS org_id, o.kind"
        " FROM app_user u JOIN organisation o ON o.id = u.organisation_id WHERE lower(u.email) = lower($1)",
        email,
    )
    try:
        _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        row = None
    if row is None or not row["active"]:
        raise Unauthorized(N_("Wrong email or password"), rule="credentials")
    return tokens.issue(secret=secret, ttl_seconds=ttl_seconds, user_id=row["id"], org_id=row["org_id"],
                        org_kind=row["kind"], roles=list(row["roles"]))


def _digest(secret: str) -> str:
    # API keys are 256-bit random secrets: a fast hash is the right tool (no brute force is possible).
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_api_key(*, user_id: UUID, name: str) -> str:
    """A new API key for the user; the whole key is shown once and stored only as a hash."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    await db.execute(
        "INSERT INTO api_key (user_id, name, prefix, secret_hash) VALUES ($1, $2, $3, $4)",
        user_id, name, prefix, _digest(secret),
    )
    return f"ma_{prefix}_{secret}"


async def actor_for_api_key(key: str) -> Actor:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "ma":
        raise Unauthorized(N_("The API key is not valid"))
    _, prefix, secret = parts
    row = await db.fetchrow(
        "SELECT k.id, k.secret_hash, k.revoked_at, u.id AS user_id, u.roles, u.active, o.id AS org_id, o.kind"
        " FROM api_key k JOIN app_user u ON u.id = k.user_id JOIN organisation o ON o.id = u.organisation_id"
        " WHERE k.prefix = $1",
        prefix,
    )
    if (row is None or row["revoked_at"] is not None or not row["active"]
            or not secrets.compare_digest(row["secret_hash"], _digest(secret))):
        raise Unauthorized(N_("The API key is not valid"))
    return Actor(user_id=row["user_id"], org_id=row["org_id"], org_kind=row["kind"],
                 roles=frozenset(row["roles"]), via="api_key")


async def create_organisation(*, kind: str, name: str, ruc: str | None = None, ubigeo: str | None = None) -> UUID:
    if kind not in ROLES:
        raise InvalidInput(N_("Unknown organisation kind"), field="kind", rule="enum")
    row = await db.fetchrow(
        "INSERT INTO organisation (kind, name, ruc, ubigeo) VALUES ($1, $2, $3, $4) RETURNING id",
        kind, name, ruc, ubigeo,
    )
    return row["id"]


async def create_user(*, organisation_id: UUID, email: str, password: str, roles: list[str],
                      full_name: str = "", locale: str = "es") -> UUID:
    org = await db.fetchrow("SELECT kind FROM organisation WHERE id = $1", organisation_id)
    if org is None:
        raise InvalidInput(N_("Unknown organisation"), field="organisation_id", rule="exists")
    allowed = ROLES[org["kind"]]
    bad = [r for r in roles if r not in allowed]
    if bad:
        raise InvalidInput(N_("Role {role} does not exist for this organisation"), field="roles", rule="enum",
                           params={"role": bad[0]})
    row = await db.fetchrow(
        "INSERT INTO app_user (organisation_id, email, full_name, password_hash, roles, locale, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        organisation_id, email, full_name, hash_password(password), roles, locale, clock.now(),
    )
    return row["id"]

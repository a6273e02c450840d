"""Identity and access: password login, tokens, API keys, users of an organisation.

Service functions take the actor and authorise first (deny by default). Writes run in the caller's unit of
work, record an audit event and never commit. `create_organisation` and `create_user` are also the
building blocks for the CLI, the seed and other services (agencies), which pass their own actor.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection

from marketplace.core import audit, clock, db, ratelimit
from marketplace.core.actor import ROLES, SYSTEM, Actor, require_authenticated
from marketplace.core.auth import passwords, tokens, user_state
from marketplace.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from marketplace.core.i18n import N_
from marketplace.settings import SecuritySettings

API_KEY_FIELD = "header.x-api-key"
LAST_USED_GRANULARITY = timedelta(minutes=1)
_hasher = PasswordHasher()
# A hash to verify against when the user does not exist, so that timing does not reveal which emails exist.
_DUMMY_HASH = _hasher.hash("not-a-password")


def hash_password(password: str) -> str:
    """The Argon2id hash of `password` (slow on purpose: call it through `hash_password_off_loop`)."""
    if len(password) < 10:
        raise InvalidInput(N_("The password must have at least 10 characters"), field="password", rule="min_length")
    passwords.pace()
    return _hasher.hash(password)


async def hash_password_off_loop(password: str) -> str:
    """`hash_password` on the hashing threads (marketplace.core.auth.passwords), never on the event loop.
    Looked up by name at each call, so a stand-in for `hash_password` (the seed's, the tests') is honoured."""
    if len(password) < 10:  # refused before taking a hashing thread
        raise InvalidInput(N_("The password must have at least 10 characters"), field="password", rule="min_length")
    return await passwords.run(hash_password, password)


def _verify(password_hash: str, password: str) -> bool:
    passwords.pace()
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def client_address(conn: ASGIConnection[Any, Any, Any, Any], trusted_proxy_hops: int) -> str:
    """The caller's address: the peer, or behind `trusted_proxy_hops` proxies the address the outermost of
    them saw (its entry in X-Forwarded-For, counted from the right: entries further left are the client's
    own say and can be forged)."""
    peer = conn.client.host if conn.client else "unknown"
    if trusted_proxy_hops <= 0:
        return peer
    forwarded = [p.strip() for h in conn.headers.getall("x-forwarded-for", []) for p in h.split(",") if p.strip()]
    if not forwarded:
        return peer
    return forwarded[-trusted_proxy_hops] if len(forwarded) >= trusted_proxy_hops else forwarded[0]


async def login(*, email: str, password: str, secret: str, ttl_seconds: int, client: str = "local",
                limits: SecuritySettings | None = None) -> tuple[str, int]:
    """A bearer token for the user whose email and password these are (see `authenticate`)."""
    row = await authenticate(email=email, password=password, client=client, limits=limits)
    return tokens.issue(secret=secret, ttl_seconds=ttl_seconds, user_id=row["id"], org_id=row["org_id"],
                        org_kind=row["kind"], roles=list(row["roles"]), version=row["token_version"])


async def authenticate(*, email: str, password: str, client: str = "local",
                       limits: SecuritySettings | None = None) -> dict[str, Any]:
    """The user whose email and password these are: id, roles, token_version, org_id, kind.

    Rate limited (429): attempts per client address, failed attempts per account (the limits of `limits`,
    none when it is None), the latter not from an address the account signed in from before. The Argon2
    check runs on the hashing threads; an unknown email is checked against a dummy hash, so that timing does
    not reveal which emails exist. Runs outside any transaction (the handler is OWN_TRANSACTION): no
    connection is held while the hash is checked."""
    account = ratelimit.account_subject(email)
    if limits is not None:
        window = limits.rate_limit_window_seconds
        await ratelimit.hit("signin-ip", client, limit=limits.rate_limit_signin_per_ip, window=window)
        if limits.rate_limit_signin_per_account and not await ratelimit.known(account, client):
            await ratelimit.check("signin-account", account, limit=limits.rate_limit_signin_per_account,
                                  window=window, field="username")
    row = await db.fetchrow(
        "SELECT u.id, u.password_hash, u.roles, u.active, u.token_version, o.id AS org_id, o.kind"
        " FROM app_user u JOIN organisation o ON o.id = u.organisation_id WHERE lower(u.email) = lower($1)",
        email,
    )
    ok = await passwords.run(_verify, row["password_hash"] if row else _DUMMY_HASH, password)
    if row is None or not ok or not row["active"]:
        if limits is not None:
            await ratelimit.hit("signin-account", account, limit=limits.rate_limit_signin_per_account,
                                window=limits.rate_limit_window_seconds, field="username")
        raise Unauthorized(N_("Wrong email or password"), field="password", rule="credentials")
    if limits is not None and limits.rate_limit_signin_per_account:
        await ratelimit.remember(account, client)
    return row


def _digest(secret: str) -> str:
    # API keys are 256-bit random secrets: a fast hash is the right tool (no brute force is possible).
    return hashlib.sha256(secret.encode()).hexdigest()


async def actor_for_api_key(key: str) -> Actor:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "ma":
        raise Unauthorized(N_("The API key is not valid"), field=API_KEY_FIELD, rule="invalid")
    _, prefix, secret = parts
    row = await db.fetchrow(
        "SELECT k.id, k.secret_hash, k.revoked_at, k.last_used_at, u.id AS user_id, u.roles, u.active,"
        " o.id AS org_id, o.kind"
        " FROM api_key k JOIN app_user u ON u.id = k.user_id JOIN organisation o ON o.id = u.organisation_id"
        " WHERE k.prefix = $1",
        prefix,
    )
    if row is None or not secrets.compare_digest(row["secret_hash"], _digest(secret)):
        raise Unauthorized(N_("The API key is not valid"), field=API_KEY_FIELD, rule="invalid")
    if row["revoked_at"] is not None:  # said only to the holder of the whole key
        raise Unauthorized(N_("The API key has been revoked"), field=API_KEY_FIELD, rule="revoked")
    if not row["active"]:
        raise Unauthorized(N_("This account no longer exists or is disabled"), field=API_KEY_FIELD,
                           rule="inactive")
    now = clock.now()
    if row["last_used_at"] is None or now - row["last_used_at"] > LAST_USED_GRANULARITY:
        # At most one write a minute per key, outside the request's transaction: a hint for the key's owner.
        await db.execute_autocommit("UPDATE api_key SET last_used_at = $2 WHERE id = $1", row["id"], now)
    return Actor(user_id=row["user_id"], org_id=row["org_id"], org_kind=row["kind"],
                 roles=frozenset(row["roles"]), via="api_key")


async def create_organisation(*, kind: str, name: str, ruc: str | None = None, ubigeo: str | None = None,
                              actor: Actor = SYSTEM) -> UUID:
    """An organisation (no authorisation here: callers check). A RUC already registered -> 409 on `ruc`."""
    if kind not in ROLES:
        raise InvalidInput(N_("Unknown organisation kind"), field="kind", rule="enum")
    if ruc and await db.fetchrow("SELECT 1 FROM organisation WHERE ruc = $1", ruc):
        raise Conflict(N_("An organisation with this RUC is already registered"), field="ruc", rule="unique")
    try:
        row = await db.fetchone(
            "INSERT INTO organisation (kind, name, ruc, ubigeo, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            kind, name, ruc, ubigeo, clock.now(),
        )
    except asyncpg.UniqueViolationError as exc:  # a concurrent request registered the RUC first
        raise Conflict(N_("An organisation with this RUC is already registered"), field="ruc",
                       rule="unique") from exc
    await audit.record(actor=actor, action="organisation.created", entity_type="organisation",
                       entity_id=row["id"], data={"kind": kind, "name": name, "ruc": ruc, "ubigeo": ubigeo})
    org_id: UUID = row["id"]
    return org_id


# The role that administers an organisation of each kind (creates its users). Oversight bodies have none:
# their users are created by a platform admin.
ADMIN_ROLE: dict[str, str] = {"agency": "agency_admin", "supplier": "supplier_admin", "platform": "admin"}

_USER_COLUMNS = "id, organisation_id, email, full_name, roles, locale, active, created_at"


async def create_user(*, organisation_id: UUID, email: str, password: str, roles: list[str],
                      full_name: str = "", locale: str = "es", actor: Actor = SYSTEM,
                      password_hash: str | None = None) -> UUID:
    """Create a user of an organisation (no authorisation here: callers check; see create_org_user).

    Roles must exist for the organisation's kind; the email must be unused (case-insensitive) -> 409.
    `password_hash`: the password's hash when the caller made it already (before its transaction began).
    """
    org = await db.fetchrow("SELECT kind FROM organisation WHERE id = $1", organisation_id)
    if org is None:
        raise InvalidInput(N_("Unknown organisation"), field="organisation_id", rule="exists")
    allowed = ROLES[org["kind"]]
    bad = [r for r in roles if r not in allowed]
    if bad:
        raise InvalidInput(N_("Role {role} does not exist for this organisation"), field="roles", rule="enum",
                           params={"role": bad[0]})
    roles = sorted(set(roles))
    if await db.fetchrow("SELECT 1 FROM app_user WHERE lower(email) = lower($1)", email):
        raise Conflict(N_("A user with this email already exists"), field="email", rule="unique")
    password_hash = password_hash or await hash_password_off_loop(password)
    try:
        row = await db.fetchone(
            "INSERT INTO app_user (organisation_id, email, full_name, password_hash, roles, locale, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            organisation_id, email, full_name, password_hash, roles, locale, clock.now(),
        )
    except asyncpg.UniqueViolationError as exc:  # a concurrent request took the email first
        raise Conflict(N_("A user with this email already exists"), field="email", rule="unique") from exc
    await audit.record(actor=actor, action="user.created", entity_type="user", entity_id=row["id"],
                       data={"organisation_id": str(organisation_id), "email": email, "roles": roles})
    user_id: UUID = row["id"]
    return user_id


def can_administer(actor: Actor, org_id: UUID, org_kind: str) -> bool:
    """A platform admin administers every organisation; an organisation's admin role administers its own."""
    if actor.via == "system" or actor.is_("platform", "admin"):
        return True
    role = ADMIN_ROLE.get(org_kind)
    return role is not None and actor.member_of(org_id) and role in actor.roles


async def create_org_user(*, actor: Actor, organisation_id: UUID, email: str, password: str, roles: list[str],
                          full_name: str = "", locale: str = "es") -> dict[str, Any]:
    """A user of `organisation_id`, created by that organisation's admin or a platform admin."""
    require_authenticated(actor)
    org = await db.fetchrow("SELECT id, kind FROM organisation WHERE id = $1", organisation_id)
    if org is None or not can_administer(actor, org["id"], org["kind"]):
        if org is None and actor.is_("platform", "admin"):
            raise NotFound(N_("Organisation not found"))
        raise Forbidden(N_("Only the organisation's administrator can manage its users"))
    user_id = await create_user(organisation_id=organisation_id, email=email, password=password, roles=roles,
                                full_name=full_name, locale=locale, actor=actor)
    return await _user_row(user_id)


async def list_org_users(*, actor: Actor, organisation_id: UUID) -> list[dict[str, Any]]:
    require_authenticated(actor)
    org = await db.fetchrow("SELECT id, kind FROM organisation WHERE id = $1", organisation_id)
    if org is None or not can_administer(actor, org["id"], org["kind"]):
        if org is None and actor.is_("platform", "admin"):
            raise NotFound(N_("Organisation not found"))
        raise Forbidden(N_("Only the organisation's administrator can manage its users"))
    return await db.fetch(
        f"SELECT {_USER_COLUMNS} FROM app_user WHERE organisation_id = $1 ORDER BY created_at, id",
        organisation_id,
    )


async def _user_row(user_id: UUID) -> dict[str, Any]:
    row = await db.fetchrow(f"SELECT {_USER_COLUMNS} FROM app_user WHERE id = $1", user_id)
    assert row is not None
    return row


async def me(*, actor: Actor) -> dict[str, Any]:
    """The signed-in user and their organisation."""
    require_authenticated(actor)
    row = await db.fetchrow(
        "SELECT u.id, u.email, u.full_name, u.roles, u.locale, u.active, o.id AS org_id, o.kind, o.name,"
        " o.ruc, o.ubigeo FROM app_user u JOIN organisation o ON o.id = u.organisation_id WHERE u.id = $1",
        actor.user_id,
    )
    if row is None or not row["active"]:
        raise Unauthorized(N_("This account no longer exists or is disabled"), rule="inactive")
    return row


# API keys ------------------------------------------------------------------------------------------------

def _require_key_owner(actor: Actor) -> None:
    """API keys are managed by a user signed in with a password token; a key cannot mint or list keys."""
    require_authenticated(actor)
    if actor.user_id is None:
        raise Forbidden(N_("Only a user can hold API keys"))
    if actor.via == "api_key":
        raise Forbidden(N_("API keys are managed after signing in with a password, not with an API key"))


_KEY_COLUMNS = "id, name, prefix, created_at, revoked_at, last_used_at"


async def create_api_key(*, actor: Actor, name: str) -> tuple[dict[str, Any], str]:
    """A new API key for the actor's own user: its row and the whole key, shown once, stored only as a hash."""
    _require_key_owner(actor)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = await db.fetchone(
        f"INSERT INTO api_key (user_id, name, prefix, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)"
        f" RETURNING {_KEY_COLUMNS}",
        actor.user_id, name, prefix, _digest(secret), clock.now(),
    )
    await audit.record(actor=actor, action="api_key.created", entity_type="api_key", entity_id=row["id"],
                       data={"name": name, "prefix": prefix})
    return row, f"ma_{prefix}_{secret}"


async def list_api_keys(*, actor: Actor) -> list[dict[str, Any]]:
    _require_key_owner(actor)
    return await db.fetch(
        f"SELECT {_KEY_COLUMNS} FROM api_key WHERE user_id = $1 ORDER BY created_at DESC, id", actor.user_id,
    )


async def revoke_api_key(*, actor: Actor, key_id: UUID) -> None:
    """Revoke one of the actor's own keys (another user's key is not found). Revoking twice is a no-op."""
    _require_key_owner(actor)
    row = await db.fetchrow(
        "SELECT id, revoked_at FROM api_key WHERE id = $1 AND user_id = $2 FOR UPDATE", key_id, actor.user_id,
    )
    if row is None:
        raise NotFound(N_("API key not found"))
    if row["revoked_at"] is not None:
        return
    await db.execute("UPDATE api_key SET revoked_at = $2 WHERE id = $1", key_id, clock.now())
    await audit.record(actor=actor, action="api_key.revoked", entity_type="api_key", entity_id=key_id)


# Standing of a user: disable, roles, sign out everywhere (issue 17, finding 7) ------------------------------

async def _managed_user(actor: Actor, user_id: UUID) -> dict[str, Any]:
    """The user's row, locked, for a platform admin or the administrator of the user's organisation; a user
    another caller may not manage is not found (404) unless the caller is a platform admin."""
    require_authenticated(actor)
    row = await db.fetchrow(
        "SELECT u.id, u.organisation_id, u.roles, u.active, o.kind FROM app_user u"
        " JOIN organisation o ON o.id = u.organisation_id WHERE u.id = $1 FOR UPDATE OF u", user_id)
    if row is None:
        raise NotFound(N_("User not found"))
    if not can_administer(actor, row["organisation_id"], row["kind"]):
        if actor.member_of(row["organisation_id"]):
            raise Forbidden(N_("Only the organisation's administrator can manage its users"))
        raise NotFound(N_("User not found"))  # another organisation's users are not shown to exist
    return row


async def _bump(user_id: UUID) -> None:
    """Every bearer token issued so far for this user is refused from now on (marketplace.core.auth.user_state)."""
    await db.execute("UPDATE app_user SET token_version = token_version + 1 WHERE id = $1", user_id)
    user_state.forget_after_commit(user_id)


async def set_user_active(*, actor: Actor, user_id: UUID, active: bool, reason: str = "") -> dict[str, Any]:
    """Disable (or enable again) a user. Disabled: no sign-in, and their tokens and API keys are refused."""
    row = await _managed_user(actor, user_id)
    if not active and user_id == actor.user_id:
        raise Conflict(N_("You cannot disable your own account"), field="user_id", rule="self")
    if row["active"] != active:
        await db.execute("UPDATE app_user SET active = $2 WHERE id = $1", user_id, active)
        await _bump(user_id)
        await audit.record(actor=actor, action="user.enabled" if active else "user.disabled", entity_type="user",
                           entity_id=user_id, data={"reason": reason})
    return await _user_row(user_id)


async def set_user_roles(*, actor: Actor, user_id: UUID, roles: list[str]) -> dict[str, Any]:
    """Replace a user's roles (those of their organisation's kind); their tokens are refused from now on, so
    the new roles apply from their next sign-in."""
    row = await _managed_user(actor, user_id)
    allowed = ROLES[row["kind"]]
    bad = [r for r in roles if r not in allowed]
    if bad:
        raise InvalidInput(N_("Role {role} does not exist for this organisation"), field="roles", rule="enum",
                           params={"role": bad[0]})
    roles = sorted(set(roles))
    if roles != sorted(row["roles"]):
        await db.execute("UPDATE app_user SET roles = $2 WHERE id = $1", user_id, roles)
        await _bump(user_id)
        await audit.record(actor=actor, action="user.roles_changed", entity_type="user", entity_id=user_id,
                           data={"from": sorted(row["roles"]), "to": roles})
    return await _user_row(user_id)


async def sign_out_everywhere(*, actor: Actor, user_id: UUID | None = None) -> None:
    """Refuse every bearer token issued so far to `user_id` (the actor's own user when None). API keys are
    revoked one by one (DELETE /api/v1/auth/api-keys/{id})."""
    require_authenticated(actor)
    if user_id is None or user_id == actor.user_id:
        if actor.user_id is None:
            raise Forbidden(N_("Only a user can sign out"))
        user_id = actor.user_id
    else:
        await _managed_user(actor, user_id)
    await _bump(user_id)
    await audit.record(actor=actor, action="user.signed_out_everywhere", entity_type="user", entity_id=user_id)

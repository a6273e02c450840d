"""JWT bearer tokens (HS256, short-lived) carrying the actor."""

from __future__ import annotations

import functools
from datetime import timedelta
from uuid import UUID

import jwt

from marketplace.core import clock
from marketplace.core.actor import Actor
from marketplace.core.errors import Unauthorized
from marketplace.core.i18n import N_

ISSUER = "mercado-abierto"
AUDIENCE = "mercado-abierto-api"
ALGORITHM = "HS256"
LEEWAY_SECONDS = 60  # clock skew allowed on `iat` between app servers
FIELD = "header.authorization"  # the field a token error names in problem+json


def issue(*, secret: str, ttl_seconds: int, user_id: UUID, org_id: UUID, org_kind: str,
          roles: frozenset[str] | list[str], version: int = 0) -> tuple[str, int]:
    """A signed token for the user, and its lifetime in seconds. `version`: the user's token version now
    (a token of an older version is refused: marketplace.core.auth.user_state)."""
    now = clock.now()
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(user_id),
        "org": str(org_id),
        "kind": org_kind,
        "roles": sorted(roles),
        "ver": version,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), ttl_seconds


def verify(token: str, *, secret: str) -> Actor:
    return verify_versioned(token, secret=secret)[0]


def verify_versioned(token: str, *, secret: str) -> tuple[Actor, int]:
    """The token's actor and the token version it was issued under (0 when it names none)."""
    iat, exp, version, actor = _decode(token, secret)
    # Expiry (and issue time) are judged by the application clock (tests move it), not the library's wall clock.
    now = int(clock.now().timestamp())
    if iat > now + LEEWAY_SECONDS:
        raise Unauthorized(N_("The access token is not valid"), field=FIELD, rule="invalid",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if exp <= now:
        raise Unauthorized(N_("The access token has expired"), field=FIELD, rule="expired",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return actor, version


# A client sends the same token with every request for its lifetime, and PyJWT's decode was an eighth of a
# bid's CPU time. The signature of a given string under a given secret never changes, so verified tokens are
# kept (a failure raises, and is not kept) and only their times are judged again, in verify().
@functools.lru_cache(maxsize=10_000)
def _decode(token: str, secret: str) -> tuple[int, int, int, Actor]:
    """Check the signature and the claims' shape: (iat, exp, token version, actor)."""
    invalid = Unauthorized(N_("The access token is not valid"), field=FIELD, rule="invalid",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "org", "kind"], "verify_exp": False, "verify_iat": False,
                     "verify_nbf": False},
        )
    except jwt.PyJWTError as exc:
        raise invalid from exc
    version = claims.get("ver", 0)
    if not isinstance(claims["iat"], int) or not isinstance(version, int):
        raise invalid
    try:
        return claims["iat"], int(claims["exp"]), version, Actor(
            user_id=UUID(claims["sub"]), org_id=UUID(claims["org"]), org_kind=str(claims["kind"]),
            roles=frozenset(claims.get("roles") or ()), via="jwt")
    except (ValueError, TypeError) as exc:
        raise invalid from exc

"""The `actor` dependency: who is asking, from a bearer token or an API key; anonymous otherwise.

A bearer token is accepted only while its user is active and its version is the user's token version
(marketplace.core.auth.user_state: read once per AUTH_RECHECK_SECONDS per process, not per request).

Handlers that need a signed-in user still take `actor` and the service calls `require(...)`: deny by
default lives in the service layer, where the rule is written once.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from marketplace.core.actor import ANONYMOUS, Actor
from marketplace.core.auth import tokens, user_state
from marketplace.core.auth.service import actor_for_api_key
from marketplace.core.errors import Unauthorized
from marketplace.core.i18n import N_
from marketplace.settings import Settings

API_KEY_HEADER = "x-api-key"


async def provide_actor(request: Request[Any, Any, Any], settings: NamedDependency[Settings]) -> Actor:
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, credential = auth.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthorized(N_("Use 'Authorization: Bearer <token>'"), field=tokens.FIELD, rule="scheme",
                               headers={"WWW-Authenticate": "Bearer"})
        actor, version = tokens.verify_versioned(credential.strip(), secret=settings.keys.jwt_secret)
        assert actor.user_id is not None  # a token always names its user (tokens._decode)
        state = await user_state.get(actor.user_id, settings.security.auth_recheck_seconds)
        if state is None or not state.active:
            raise Unauthorized(N_("This account no longer exists or is disabled"), field=tokens.FIELD,
                               rule="inactive", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if state.version != version:
            raise Unauthorized(N_("This access token was revoked; sign in again"), field=tokens.FIELD,
                               rule="revoked", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return actor
    api_key = request.headers.get(API_KEY_HEADER)
    if api_key:
        return await actor_for_api_key(api_key)
    return ANONYMOUS

"""The `actor` dependency: who is asking, from a bearer token or an API key; anonymous otherwise.

Handlers that need a signed-in user still take `actor` and the service calls `require(...)`: deny by
default lives in the service layer, where the rule is written once.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from marketplace.core.actor import ANONYMOUS, Actor
from marketplace.core.auth import tokens
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
        return tokens.verify(credential.strip(), secret=settings.keys.jwt_secret)
    api_key = request.headers.get(API_KEY_HEADER)
    if api_key:
        from marketplace.core.auth.service import actor_for_api_key

        return await actor_for_api_key(api_key)
    return ANONYMOUS

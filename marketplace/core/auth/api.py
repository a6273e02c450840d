"""POST /api/v1/auth/token: password login (JSON or an OAuth2 form) -> a short-lived bearer token."""

from __future__ import annotations

from litestar import Controller, post

from marketplace.core.auth import service
from marketplace.core.auth.schemas import TokenRead, TokenRequest
from marketplace.settings import Settings


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/token", summary="Sign in with email and password; returns a bearer token", status_code=200)
    async def token(self, data: TokenRequest, settings: Settings) -> TokenRead:
        token, ttl = await service.login(email=data.username, password=data.password,
                                         secret=settings.keys.jwt_secret, ttl_seconds=settings.jwt_ttl_seconds)
        return TokenRead(access_token=token, token_type="bearer", expires_in=ttl)


ROUTES = [AuthController]

"""Identity endpoints: sign-in (JSON or an OAuth2 form), who am I, API keys, an organisation's users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.exceptions import ValidationException
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.params import FromPath, JSONBody

from marketplace.core import ratelimit
from marketplace.core.auth import refresh, service, tokens
from marketplace.core.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    MeOrganisation,
    MeRead,
    MeUser,
    OAuth2PasswordForm,
    RefreshForm,
    RefreshRequest,
    RevokeRequest,
    TokenRead,
    TokenRequest,
    UserCreate,
    UserDisable,
    UserRead,
    UserRolesUpdate,
)
from marketplace.core.deps import ActorDep, SettingsDep
from marketplace.core.i18n import N_
from marketplace.core.transactions import OWN_TRANSACTION

T = TypeVar("T")
FORM = "application/x-www-form-urlencoded"


def _credentials_schema() -> Schema:
    return Schema(
        type="object",  # type: ignore[arg-type]
        required=["username", "password"],
        properties={
            "username": Schema(type="string", format="email", description="the user's email"),  # type: ignore[arg-type]
            "password": Schema(type="string", format="password"),  # type: ignore[arg-type]
        },
    )


@dataclass
class _TokenOperation(Operation):
    """Documents the two bodies the token endpoint reads by hand (Litestar binds one media type per handler)."""

    def __post_init__(self) -> None:
        refresh = Schema(
            type="object",  # type: ignore[arg-type]
            required=["grant_type", "refresh_token"],
            properties={
                "grant_type": Schema(type="string", const="refresh_token"),  # type: ignore[arg-type]
                "refresh_token": Schema(type="string", description="the refresh token of the last answer"),  # type: ignore[arg-type]
            },
        )
        schema = Schema(one_of=[_credentials_schema(), refresh])
        self.request_body = RequestBody(
            required=True,
            description="Email and password, or grant_type=refresh_token and the refresh token (RFC 6749 6), as "
                        "JSON or as an OAuth2 form",
            content={"application/json": OpenAPIMediaType(schema=schema), FORM: OpenAPIMediaType(schema=schema)},
        )


def _convert(raw: Any, type_: type[T]) -> T:
    """Validate a body read by hand exactly as Litestar validates `data`: a 422 naming the field."""
    try:
        return msgspec.convert(raw, type_, strict=False)
    except msgspec.ValidationError as exc:
        raise ValidationException(
            detail="Validation failed", extra=[{"message": str(exc), "key": "data", "source": "body"}]
        ) from exc


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    # Own transaction: sign-in only reads, and must hold no connection while its hash is checked (a storm of
    # sign-ins waiting for the hashing threads would otherwise take every pooled connection from the bids).
    # Own transaction: sign-in only reads, and must hold no connection while its hash is checked (a storm of
    # sign-ins waiting for the hashing threads would otherwise take every pooled connection from the bids).
    # A refresh opens its own unit of work (marketplace.core.auth.refresh: a refusal commits what it found).
    @post("/token", summary="Sign in with email and password, or refresh (grant_type=refresh_token); returns a "
                            "bearer token and a refresh token (rate limited: 429 with Retry-After)",
          status_code=200, operation_class=_TokenOperation, security=[], opt=OWN_TRANSACTION)
    async def token(self, request: Request[Any, Any, Any], settings: SettingsDep) -> TokenRead:
        limits = settings.security
        client = service.client_address(request, limits.trusted_proxy_hops)
        raw = await self._body(request)
        if isinstance(raw, dict) and raw.get("grant_type") == "refresh_token":
            grant: RefreshForm | RefreshRequest = (_convert(raw, RefreshForm) if request.content_type[0] == FORM
                                                   else _convert(raw, RefreshRequest))
            await ratelimit.hit("refresh-ip", client, limit=limits.rate_limit_refresh_per_ip,
                                window=limits.rate_limit_window_seconds)
            access, ttl, nxt = await refresh.rotate(token=grant.refresh_token, secret=settings.keys.jwt_secret,
                                                    access_ttl_seconds=settings.jwt_ttl_seconds,
                                                    refresh_ttl_seconds=settings.refresh_token_ttl_seconds)
            return TokenRead(access_token=access, token_type="bearer", expires_in=ttl, refresh_token=nxt,
                             refresh_expires_in=settings.refresh_token_ttl_seconds)
        creds: OAuth2PasswordForm | TokenRequest = (_convert(raw, OAuth2PasswordForm)
                                                     if request.content_type[0] == FORM
                                                     else _convert(raw, TokenRequest))
        row = await service.authenticate(email=creds.username, password=creds.password, client=client,
                                         limits=limits)
        access, ttl = tokens.issue(secret=settings.keys.jwt_secret, ttl_seconds=settings.jwt_ttl_seconds,
                                   user_id=row["id"], org_id=row["org_id"], org_kind=row["kind"],
                                   roles=list(row["roles"]), version=row["token_version"])
        nxt = await refresh.issue(user_id=row["id"], token_version=row["token_version"],
                                  ttl_seconds=settings.refresh_token_ttl_seconds)
        return TokenRead(access_token=access, token_type="bearer", expires_in=ttl, refresh_token=nxt,
                         refresh_expires_in=settings.refresh_token_ttl_seconds)

    @staticmethod
    async def _body(request: Request[Any, Any, Any]) -> Any:
        """The body as a form's fields or decoded JSON (the token endpoint takes both: OAuth2 clients post forms)."""
        if request.content_type[0] == FORM:
            return dict((await request.form()).items())
        try:
            return msgspec.json.decode(await request.body())
        except msgspec.DecodeError as exc:
            raise ValidationException(detail="Validation failed", extra=[
                {"message": N_("The body is not valid JSON"), "key": "data", "source": "body"}]) from exc

    # Own transaction: refresh.revoke opens its own, like the token endpoint (no bearer token needed: the
    # refresh token is the credential, RFC 7009).
    @post("/revoke", status_code=200, security=[], opt=OWN_TRANSACTION,
          summary="Sign out of one device: revoke a refresh token and every token rotated from it (RFC 7009)")
    async def revoke(self, request: Request[Any, Any, Any], data: JSONBody[RevokeRequest],
                     settings: SettingsDep) -> None:
        limits = settings.security
        await ratelimit.hit("refresh-ip", service.client_address(request, limits.trusted_proxy_hops),
                            limit=limits.rate_limit_refresh_per_ip, window=limits.rate_limit_window_seconds)
        await refresh.revoke(token=data.token)

    @get("/me", summary="Who am I: the signed-in user, their organisation and roles")
    async def me(self, actor: ActorDep) -> MeRead:
        row = await service.me(actor=actor)
        return MeRead(
            user=MeUser(id=row["id"], email=row["email"], full_name=row["full_name"], roles=list(row["roles"]),
                        locale=row["locale"]),
            organisation=MeOrganisation(id=row["org_id"], kind=row["kind"], name=row["name"], ruc=row["ruc"],
                                        ubigeo=row["ubigeo"]),
            via=actor.via,
        )

    @post("/sign-out-everywhere", status_code=204,
          summary="Sign out everywhere: every bearer token issued to you so far is refused from now on")
    async def sign_out_everywhere(self, actor: ActorDep) -> None:
        await service.sign_out_everywhere(actor=actor)

    @post("/api-keys", summary="Create an API key for yourself (the key is shown only in this response)")
    async def create_api_key(self, data: JSONBody[ApiKeyCreate], actor: ActorDep) -> ApiKeyCreated:
        row, key = await service.create_api_key(actor=actor, name=data.name)
        return ApiKeyCreated(id=row["id"], name=row["name"], prefix=row["prefix"], created_at=row["created_at"],
                             key=key)

    @get("/api-keys", summary="Your API keys (never their secrets)")
    async def list_api_keys(self, actor: ActorDep) -> list[ApiKeyRead]:
        rows = await service.list_api_keys(actor=actor)
        return [ApiKeyRead(**r) for r in rows]

    @delete("/api-keys/{key_id:uuid}", summary="Revoke one of your API keys")
    async def revoke_api_key(self, key_id: FromPath[UUID], actor: ActorDep) -> None:
        await service.revoke_api_key(actor=actor, key_id=key_id)


class OrganisationUsersController(Controller):
    path = "/api/v1/organisations/{org_id:uuid}/users"
    tags = ["auth"]

    @post("/", summary="Create a user of the organisation (its administrator or a platform admin)")
    async def create(self, org_id: FromPath[UUID], data: JSONBody[UserCreate], actor: ActorDep) -> UserRead:
        row = await service.create_org_user(actor=actor, organisation_id=org_id, email=data.email,
                                            password=data.password, roles=list(data.roles),
                                            full_name=data.full_name, locale=data.locale)
        return _user(row)

    @get("/", summary="The organisation's users (its administrator or a platform admin)")
    async def list_users(self, org_id: FromPath[UUID], actor: ActorDep) -> list[UserRead]:
        return [_user(r) for r in await service.list_org_users(actor=actor, organisation_id=org_id)]


class UserAdminController(Controller):
    """A user's standing: platform admins for every user, an organisation's administrator for its own."""

    path = "/api/v1/admin/users/{user_id:uuid}"
    tags = ["auth"]

    @post("/disable", status_code=200,
          summary="Disable a user: no sign-in, and their tokens and API keys are refused from now on")
    async def disable(self, user_id: FromPath[UUID], actor: ActorDep,
                      data: JSONBody[UserDisable | None] = None) -> UserRead:
        return _user(await service.set_user_active(actor=actor, user_id=user_id, active=False,
                                                   reason=data.reason if data else ""))

    @post("/enable", status_code=200, summary="Enable a disabled user again (they sign in anew)")
    async def enable(self, user_id: FromPath[UUID], actor: ActorDep) -> UserRead:
        return _user(await service.set_user_active(actor=actor, user_id=user_id, active=True))

    @put("/roles", summary="Replace a user's roles; their tokens are refused, the new roles apply at sign-in")
    async def roles(self, user_id: FromPath[UUID], data: JSONBody[UserRolesUpdate], actor: ActorDep) -> UserRead:
        return _user(await service.set_user_roles(actor=actor, user_id=user_id, roles=list(data.roles)))

    @post("/sign-out-everywhere", status_code=204,
          summary="Sign a user out everywhere: every bearer token issued to them so far is refused")
    async def sign_out_everywhere(self, user_id: FromPath[UUID], actor: ActorDep) -> None:
        await service.sign_out_everywhere(actor=actor, user_id=user_id)


def _user(row: dict[str, Any]) -> UserRead:
    return UserRead(id=row["id"], organisation_id=row["organisation_id"], email=row["email"],
                    full_name=row["full_name"], roles=list(row["roles"]), locale=row["locale"],
                    active=row["active"], created_at=row["created_at"])


ROUTES = [AuthController, OrganisationUsersController, UserAdminController]

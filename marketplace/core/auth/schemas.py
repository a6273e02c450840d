from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
Password = Annotated[str, msgspec.Meta(min_length=10, max_length=1024)]
# Every role of every organisation kind (marketplace.core.actor.ROLES); the service checks the kind.
Role = Literal["officer", "committee", "agency_admin", "agency_head", "bidder", "supplier_admin", "auditor",
               "tribunal", "admin"]
Locale = Literal["es", "en", "qu"]


class TokenRequest(msgspec.Struct, forbid_unknown_fields=True):
    username: Email
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class OAuth2PasswordForm(msgspec.Struct):
    """The OAuth2 password grant form (RFC 6749 4.3): grant_type, scope and client_id are accepted and ignored."""

    username: Email
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    grant_type: Literal["password"] | None = None
    scope: str | None = None
    client_id: str | None = None
    client_secret: str | None = None


RefreshToken = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class RefreshRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The refresh grant as JSON: {"grant_type": "refresh_token", "refresh_token": "..."}."""

    grant_type: Literal["refresh_token"]
    refresh_token: RefreshToken


class RefreshForm(msgspec.Struct):
    """The OAuth2 refresh grant form (RFC 6749 6): scope and client_id are accepted and ignored."""

    grant_type: Literal["refresh_token"]
    refresh_token: RefreshToken
    scope: str | None = None
    client_id: str | None = None
    client_secret: str | None = None


class RevokeRequest(msgspec.Struct):
    """RFC 7009: the refresh token to revoke (with its whole family)."""

    token: RefreshToken
    token_type_hint: str | None = None


class TokenRead(msgspec.Struct):
    access_token: str
    token_type: str
    expires_in: int
    # Send it back with grant_type=refresh_token before it expires for a new pair; each one works once.
    refresh_token: str | None = None
    refresh_expires_in: int | None = None


class MeUser(msgspec.Struct):
    id: UUID
    email: str
    full_name: str
    roles: list[str]
    locale: str


class MeOrganisation(msgspec.Struct):
    id: UUID
    kind: str
    name: str
    ruc: str | None
    ubigeo: str | None


class MeRead(msgspec.Struct):
    """Who is asking: the user, their organisation, and how they signed in (jwt or api_key)."""

    user: MeUser
    organisation: MeOrganisation
    via: str


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class ApiKeyRead(msgspec.Struct):
    id: UUID
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(msgspec.Struct):
    """The new key. `key` is shown only in this response: send it as the `X-API-Key` header."""

    id: UUID
    name: str
    prefix: str
    created_at: datetime
    key: str


class UserCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    roles: Annotated[list[Role], msgspec.Meta(min_length=1, max_length=7)]
    full_name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    locale: Locale = "es"


class UserRead(msgspec.Struct):
    id: UUID
    organisation_id: UUID
    email: str
    full_name: str
    roles: list[str]
    locale: str
    active: bool
    created_at: datetime


class UserRolesUpdate(msgspec.Struct, forbid_unknown_fields=True):
    roles: Annotated[list[Role], msgspec.Meta(min_length=1, max_length=7)]


class UserDisable(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from marketplace.core.auth.schemas import Email, Password

Level = Literal["national", "regional", "local"]
Ubigeo = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$", description="INEI ubigeo, 6 digits")]


class AgencyAdminCreate(msgspec.Struct, forbid_unknown_fields=True):
    """The agency's first administrator (role agency_admin), who then creates its officers."""

    email: Email
    password: Password
    full_name: Annotated[str, msgspec.Meta(max_length=200)] = ""


class AgencyCreate(msgspec.Struct, forbid_unknown_fields=True):
    ruc: Annotated[str, msgspec.Meta(min_length=1, max_length=20, description="RUC, 11 digits with check digit")]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    level: Level
    ubigeo: Ubigeo
    admin: AgencyAdminCreate
    sector: Annotated[str, msgspec.Meta(max_length=120)] = ""


class AgencyRead(msgspec.Struct):
    id: UUID
    ruc: str
    name: str
    level: str
    sector: str
    ubigeo: str
    created_at: datetime


class AgencyCreated(AgencyRead):
    admin_user_id: UUID


class AgencyPage(msgspec.Struct):
    """One page of agencies; pass `next_cursor` as `after` for the next (null on the last page)."""

    items: list[AgencyRead]
    next_cursor: str | None

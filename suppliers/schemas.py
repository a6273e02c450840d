"""Supplier registry payloads: separate Create / Update / Read structs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from marketplace.core.auth.schemas import Email, Password

Ubigeo = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6}$", description="INEI ubigeo (6 digits)",
                                     examples=["150101"])]
RegionCode = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{2}$", description="INEI region code (2 digits)",
                                         examples=["08"])]
# UNSPSC code or prefix (2 to 8 digits), or a CPV code with its check digit.
Classification = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{2,8}(-[0-9])?$", examples=["43211503"])]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
Reason = Annotated[str, msgspec.Meta(min_length=3, max_length=2000)]
Phone = Annotated[str, msgspec.Meta(max_length=40, pattern=r"^[0-9+() -]*$")]
StatusName = Literal["pending", "active", "suspended", "disqualified"]


class Contact(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    email: Email
    phone: Phone = ""


class AdminUser(msgspec.Struct, forbid_unknown_fields=True):
    """The supplier's first user (role supplier_admin), who signs in with this email and password."""

    email: Email
    password: Password
    full_name: Annotated[str, msgspec.Meta(max_length=200)] = ""


class SupplierCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Self-registration in the supplier registry. The registration stays pending until the registry fee
    is paid (or a platform administrator approves it)."""

    ruc: Annotated[str, msgspec.Meta(min_length=1, max_length=20, description="11-digit RUC", examples=["20100070970"])]
    legal_name: Name
    ubigeo: Ubigeo
    contact: Contact
    admin: AdminUser
    mype: bool = False
    categories: Annotated[list[Classification], msgspec.Meta(max_length=200)] = []


class SupplierUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """What a supplier administrator may change; omitted fields stay as they are."""

    contact: Contact | None = None
    mype: bool | None = None
    categories: Annotated[list[Classification], msgspec.Meta(max_length=200)] | None = None
    ubigeo: Ubigeo | None = None


class StatusChange(msgspec.Struct, forbid_unknown_fields=True):
    """A registry decision by the platform or an oversight body. `until` is required for a suspension."""

    status: Literal["active", "suspended", "disqualified"]
    reason: Reason
    until: datetime | None = None


class ContactRead(msgspec.Struct):
    name: str
    email: str
    phone: str


PersonTypeName = Literal["company", "individual"]


class SupplierRead(msgspec.Struct):
    id: UUID
    ruc: str
    legal_name: str
    person_type: PersonTypeName  # company (persona jurídica, RUC 20...) or individual (persona natural)
    ubigeo: str
    region: str
    place: str
    mype: bool
    status: StatusName
    status_reason: str
    suspended_until: datetime | None
    categories: list[str]
    registered_at: datetime
    status_changed_at: datetime
    contact: ContactRead | None = None  # shown to the supplier itself, agencies, oversight and the platform


class StatusChangeRead(msgspec.Struct):
    from_status: StatusName
    to_status: StatusName
    reason: str
    suspended_until: datetime | None
    changed_at: datetime


class FactChangeRead(msgspec.Struct):
    """One value of the supplier's MYPE status or domicile, in force from `effective_at` until the next one.
    `source`: registration (declared when registering), supplier (its administrator's declaration),
    platform (set by a platform administrator: verified), backfill (the value known when history began)."""

    fact: Literal["mype", "domicile"]
    value: str  # 'true' / 'false' for mype; the district's ubigeo for domicile
    previous: str | None
    source: Literal["registration", "supplier", "platform", "backfill"]
    effective_at: datetime


class SupplierPage(msgspec.Struct):
    items: list[SupplierRead]
    total: int
    limit: int
    offset: int

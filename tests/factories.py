"""Factories for test data: organisations, users and their bearer headers."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from uuid import UUID

from stdnum.pe import ruc as ruc_mod

from marketplace.core import db
from marketplace.core.auth import service as auth
from marketplace.core.auth import tokens

_seq = itertools.count(1)
PASSWORD = "correct horse battery staple"


def make_ruc(prefix: str = "20") -> str:
    """A RUC that passes the check digit: prefix + 8 digits + check digit."""
    body = f"{prefix}{next(_seq) + 10_000_000:08d}"[:10]
    return body + ruc_mod.calc_check_digit(body)


@dataclass(frozen=True)
class Login:
    user_id: UUID
    org_id: UUID
    kind: str
    roles: tuple[str, ...]
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def organisation(kind: str, *, name: str | None = None, ruc: str | None = None,
                       ubigeo: str | None = "150101") -> UUID:
    async with db.unit_of_work():
        return await auth.create_organisation(
            kind=kind, name=name or f"{kind.title()} {next(_seq)}",
            ruc=ruc or (make_ruc() if kind in ("agency", "supplier") else None), ubigeo=ubigeo)


async def login(settings, kind: str, *roles: str, org_id: UUID | None = None, **org_kw) -> Login:
    """A user of a (new, unless given) organisation of `kind` with `roles`, and a bearer token."""
    org_id = org_id or await organisation(kind, **org_kw)
    email = f"user{next(_seq)}@example.pe"
    async with db.unit_of_work():
        user_id = await auth.create_user(organisation_id=org_id, email=email, password=PASSWORD,
                                         roles=list(roles))
    token, _ = tokens.issue(secret=settings.keys.jwt_secret, ttl_seconds=settings.jwt_ttl_seconds,
                            user_id=user_id, org_id=org_id, org_kind=kind, roles=list(roles))
    return Login(user_id=user_id, org_id=org_id, kind=kind, roles=tuple(roles), email=email, token=token)

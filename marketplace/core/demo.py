"""The demo toolkit every domain's seeder uses: `Demo` (the seeded random generator, the organisations and
accounts made so far), believable Peruvian names and valid RUCs. marketplace/seed.py runs the seeders
(SEEDERS) in order; the domains import this module, never marketplace/seed.py (it sits above them).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from stdnum.pe import ruc as ruc_mod

from marketplace.core.auth import service as auth
from marketplace.settings import load_settings

DEMO_PASSWORD = "demo-mercado-abierto"
DEMO_DOMAIN = "demo.mercado-abierto.pe"


@dataclass
class DemoOrg:
    id: UUID
    kind: str
    name: str
    ruc: str | None
    ubigeo: str | None
    users: dict[str, UUID] = field(default_factory=dict)  # role -> user id


@dataclass
class Account:
    email: str
    organisation: str
    roles: tuple[str, ...]


@dataclass
class Demo:
    """What the seeders share: the seeded random generator, the organisations made so far, the accounts."""

    rng: random.Random
    password: str = DEMO_PASSWORD
    orgs: dict[str, list[DemoOrg]] = field(default_factory=dict)
    accounts: list[Account] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # for later seeders (tenders, offers, ...)
    _rucs: set[str] = field(default_factory=set)

    def settings(self) -> Any:
        """The settings the seeders run with: those `marketplace seed` put in `extra`, else the environment's."""
        settings = self.extra.get("settings")
        if settings is None:
            settings = load_settings()
        return settings

    def ruc(self, prefix: str = "20") -> str:
        """A new RUC passing the SUNAT check digit: prefix (20 company, 10 person) + 8 digits + check digit."""
        while True:
            body = prefix + f"{self.rng.randrange(10_000_000, 100_000_000)}"
            ruc = body + ruc_mod.calc_check_digit(body)
            if ruc not in self._rucs:
                self._rucs.add(ruc)
                return ruc

    async def organisation(self, *, kind: str, name: str, ruc: str | None, ubigeo: str | None) -> DemoOrg:
        org_id = await auth.create_organisation(kind=kind, name=name, ruc=ruc, ubigeo=ubigeo)
        org = DemoOrg(id=org_id, kind=kind, name=name, ruc=ruc, ubigeo=ubigeo)
        self.orgs.setdefault(kind, []).append(org)
        return org

    async def user(self, org: DemoOrg, *, email: str, full_name: str, roles: list[str]) -> UUID:
        user_id = await auth.create_user(organisation_id=org.id, email=email, password=self.password,
                                         roles=roles, full_name=full_name)
        for role in roles:
            org.users.setdefault(role, user_id)
        self.accounts.append(Account(email=email, organisation=org.name, roles=tuple(roles)))
        return user_id

    def person(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(SURNAMES)} {self.rng.choice(SURNAMES)}"


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(ch if ch.isalnum() else "-" for ch in ascii_text).strip("-").replace("--", "-")


FIRST_NAMES = ["María", "José", "Rosa", "Luis", "Carmen", "Jorge", "Ana", "Carlos", "Lucía", "Juan", "Elena",
               "Miguel", "Julia", "Pedro", "Sofía", "Víctor", "Milagros", "César", "Gladys", "Raúl"]
SURNAMES = ["Quispe", "Flores", "Sánchez", "Rodríguez", "García", "Mamani", "Huamán", "Rojas", "Vásquez",
            "Chávez", "Ramírez", "Torres", "Mendoza", "Castillo", "Condori", "Ccori", "Paredes", "Salazar",
            "Gutiérrez", "Ríos"]

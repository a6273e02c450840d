"""Demo data: every demo agency organisation becomes a listed agency with its level of government."""

from __future__ import annotations

from marketplace.agencies import service
from marketplace.core.actor import SYSTEM
from marketplace.core.demo import Demo


def level_and_sector(name: str) -> tuple[str, str]:
    if name.startswith("Municipalidad"):
        return "local", "Gobiernos locales"
    if name.startswith("Gobierno Regional"):
        return "regional", "Gobiernos regionales"
    if name.startswith("Hospital"):
        return "national", "Salud"
    return "national", ""


async def seed(demo: Demo) -> None:
    for org in demo.orgs.get("agency", []):
        level, sector = level_and_sector(org.name)
        await service.register_organisation(actor=SYSTEM, organisation_id=org.id, level=level, sector=sector)

"""Demo data: `marketplace seed --demo` fills an EMPTY database with a small, believable Peruvian dataset.

Each domain adds its own step with ONE line in SEEDERS ("module:function"); a step is
`async def seed(demo: Demo) -> None` and runs, in list order, inside the one transaction that seeds
everything (a failure leaves the database empty). Earlier steps leave what later ones need in `demo`
(`demo.orgs["agency"]`, `demo.orgs["supplier"]`, ...). Everything is drawn from `demo.rng`, a seeded
random generator, so every run gives the same names, RUCs and regions (ids and timestamps differ).
Every account has the same password, DEMO_PASSWORD, printed at the end.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from marketplace.core import db, outbox
from marketplace.core.auth import service as auth
from marketplace.core.demo import DEMO_DOMAIN, DEMO_PASSWORD, Demo, slug
from marketplace.oversight.ocds import publisher
from marketplace.settings import Settings

# One line per domain that seeds demo data, in the order they run.
SEEDERS: list[str] = [
    "marketplace.seed:seed_core",
    "suppliers.seed:seed",
    "marketplace.agencies.seed:seed",
    "tenders.seed:seed",
    "tenders.awards.seed:seed",
    "tenders.auctions.seed:seed",
]

DEFAULT_SEED = 2026
SEED_LOCK = 7_300_010  # advisory lock key: two processes seeding at once do it once


# Buying organisations: (name, ubigeo of its seat).
AGENCIES: list[tuple[str, str]] = [
    ("Municipalidad Metropolitana de Lima", "150101"),
    ("Hospital Nacional Dos de Mayo", "150101"),
    ("Gobierno Regional del Cusco", "080101"),
    ("Municipalidad Provincial de Arequipa", "040101"),
    ("Gobierno Regional de Piura", "200101"),
    ("Municipalidad Provincial de Maynas", "160101"),
    ("Gobierno Regional de La Libertad", "130101"),
    ("Municipalidad Provincial de Puno", "210101"),
]

# Suppliers: (name, ubigeo of its domicile, natural person). The suppliers domain adds their registry
# details (MYPE, catalogue offers) in its own seeder, reading demo.orgs["supplier"].
SUPPLIERS: list[tuple[str, str, bool]] = [
    ("Constructora Rímac S.A.C.", "150132", False),
    ("Distribuidora Médica del Sur E.I.R.L.", "040101", False),
    ("Inversiones Qosqo S.R.L.", "080108", False),
    ("Servicios Generales Tallán S.A.C.", "200104", False),
    ("Transportes Amazonía E.I.R.L.", "160101", False),
    ("Agroindustrias Chimú S.A.", "130101", False),
    ("Textiles Altiplano S.R.L.", "210101", False),
    ("Ferretería El Misti S.A.C.", "040101", False),
]


async def seed_core(demo: Demo) -> None:
    """The platform and its admin, an oversight body (its auditor, and a member of the Tribunal who decides
    appeals above APPEAL_TRIBUNAL_UIT), agencies across regions (an officer, two committee members, an
    administrator and the head who decides appeals up to that threshold) and suppliers (an administrator and a
    bidder each)."""
    platform = await demo.organisation(kind="platform", name="Mercado Abierto", ruc=None, ubigeo="150101")
    await demo.user(platform, email=f"admin@{DEMO_DOMAIN}", full_name="Administración de la plataforma",
                    roles=["admin"])

    oversight = await demo.organisation(kind="oversight", name="Contraloría de Demostración",
                                        ruc=demo.ruc("20"), ubigeo="150101")
    await demo.user(oversight, email=f"auditor@{DEMO_DOMAIN}", full_name=demo.person(), roles=["auditor"])
    await demo.user(oversight, email=f"tribunal@{DEMO_DOMAIN}", full_name=demo.person(), roles=["tribunal"])

    for name, ubigeo in AGENCIES:
        org = await demo.organisation(kind="agency", name=name, ruc=demo.ruc("20"), ubigeo=ubigeo)
        short = slug(name.replace("Municipalidad Provincial de ", "muni-").replace(
            "Municipalidad Metropolitana de ", "muni-").replace("Gobierno Regional del ", "gore-").replace(
            "Gobierno Regional de ", "gore-").replace("Hospital Nacional ", "hospital-"))
        await demo.user(org, email=f"admin.{short}@{DEMO_DOMAIN}", full_name=demo.person(),
                        roles=["agency_admin"])
        await demo.user(org, email=f"oficial.{short}@{DEMO_DOMAIN}", full_name=demo.person(), roles=["officer"])
        await demo.user(org, email=f"titular.{short}@{DEMO_DOMAIN}", full_name=demo.person(),
                        roles=["agency_head"])
        for n in (1, 2):
            await demo.user(org, email=f"comite{n}.{short}@{DEMO_DOMAIN}", full_name=demo.person(),
                            roles=["committee"])

    for name, ubigeo, person in SUPPLIERS:
        org = await demo.organisation(kind="supplier", name=name, ruc=demo.ruc("10" if person else "20"),
                                      ubigeo=ubigeo)
        short = slug(name.split(" S.")[0].split(" E.I.R.L.")[0])
        await demo.user(org, email=f"admin.{short}@{DEMO_DOMAIN}", full_name=demo.person(),
                        roles=["supplier_admin"])
        await demo.user(org, email=f"ventas.{short}@{DEMO_DOMAIN}", full_name=demo.person(), roles=["bidder"])


def _load(ref: str) -> Callable[[Demo], Awaitable[None]]:
    module, _, name = ref.partition(":")
    seeder: Callable[[Demo], Awaitable[None]] = getattr(importlib.import_module(module), name)
    return seeder


async def database_is_empty() -> bool:
    """No organisation yet: nothing a user made, so demo data may go in."""
    return await db.fetchrow("SELECT 1 FROM organisation LIMIT 1") is None


@contextmanager
def _hash_demo_password_once() -> Iterator[None]:
    """Argon2 is slow on purpose (~0.1 s a hash here); every demo account shares one password, so hash it
    once for the whole seed instead of once per account. Only the demo password takes the shortcut."""
    original = auth.hash_password
    demo_hash = original(DEMO_PASSWORD)
    auth.hash_password = lambda password: demo_hash if password == DEMO_PASSWORD else original(password)
    try:
        yield
    finally:
        auth.hash_password = original


async def seed_demo(*, settings: Settings, seed: int = DEFAULT_SEED) -> Demo | None:
    """Run every seeder in one transaction when the database is empty; None (and nothing written) if not."""
    async with db.unit_of_work():
        await db.execute("SELECT pg_advisory_xact_lock($1)", SEED_LOCK)
        if not await database_is_empty():
            return None
        demo = Demo(rng=random.Random(seed), extra={"settings": settings})
        with _hash_demo_password_once():
            for ref in SEEDERS:
                await _load(ref)(demo)
    await publish_open_data(settings)
    return demo


async def publish_open_data(settings: Settings) -> None:
    """After the seed has committed: publish the demo's OCDS releases now (the worker would, moments later)
    and write the bulk files, today's so far included, so /ocds/bulk and /datos-abiertos list a file at once."""
    await outbox.drain("oversight.ocds")
    async with db.unit_of_work():
        await publisher.write_bulk(settings)

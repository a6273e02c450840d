"""Demo data for the supplier registry and the catalogue: suppliers in every region (valid RUCs, a MYPE mix,
a few suspended or pending), five framework-agreement catalogues with fifty product sheets, and about three
thousand offers priced per region (cheapest and fastest at home, dearer and slower farther away), so that
local-first search has something to show. Also a purchase order or two and a tender alert subscription.

Registered in marketplace/seed.py SEEDERS as "suppliers.seed:seed". Deterministic: every choice comes from
`demo.rng` (offer ids too); registrations go through the registry's service, catalogues, product sheets and
the alert through piccolo, and the three thousand offers in bulk (one COPY-like statement per table: row
by row they would take most of the seed's time), then announced on the outbox for search like any other
offer.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from marketplace.core import audit, clock, db, geo
from marketplace.core.actor import SYSTEM, Actor
from marketplace.core.demo import Account
from suppliers import service
from suppliers.alerts.tables import AlertSubscription
from suppliers.catalog import events
from suppliers.catalog.tables import Catalog, ProductSheet
from suppliers.domain import PersonType, Status
from suppliers.schemas import AdminUser, Contact, SupplierCreate, SupplierRead
from suppliers.tables import Supplier

SUPPLIERS_PER_REGION = 4
DOMAIN = "demo.mercado-abierto.pe"

# code, name, description, [(product name, UNSPSC code, unit, base price in céntimos, attributes)]
CATALOGUES: list[tuple[str, str, str, list[tuple[str, str, str, int, dict[str, Any]]]]] = [
    ("AM-UTILES-2026", "Útiles de escritorio y papelería", "Acuerdo marco de útiles de escritorio", [
        ("Papel bond A4 80 g", "14111507", "paquete x 500", 1890, {"gramaje": 80, "formato": "A4", "color": "blanco"}),
        ("Papel bond A3 75 g", "14111507", "paquete x 500", 3650, {"gramaje": 75, "formato": "A3"}),
        ("Lapicero azul punta fina", "44121704", "caja x 50", 2450, {"color": "azul", "punta": "fina"}),
        ("Lápiz grafito HB", "44121706", "caja x 12", 690, {"dureza": "HB"}),
        ("Folder manila A4", "44122011", "paquete x 100", 2200, {"formato": "A4"}),
        ("Archivador de palanca lomo ancho", "44122003", "unidad", 780, {"lomo": "ancho", "formato": "oficio"}),
        ("Tóner para impresora láser negro", "44103103", "unidad", 18900, {"color": "negro", "rendimiento": 3000}),
        ("Cuaderno cuadriculado A4 100 hojas", "14111514", "unidad", 450, {"hojas": 100, "rayado": "cuadriculado"}),
        ("Engrapador de escritorio", "44121615", "unidad", 1590, {"capacidad_hojas": 25}),
        ("Corrector líquido tipo lapicero", "44121802", "caja x 12", 1980, {"contenido_ml": 7}),
    ]),
    ("AM-COMPUTO-2026", "Computadoras y periféricos", "Acuerdo marco de equipos informáticos", [
        ("Computadora de escritorio Core i5 16 GB 512 GB SSD", "43211507", "unidad", 289000,
         {"procesador": "Core i5", "memoria_gb": 16, "almacenamiento": "512 GB SSD"}),
        ("Computadora portátil 14 pulgadas Core i5 16 GB", "43211503", "unidad", 349000,
         {"pantalla_pulgadas": 14, "procesador": "Core i5", "memoria_gb": 16}),
        ("Monitor LED 24 pulgadas Full HD", "43211902", "unidad", 52900, {"pulgadas": 24, "resolucion": "1920x1080"}),
        ("Impresora multifuncional láser monocromática", "43212105", "unidad", 119000,
         {"tecnologia": "láser", "ppm": 38, "duplex": True}),
        ("Proyector multimedia 4000 lúmenes", "45111609", "unidad", 189000, {"lumenes": 4000}),
        ("Teclado USB en español", "43211706", "unidad", 3900, {"idioma": "español", "conexion": "USB"}),
        ("Mouse óptico USB", "43211708", "unidad", 2500, {"conexion": "USB"}),
        ("Disco sólido externo 1 TB", "43201827", "unidad", 39900, {"capacidad": "1 TB"}),
        ("Estabilizador de tensión 1000 VA", "39121004", "unidad", 12900, {"potencia_va": 1000}),
        ("Tableta educativa 10 pulgadas", "43211509", "unidad", 79900, {"pantalla_pulgadas": 10, "memoria_gb": 4}),
    ]),
    ("AM-LIMPIEZA-2026", "Limpieza e higiene", "Acuerdo marco de productos de limpieza", [
        ("Papel higiénico jumbo", "14111704", "paquete x 6 rollos", 4290, {"metros_por_rollo": 250}),
        ("Jabón líquido para manos", "53131608", "galón", 2890, {"contenido_l": 3.785}),
        ("Lejía hipoclorito de sodio 5 %", "47131810", "galón", 1290, {"concentracion": "5 %"}),
        ("Detergente industrial", "47131807", "bolsa de 15 kg", 9890, {"peso_kg": 15}),
        ("Alcohol en gel 70 %", "53131626", "litro", 1890, {"concentracion": "70 %"}),
        ("Bolsas de basura negras 140 L", "47121701", "paquete x 100", 4590, {"capacidad_l": 140}),
        ("Escoba de cerdas plásticas", "47131604", "unidad", 1190, {"mango": "madera"}),
        ("Trapeador de algodón", "47131618", "unidad", 1490, {"material": "algodón"}),
        ("Mascarilla KN95", "42131713", "caja x 20", 2990, {"filtracion": "95 %"}),
        ("Guantes de nitrilo talla M", "42132203", "caja x 100", 3490, {"talla": "M"}),
    ]),
    ("AM-CONSTRUCCION-2026", "Materiales de construcción", "Acuerdo marco de materiales de construcción", [
        ("Cemento Portland tipo I", "30111601", "bolsa de 42.5 kg", 2990, {"tipo": "I", "peso_kg": 42.5}),
        ("Fierro corrugado 1/2 pulgada", "30102404", "varilla de 9 m", 4490, {"diametro": "1/2\"", "longitud_m": 9}),
        ("Ladrillo King Kong 18 huecos", "30131502", "millar", 95000, {"huecos": 18}),
        ("Arena gruesa", "11111501", "metro cúbico", 6500, {}),
        ("Piedra chancada 1/2 pulgada", "11111503", "metro cúbico", 7900, {"tamano": "1/2\""}),
        ("Tubo PVC desagüe 4 pulgadas", "40142008", "tubo de 3 m", 3290, {"diametro": "4\"", "longitud_m": 3}),
        ("Pintura látex lavable", "31211508", "galón", 5490, {"acabado": "mate"}),
        ("Calamina galvanizada 0.30 mm", "30151507", "plancha", 2890, {"espesor_mm": 0.3}),
        ("Alambre negro N.° 16", "30102604", "kilogramo", 790, {"calibre": 16}),
        ("Triplay 4 mm", "11121608", "plancha 1.22 x 2.44 m", 3890, {"espesor_mm": 4}),
    ]),
    ("AM-ALIMENTOS-2026", "Alimentos para programas sociales", "Acuerdo marco de alimentos", [
        ("Arroz extra", "50221101", "saco de 50 kg", 19900, {"calidad": "extra"}),
        ("Aceite vegetal", "50151513", "botella de 1 L", 890, {"contenido_l": 1}),
        ("Leche evaporada entera", "50131701", "lata de 400 g", 390, {"peso_g": 400}),
        ("Azúcar rubia", "50161509", "saco de 50 kg", 17900, {"tipo": "rubia"}),
        ("Lenteja", "50221002", "bolsa de 1 kg", 790, {"peso_kg": 1}),
        ("Atún en aceite vegetal", "50121537", "lata de 170 g", 590, {"peso_g": 170}),
        ("Avena en hojuelas", "50221108", "bolsa de 1 kg", 690, {"peso_kg": 1}),
        ("Quinua perlada", "50221101", "bolsa de 1 kg", 1290, {"peso_kg": 1, "origen": "Puno"}),
        ("Fideo tallarín", "50192303", "bolsa de 1 kg", 550, {"peso_kg": 1}),
        ("Conserva de sardina", "50121539", "lata de 425 g", 690, {"peso_g": 425}),
    ]),
]

PREFIXES = ["Comercial", "Distribuidora", "Inversiones", "Corporación", "Importaciones", "Servicios Generales",
            "Negociaciones", "Suministros", "Grupo Empresarial", "Abastecimientos"]
SUFFIXES = ["S.A.C.", "E.I.R.L.", "S.R.L.", "S.A."]


def _uuid(demo: Any) -> uuid.UUID:
    return uuid.UUID(int=demo.rng.getrandbits(128), version=4)


async def _enrol_existing(demo: Any) -> None:
    """Registry rows for the supplier organisations seed_core made (they have no supplier row yet)."""
    now = clock.now()
    for org in demo.orgs.get("supplier", []):
        if await Supplier.exists().where(Supplier.organisation_id == org.id):
            continue
        individual = (org.ruc or "").startswith(("10", "15", "17"))
        await Supplier.insert(Supplier(
            organisation_id=org.id, ruc=org.ruc, legal_name=org.name, ubigeo=org.ubigeo or "150101",
            person_type=(PersonType.INDIVIDUAL if individual else PersonType.COMPANY).value,
            mype=demo.rng.random() < 0.6, status=Status.ACTIVE.value, status_reason="demo",
            contact_name=demo.person(), contact_email=f"contacto.{org.ruc}@{DOMAIN}", registered_at=now,
            status_changed_at=now, updated_at=now))
        row = await Supplier.select(Supplier.mype, Supplier.ubigeo).where(Supplier.organisation_id == org.id).first()
        assert row is not None
        await service.record_facts(org_id=org.id, changes={"mype": (None, row["mype"]),
                                                             "domicile": (None, row["ubigeo"])},
                                    source="registration", actor_user_id=None, now=now)
        await audit.record(actor=SYSTEM, action="supplier.registered", entity_type="supplier", entity_id=org.id,
                           data={"ruc": org.ruc, "seed": True})


async def _register_regional(demo: Any) -> list[SupplierRead]:
    """SUPPLIERS_PER_REGION suppliers domiciled in each of the 25 regions (the first in the capital)."""
    created = []
    n = 0
    for region in geo.regions():
        districts = geo.districts(region.code + "01")  # the capital's province first...
        others = [d for d in geo.districts() if d.region_code == region.code]
        for i in range(SUPPLIERS_PER_REGION):
            n += 1
            place = districts[0] if i == 0 else demo.rng.choice(others)
            natural = demo.rng.random() < 0.2
            if natural:
                name = demo.person()
                ruc = demo.ruc("10")
            else:
                province = geo.province(place.code)
                town = province.display_name if province and demo.rng.random() < 0.5 else region.display_name
                name = (f"{demo.rng.choice(PREFIXES)} {town}"
                        f" {demo.rng.choice(SUFFIXES)}")
                ruc = demo.ruc("20")
            email = f"proveedor{n:03d}@{DOMAIN}"
            registration = await service.register(actor=Actor(), data=SupplierCreate(
                ruc=ruc, legal_name=name, ubigeo=place.code, mype=demo.rng.random() < 0.6,
                contact=Contact(name=demo.person() if not natural else name, email=email,
                                phone=f"9{demo.rng.randrange(10_000_000, 99_999_999)}"),
                admin=AdminUser(email=email, password=demo.password, full_name=demo.person()),
                categories=[]))
            created.append(registration.supplier)
            if i == 0:
                demo.accounts.append(Account(email=email, organisation=name, roles=("supplier_admin", "bidder")))
    return created


async def _catalogues(demo: Any) -> list[dict[str, Any]]:
    sheets = []
    now = clock.now()
    for code, name, description, products in CATALOGUES:
        (cat,) = await Catalog.insert(Catalog(code=code, name=name, description=description, created_at=now)).returning(
            Catalog.id)
        for pname, unspsc, unit, price, attributes in products:
            (row,) = await ProductSheet.insert(ProductSheet(
                catalog=cat["id"], name=pname, attributes=attributes, classification_code=unspsc, unit=unit,
                created_at=now)).returning(ProductSheet.id)
            sheets.append({"id": row["id"], "catalog": code, "base": price, "code": unspsc})
        await audit.record(actor=SYSTEM, action="catalog.created", entity_type="catalog", entity_id=cat["id"],
                           data={"code": code, "seed": True})
    return sheets


def _regions_served(demo: Any, home: str) -> dict[str, tuple[float, int, int]]:
    """Region -> (price factor, delivery days low, high): home first, then neighbours, Lima, or everywhere."""
    served = {home: (1.0, 1, 3)}
    neighbours = sorted(geo.regions_adjoining(home))
    for code in demo.rng.sample(neighbours, k=min(len(neighbours), demo.rng.randint(1, 3))):
        served[code] = (1.0 + demo.rng.uniform(0.03, 0.08), 3, 6)
    if demo.rng.random() < 0.3:
        for code in ("15", "07"):
            served.setdefault(code, (1.0 + demo.rng.uniform(0.04, 0.1), 4, 8))
    if demo.rng.random() < 0.08:  # a nationwide distributor
        for r in geo.regions():
            served.setdefault(r.code, (1.0 + demo.rng.uniform(0.1, 0.18), 7, 15))
    return served


async def _offers(demo: Any, supplier_ids: list[tuple[Any, str]], sheets: list[dict[str, Any]]) -> int:
    now = clock.now()
    catalogues = sorted({s["catalog"] for s in sheets})
    offers: list[tuple[uuid.UUID, Any, Any, str, str]] = []  # id, sheet, supplier, brand, status
    regions: list[tuple[uuid.UUID, str, int, int, int]] = []  # offer, region, price, delivery days, stock
    for supplier_id, ubigeo in supplier_ids:
        lines = demo.rng.sample(catalogues, k=demo.rng.randint(2, 4))
        factor = demo.rng.uniform(0.88, 1.15)
        for sheet in sheets:
            if sheet["catalog"] not in lines or demo.rng.random() < 0.15:
                continue
            offer_id = _uuid(demo)
            status = "paused" if demo.rng.random() < 0.03 else "active"
            offers.append((offer_id, sheet["id"], supplier_id, demo.rng.choice(["", "Atlas", "Andina", "Inca",
                                                                                "Pacífico", "Sol"]), status))
            for code, (rf, lo, hi) in _regions_served(demo, ubigeo[:2]).items():
                price = max(1, round(sheet["base"] * factor * rf / 10) * 10)
                stock = 0 if demo.rng.random() < 0.05 else demo.rng.randrange(5, 800)
                regions.append((offer_id, code, price, demo.rng.randint(lo, hi), stock))
    conn = await db.current_uow().connection()
    await conn.execute(
        "INSERT INTO offer (id, product_sheet_id, supplier_id, brand, status, created_at, updated_at)"
        " SELECT i, p, s, b, st, $6, $6 FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[])"
        " AS t(i, p, s, b, st)", *[list(col) for col in zip(*offers, strict=False)], now)
    cols = [list(col) for col in zip(*regions, strict=False)]
    await conn.execute(
        "INSERT INTO offer_region (offer_id, region_code, price_cents, delivery_days, stock, updated_at)"
        " SELECT * , $6 FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::int[], $5::int[])", *cols, now)
    await conn.execute(
        "INSERT INTO offer_price_change (offer_id, region_code, old_price_cents, new_price_cents, changed_at)"
        " SELECT o, r, NULL, p, $4 FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS t(o, r, p)",
        cols[0], cols[1], cols[2], now)
    return len(offers)


async def seed(demo: Any) -> None:
    await _enrol_existing(demo)
    regional = await _register_regional(demo)
    for sup in regional:
        await service.approve_registration(actor=SYSTEM, org_id=sup.id, reason="demo: fee paid")
    # a little variety in the registry: one suspended, two still pending payment
    suspended = regional[5].id
    await service.change_status(actor=SYSTEM, org_id=suspended, status="suspended",
                                reason="Sanción del Tribunal de Contrataciones (demostración)",
                                until=clock.now() + timedelta(days=120))
    sheets = await _catalogues(demo)
    all_suppliers = await Supplier.select(Supplier.organisation_id, Supplier.ubigeo).order_by(Supplier.ruc)
    count = await _offers(demo, [(r["organisation_id"], r["ubigeo"]) for r in all_suppliers], sheets)
    for r in all_suppliers:
        await events.emit_supplier_offers(supplier_id=r["organisation_id"], change="created")
    # two pending registrations (registry fee not paid yet)
    pending = []
    for i in range(2):
        email = f"pendiente{i + 1}@{DOMAIN}"
        region = demo.rng.choice(geo.regions())
        pending.append(await service.register(actor=Actor(), data=SupplierCreate(
            ruc=demo.ruc("20"), legal_name=f"Nueva Empresa {region.display_name} S.A.C.", ubigeo=region.code + "0101",
            mype=True, contact=Contact(name=demo.person(), email=email),
            admin=AdminUser(email=email, password=demo.password))))
    # a tender alert for the first Cusco supplier
    cusco = next(s for s in regional if s.ubigeo.startswith("08"))
    assert cusco.contact is not None
    await AlertSubscription.insert(AlertSubscription(
        supplier_id=cusco.id, name="Cómputo en el sur", classification_prefixes=["4321"],
        region_codes=["08", "03", "21"], email=cusco.contact.email, created_at=clock.now()))
    demo.extra["suppliers"] = {"regional": len(regional), "offers": count,
                               "suspended": suspended, "pending": [p.supplier.id for p in pending]}

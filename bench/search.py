"""Catalogue search benchmark: the PostgreSQL backend on 1,000,000 generated offers across all regions.

    python -m bench.search                 # 1,000,000 offer documents, 300 queries
    python -m bench.search --rows 100000   # quicker
    python -m bench.search --keep          # leave the database for exploring (name printed)

It builds a fresh database on the server at BENCH_DATABASE_URL (default: the local server), runs the
migrations, COPYs the generated documents into the backend's derived table (with the GIN index built
after the load, as `reindex` of a fresh database would face), fills the vocabulary, ANALYZEs, then times,
in the same run and on the same rows:

* `local-first`: what GET /api/v1/catalog/search runs for a common word with a typo or without, and a
  place of delivery: word correction against the vocabulary, count, and the tier-by-tier ranking
  (PostgresIndex.search_offers), 20 results;
* `plain`: the plain SQL full-text query a naive implementation would run for the same words and region
  (`WHERE tsv @@ q AND region = $r ORDER BY ts_rank(...) DESC LIMIT 20`), with the correct spelling given
  (no typo tolerance, no tiers);
* `plain-all`: the same plain query without the region filter (ranking every match in the country).

It reports p50/p95/p99 in milliseconds and the ratio local-first / plain (p95). The target (DESIGN.md):
local-first p95 < 50 ms on this machine. No timed assertions: this prints numbers.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from collections import Counter

import asyncpg
import msgspec

from bench.common import scratch_arguments, scratch_database
from marketplace.core import db, geo
from marketplace.core.migrate import migrate_all
from search.backends.postgres import PostgresIndex
from search.domain import CatalogQuery, fold, offer_doc

# (name, classification, attribute text); several names share words so some words are very common.
PRODUCTS = [
    ("Papel bond A4 75 g", "14111507", "hojas: 500; blancura: 96%"),
    ("Papel bond A3 80 g", "14111507", "hojas: 500"),
    ("Papel higiénico doble hoja", "14111704", "rollos: 24"),
    ("Papel toalla interfoliado", "14111703", "paquetes: 20"),
    ("Computadora portátil 14 pulgadas", "43211503", "procesador: Core i5; ram: 16 GB"),
    ("Computadora de escritorio", "43211507", "procesador: Ryzen 5; ram: 8 GB"),
    ("Computadora todo en uno", "43211508", "pantalla: 24 pulgadas"),
    ("Impresora láser monocromática", "43212105", "ppm: 40"),
    ("Impresora multifuncional de tinta", "43212104", "wifi: sí"),
    ("Tóner para impresora láser", "44103103", "rendimiento: 3000 páginas"),
    ("Silla ergonómica de oficina", "56101504", "material: malla"),
    ("Silla apilable de plástico", "56101504", "color: azul"),
    ("Escritorio de melamina", "56101703", "medidas: 120 x 60 cm"),
    ("Archivador metálico de cuatro gavetas", "56101715", "color: gris"),
    ("Cemento Portland tipo I", "30111601", "bolsa: 42.5 kg"),
    ("Fierro corrugado de construcción", "30102201", "diámetro: 1/2 pulgada"),
    ("Ladrillo de arcilla King Kong", "30131502", "dimensiones: 24 x 13 x 9"),
    ("Pintura látex para interiores", "31211501", "galón"),
    ("Alcohol en gel antibacterial", "53131626", "litro"),
    ("Mascarilla quirúrgica descartable", "42131713", "caja x 50"),
    ("Guantes de nitrilo", "42132203", "caja x 100"),
    ("Lapicero de tinta seca azul", "44121704", "caja x 50"),
    ("Cuaderno anillado A4", "14111514", "hojas: 100"),
    ("Proyector multimedia", "45111609", "lúmenes: 3500"),
    ("Agua de mesa sin gas", "50202301", "bidón 20 litros"),
    ("Arroz extra", "50221101", "saco 50 kg"),
    ("Aceite vegetal", "50151513", "caja x 12 botellas"),
    ("Leche evaporada", "50131702", "caja x 48 latas"),
    ("Detergente en polvo", "47131807", "bolsa 4 kg"),
    ("Lejía desinfectante", "47131803", "galón"),
]
BRANDS = ["Andina", "Inca", "Pacífico", "Sol", "Norte", "Sur", "Huascarán", "Misti", "Titicaca", "Amazonía"]
# (query as typed, the correct word for the plain baseline)
QUERIES = [("papel", "papel"), ("computadra", "computadora"), ("impresora", "impresora"), ("sila", "silla"),
           ("cemento", "cemento"), ("computadora portatil", "computadora portatil"), ("guantes", "guantes"),
           ("impresroa laser", "impresora laser"), ("escritorio", "escritorio"), ("agua", "agua")]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def generate(rows: int, seed: int):
    """Yield (record tuple for COPY, folded words) for `rows` offer documents."""
    rnd = random.Random(seed)
    districts = [d.code for d in geo.districts()]
    regions = [r.code for r in geo.regions()]
    suppliers = [(str(uuid.UUID(int=rnd.getrandbits(128))), rnd.choice(districts), f"Proveedor {i} SAC")
                 for i in range(max(100, rows // 50))]
    encoder = msgspec.json.Encoder()
    for n in range(rows):
        supplier_id, ubigeo, supplier_name = rnd.choice(suppliers)
        name, code, attrs = rnd.choice(PRODUCTS)
        roll = rnd.random()  # suppliers mostly sell at home and next door
        if roll < 0.5:
            region = ubigeo[:2]
        elif roll < 0.8 and geo.regions_adjoining(ubigeo[:2]):
            region = rnd.choice(sorted(geo.regions_adjoining(ubigeo[:2])))
        else:
            region = rnd.choice(regions)
        brand = rnd.choice(BRANDS)
        doc = offer_doc(offer_id=str(uuid.UUID(int=n + 1)), supplier_id=supplier_id, supplier_name=supplier_name,
                        supplier_ubigeo=ubigeo, region=region, name=f"{name} {brand}", attributes=attrs,
                        classification=code, price_cents=rnd.randint(500, 5_000_000),
                        delivery_days=rnd.randint(1, 30), stock=rnd.randint(0, 1000))
        record = (doc.id, doc.offer_id, doc.supplier_id, doc.region, doc.supplier_ubigeo, doc.supplier_province,
                  doc.supplier_region, doc.classification, doc.family, doc.price_cents, doc.delivery_days,
                  encoder.encode(doc.to_dict()).decode(), doc.digest)
        yield record, f"{name} {brand} {attrs}"


async def build(url: str, rows: int, seed: int) -> None:
    db.configure(url)

    await migrate_all()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP INDEX IF EXISTS search_offer_tsv_idx")
        await conn.execute("DROP INDEX IF EXISTS search_offer_name_tsv_idx")
        words: Counter[str] = Counter()
        columns = ["id", "offer_id", "supplier_id", "region", "supplier_ubigeo", "supplier_province",
                   "supplier_region", "classification", "family", "price_cents", "delivery_days", "doc", "digest"]
        t0 = time.perf_counter()
        batch: list[tuple] = []
        done = 0
        for record, text in generate(rows, seed):
            batch.append(record)
            words.update(w for w in set(fold(text).replace(";", " ").split()) if len(w) >= 3 and w.isalnum())
            if len(batch) == 50_000:
                await conn.copy_records_to_table("search_offer", records=batch, columns=columns)
                done += len(batch)
                batch.clear()
                print(f"  loaded {done:,} rows ({time.perf_counter() - t0:.0f} s)", flush=True)
        if batch:
            await conn.copy_records_to_table("search_offer", records=batch, columns=columns)
        print(f"  COPY done in {time.perf_counter() - t0:.0f} s; building the GIN index...", flush=True)
        t1 = time.perf_counter()
        await conn.execute("SET maintenance_work_mem = '256MB'")
        await conn.execute("CREATE INDEX search_offer_tsv_idx ON search_offer USING gin (tsv)")
        await conn.execute("CREATE INDEX search_offer_name_tsv_idx ON search_offer USING gin (name_tsv)")
        await conn.executemany("INSERT INTO search_vocabulary (kind, word, ndoc) VALUES ('offers', $1, $2)",
                               list(words.items()))
        await conn.execute("VACUUM ANALYZE search_offer")
        await conn.execute("ANALYZE search_vocabulary")
        print(f"  index, vocabulary and ANALYZE in {time.perf_counter() - t1:.0f} s", flush=True)
    finally:
        await conn.close()


async def measure(url: str, queries: int, seed: int) -> dict[str, list[float]]:

    await db.start(url, min_size=1, max_size=2)
    index = PostgresIndex()
    rnd = random.Random(seed + 1)
    districts = [d.code for d in geo.districts()]
    times: dict[str, list[float]] = {"local-first": [], "plain": [], "plain-all": []}
    plain = ("SELECT id, doc FROM search_offer WHERE tsv @@ plainto_tsquery('ma_spanish', $1) AND region = $2 "
             "ORDER BY ts_rank(tsv, plainto_tsquery('ma_spanish', $1)) DESC LIMIT 20")
    plain_all = ("SELECT id, doc FROM search_offer WHERE tsv @@ plainto_tsquery('ma_spanish', $1) "
                 "ORDER BY ts_rank(tsv, plainto_tsquery('ma_spanish', $1)) DESC LIMIT 20")
    try:
        for i in range(queries + 20):  # the first 20 warm the caches and are not counted
            typed, correct = rnd.choice(QUERIES)
            ubigeo = rnd.choice(districts)
            order = ["local-first", "plain", "plain-all"]
            rnd.shuffle(order)
            for what in order:
                t = time.perf_counter()
                if what == "local-first":
                    page = await index.search_offers(CatalogQuery(q=typed, ubigeo=ubigeo, limit=20))
                    assert page.hits or page.total == 0
                elif what == "plain":
                    await db.fetch(plain, correct, ubigeo[:2])
                else:
                    await db.fetch(plain_all, correct)
                if i >= 20:
                    times[what].append((time.perf_counter() - t) * 1000)
    finally:
        await db.stop()
    return times


async def main() -> None:
    args = scratch_arguments(__doc__, queries=300)
    async with scratch_database("bench_search", reuse=args.reuse, keep=args.keep) as (url, name):
        if not args.reuse:
            print(f"building {args.rows:,} offer documents in database {name}...", flush=True)
            await build(url, args.rows, args.seed)
        times = await measure(url, args.queries, args.seed)
        conn = await asyncpg.connect(url)
        stats = await conn.fetchrow("SELECT count(*) AS n, count(DISTINCT region) AS regions FROM search_offer")
        await conn.close()
        print(f"\n{stats['n']:,} documents across {stats['regions']} regions; {args.queries} queries each "
              f"(common words, half with typos for local-first; random delivery districts)\n")
        print(f"{'query':<14}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
        for what, values in times.items():
            print(f"{what:<14}{pct(values, 50):>10.2f}{pct(values, 95):>10.2f}{pct(values, 99):>10.2f}"
                  f"{statistics.fmean(values):>10.2f}")
        ratio = pct(times["local-first"], 95) / pct(times["plain"], 95)
        ratio_all = pct(times["local-first"], 95) / pct(times["plain-all"], 95)
        print(f"\nratio p95 local-first / plain (same region): {ratio:.2f}")
        print(f"ratio p95 local-first / plain-all (every match ranked): {ratio_all:.2f}")
        print(f"target: local-first p95 < 50 ms -> {'met' if pct(times['local-first'], 95) < 50 else 'NOT met'}")

if __name__ == "__main__":
    asyncio.run(main())

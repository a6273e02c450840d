"""`python -m bench generate`: the data the scenarios run on, at scale, deterministic.

    python -m bench generate                 # scale 1: 100,000 tenders, 1,000,000 bids, 1,000,000 awards,
                                             #          1,000,000 catalogue offer documents (all 25 regions)
    python -m bench generate --scale 0.05    # 5,000 / 50,000 / 50,000 / 50,000: a few minutes here
    BENCH_DATABASE_URL=postgresql://... python -m bench generate --scale 0.2 --seed 7

Into BENCH_DATABASE_URL (default: database `ma_bench` on the local server), dropped and created again,
migrated with marketplace.core.migrate.migrate_all. COPY into the real tables: organisations (agencies,
suppliers with users), tenders (every state, 1-4 lots, deadlines spread over two years, methods and
categories in SEACE-like proportions, delivery places across every region), sealed bids (bids per tender
long-tailed: most tenders draw a few, some draw dozens; suppliers Pareto-distributed, local ones more
likely), one score sheet and award per lot of awarded tenders. The derived read models measured by the
other scenarios are filled by their own loaders, on the same database: `award_history` (bench/oversight.py,
1,000,000 x scale rows) and `search_offer` with its vocabulary (bench/search.py, 1,000,000 x scale).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from stdnum.pe import ruc as ruc_mod

from bench import oversight, search
from bench.common import bench_url, ensure_database

REGIONS = [f"{i:02d}" for i in range(1, 26)]
METHODS = [("simplified_award", "open", 0.45), ("price_comparison", "open", 0.2),
           ("reverse_auction", "open", 0.15), ("public_tender", "open", 0.08),
           ("public_contest", "open", 0.07), ("direct_contracting", "direct", 0.05)]
STATES = [("awarded", 0.35), ("contracted", 0.3), ("evaluation", 0.05), ("tendering", 0.1), ("published", 0.05),
          ("cancelled", 0.07), ("unsuccessful", 0.08)]
CATEGORIES = [("goods", 0.55), ("services", 0.3), ("works", 0.15)]
ITEMS = [("Cemento Portland tipo I", "30111601", "bolsa"), ("Papel bond A4", "14111507", "millar"),
         ("Computadora portátil", "43211503", "unidad"), ("Servicio de limpieza", "76111501", "servicio"),
         ("Mantenimiento de local escolar", "72101507", "obra"), ("Alimentos para programa social", "50221101", "kg"),
         ("Medicamentos esenciales", "51101500", "caja"), ("Combustible diésel", "15101505", "galón"),
         ("Consultoría de obra", "81101500", "servicio"), ("Mobiliario escolar", "56121500", "unidad")]
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _pick(rng: random.Random, weighted):
    r, acc = rng.random(), 0.0
    for item in weighted:
        acc += item[-1]
        if r < acc:
            return item
    return weighted[-1]


def _ruc(n: int, prefix: str) -> str:
    body = f"{prefix}{n:08d}"
    return body + ruc_mod.calc_check_digit(body)


def _ubigeo(rng: random.Random, region: str) -> str:
    return f"{region}{rng.randrange(1, 6):02d}{rng.randrange(1, 8):02d}"


async def _copy(conn, table: str, columns: list[str], rows: list[tuple]) -> None:
    for i in range(0, len(rows), 50_000):
        await conn.copy_records_to_table(table, records=rows[i:i + 50_000], columns=columns)


async def load_core(url: str, *, scale: float, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    n_agencies = max(50, int(2_000 * scale))
    n_suppliers = max(500, int(20_000 * scale))
    n_tenders = max(100, int(100_000 * scale))
    n_bids = max(1_000, int(1_000_000 * scale))
    conn = await asyncpg.connect(url)
    try:
        t0 = time.perf_counter()
        agencies = [(uuid.UUID(int=rng.getrandbits(128)), rng.choice(REGIONS)) for _ in range(n_agencies)]
        suppliers = [(uuid.UUID(int=rng.getrandbits(128)), rng.choice(REGIONS)) for _ in range(n_suppliers)]
        orgs = [(a, "agency", _ruc(10_000_000 + i, "20"), f"Entidad {i}", _ubigeo(rng, r))
                for i, (a, r) in enumerate(agencies)]
        orgs += [(s, "supplier", _ruc(30_000_000 + i, "20"), f"Proveedor {i} S.A.C.", _ubigeo(rng, r))
                 for i, (s, r) in enumerate(suppliers)]
        await _copy(conn, "organisation", ["id", "kind", "ruc", "name", "ubigeo"], orgs)
        users = [(uuid.UUID(int=rng.getrandbits(128)), o[0], f"u{i}@bench.pe", "x",
                  ["officer"] if o[1] == "agency" else ["bidder"]) for i, o in enumerate(orgs)]
        await _copy(conn, "app_user", ["id", "organisation_id", "email", "password_hash", "roles"], users)
        await _copy(conn, "supplier", ["organisation_id", "ruc", "legal_name", "ubigeo", "person_type", "mype",
                                       "status"],
                    [(o[0], o[2], o[3], o[4], "company", rng.random() < 0.6, "active")
                     for o in orgs if o[1] == "supplier"])
        by_region: dict[str, list[uuid.UUID]] = {}
        for s, r in suppliers:
            by_region.setdefault(r, []).append(s)
        officer_of = {u[1]: u[0] for u in users}

        tenders, lots, bids, bid_lots, sheets, awards = [], [], [], [], [], []
        # bids per tender: long-tailed, scaled so that the total is about n_bids
        weights = [rng.lognormvariate(0, 1.0) for _ in range(n_tenders)]
        per_bid = n_bids / (sum(weights) * (1 - 0.05))  # published tenders (5%) take no bids yet
        for i in range(n_tenders):
            tid = uuid.UUID(int=rng.getrandbits(128))
            agency, region = agencies[int(rng.paretovariate(1.2)) % n_agencies]
            method, pm, _ = _pick(rng, METHODS)
            state = _pick(rng, STATES)[0]
            category = _pick(rng, CATEGORIES)[0]
            deadline = T0 + timedelta(days=rng.uniform(0, 700))
            if state in ("published", "tendering"):
                deadline = datetime.now(UTC) + timedelta(days=rng.uniform(1, 30))
            enquiry = deadline - timedelta(days=rng.randrange(3, 10))
            item = rng.choice(ITEMS)
            tenders.append((tid, f"ocds-ma0000-{tid}", agency, officer_of[agency], f"{item[0]} para {region}",
                            method, pm, category, state, enquiry, deadline, deadline + timedelta(hours=1),
                            enquiry - timedelta(days=5), deadline if state not in ("published", "tendering") else None,
                            "ma-1", os.urandom(40)))
            n_lots = 1 if rng.random() < 0.7 else rng.randrange(2, 5)
            lot_ids = []
            for k in range(n_lots):
                lid = uuid.UUID(int=rng.getrandbits(128))
                lot_ids.append(lid)
                delivery = _ubigeo(rng, region if rng.random() < 0.8 else rng.choice(REGIONS))
                lot_state = state
                lots.append((lid, tid, k + 1, f"Lote {k + 1}: {item[0]}", rng.randrange(10_000_00, 5_000_000_00),
                             "UNSPSC", item[1], rng.randrange(1, 5000), item[2], delivery, lot_state))
            if state in ("published",):
                continue
            n = max(0, round(weights[i] * per_bid))
            local = by_region.get(region) or [s for s, _ in suppliers]
            chosen: set[uuid.UUID] = set()
            for _ in range(3 * n):  # n distinct bidders (one live bid per supplier and lot)
                if len(chosen) >= n:
                    break
                pool = local if rng.random() < 0.6 else None
                s = rng.choice(pool) if pool else suppliers[int(rng.paretovariate(1.1) * 7) % n_suppliers][0]
                chosen.add(s)
            tender_bids = []
            for s in chosen:
                bid = uuid.UUID(int=rng.getrandbits(128))
                sealed = rng.randbytes(64)
                at = deadline - timedelta(seconds=rng.expovariate(1 / 86400))  # most bids come near the end
                bids.append((bid, tid, s, sealed, hashlib.sha256(sealed).hexdigest(), "ma-1", at, "sig", at))
                for lid in lot_ids:
                    bid_lots.append((bid, tid, lid, s))
                tender_bids.append((bid, s))
            if state in ("awarded", "contracted") and tender_bids:
                for lid in lot_ids:
                    bid, s = rng.choice(tender_bids)
                    sheet = uuid.UUID(int=rng.getrandbits(128))
                    sheets.append((sheet, tid, lid, 1, "awarded", "{}", deadline + timedelta(days=3)))
                    notified = deadline + timedelta(days=rng.uniform(3, 20))
                    awards.append((uuid.UUID(int=rng.getrandbits(128)), tid, lid, sheet, bid, s,
                                   rng.randrange(10_000_00, 5_000_000_00), 90, "consented", 8, notified,
                                   notified + timedelta(days=8), notified, notified))
        await _copy(conn, "tender", ["id", "ocid", "agency_id", "created_by", "title", "method", "procurement_method",
                                     "category", "state", "enquiry_end", "submission_deadline", "opening_time",
                                     "published_at", "opened_at", "key_id", "wrapped_key"], tenders)
        await _copy(conn, "tender_lot", ["id", "tender_id", "number", "title", "estimated_value",
                                         "classification_scheme", "classification_code", "quantity", "unit",
                                         "delivery_ubigeo", "state"], lots)
        await _copy(conn, "bid", ["id", "tender_id", "supplier_id", "sealed", "sha256", "key_id", "received_at",
                                  "signature", "confirmed_at"], bids)
        await _copy(conn, "bid_lot", ["bid_id", "tender_id", "lot_id", "supplier_id"], bid_lots)
        await _copy(conn, "score_sheet", ["id", "tender_id", "lot_id", "round", "outcome", "sheet", "created_at"],
                    sheets)
        await _copy(conn, "award", ["id", "tender_id", "lot_id", "score_sheet_id", "bid_id", "supplier_id", "value",
                                    "final_score", "state", "standstill_days", "notified_at", "standstill_ends_at",
                                    "created_at", "state_changed_at"], awards)
        await conn.execute("ANALYZE")
        counts = {"agencies": n_agencies, "suppliers": n_suppliers, "tenders": len(tenders), "lots": len(lots),
                  "bids": len(bids), "awards": len(awards)}
        print(f"  core tables: {counts} in {time.perf_counter() - t0:.0f} s", flush=True)
        return counts
    finally:
        await conn.close()


async def generate(url: str, *, scale: float, seed: int) -> dict[str, int]:

    print(f"generating into {url.rsplit('/', 1)[-1]} at scale {scale} (seed {seed})", flush=True)
    await ensure_database(url, fresh=True)
    counts = await load_core(url, scale=scale, seed=seed)
    n = max(1_000, int(1_000_000 * scale))
    print(f"  award_history read model: {n:,} rows (bench/oversight.py loader)", flush=True)
    await oversight.build(url, n, seed)
    print(f"  search_offer read model: {n:,} offer documents (bench/search.py loader)", flush=True)
    await search.build(url, n, seed)
    counts.update(award_history=n, offers=n)
    conn = await asyncpg.connect(url)
    await conn.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text NOT NULL)")
    await conn.execute("INSERT INTO bench_meta VALUES ('scale', $1), ('seed', $2) ON CONFLICT (key) DO UPDATE"
                       " SET value = excluded.value", str(scale), str(seed))
    await conn.close()
    return counts


def main(argv: list[str] | None = None) -> dict[str, int]:
    p = argparse.ArgumentParser(prog="python -m bench generate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    counts = asyncio.run(generate(bench_url(), scale=args.scale, seed=args.seed))
    print(f"done in {time.perf_counter() - t0:.0f} s: {counts}")
    return counts

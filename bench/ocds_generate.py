"""Generate realistic OCDS releases for the import bench: `python -m bench.ocds_generate -o FILE`.

Shapes follow the real samples (Paraguay, Ukraine, Armenia, Jalisco and the Peru-shaped fixture): each
process publishes a planning, a tender, an award (with its bids) and a contract release, with parties
identified by RUC, CUBSO items classified with UNSPSC, documents and amounts in PEN. Releases come in date
order across processes (a window of processes moves through its stages together), so one process's releases
are spread over the file, as in a publisher's daily feed. Deterministic for a given --seed.

    python -m bench.ocds_generate -o /tmp/ocds-200k.json --releases 200000          # one release package
    python -m bench.ocds_generate -o /tmp/ocds-200k.jsonl.gz --releases 200000      # JSON Lines, gzip
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stdnum.pe import ruc as pe_ruc

STAGES = ("planning", "tender", "award", "contract")
WINDOW = 2000  # processes moving through their stages together
METHODS = [("open", "Licitación Pública"), ("open", "Concurso Público"), ("selective", "Adjudicación Simplificada"),
           ("open", "Subasta Inversa Electrónica"), ("limited", "Contratación Directa")]
GOODS = [("30111505", "Cemento portland"), ("43211503", "Computadoras portátiles"), ("42131606", "Mascarillas"),
         ("50192100", "Alimentos preparados"), ("72141103", "Pavimentación de carreteras"),
         ("81112002", "Servicios de procesamiento de datos"), ("25101503", "Camionetas"),
         ("44121618", "Papel bond A4"), ("51102700", "Antisépticos"), ("39111610", "Luminarias LED")]
REGIONS = ["Lima", "Arequipa", "Cusco", "Ayacucho", "Piura", "Loreto", "Puno", "Junín", "La Libertad", "Callao"]


def ruc(rng: random.Random, company: bool = True) -> str:
    base = ("20" if company else "10") + f"{rng.randrange(10**8):08d}"
    return base + pe_ruc.calc_check_digit(base)


def _ts(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


class Process:
    def __init__(self, rng: random.Random, n: int, start: datetime, suppliers: list[dict[str, Any]],
                 buyers: list[dict[str, Any]]) -> None:
        self.ocid = f"ocds-dgv273-seacev3-{1_000_000 + n}"
        self.rng = rng
        self.start = start
        self.buyer = rng.choice(buyers)
        self.method, self.details = rng.choice(METHODS)
        self.items = []
        for i in range(rng.randint(1, 3)):
            code, desc = rng.choice(GOODS)
            self.items.append({"id": str(i + 1), "description": f"{desc} - lote {i + 1}",
                               "quantity": rng.randint(1, 5000),
                               "classification": {"scheme": "CUBSO", "id": f"{code}{rng.randrange(10**8):08d}",
                                                  "description": desc},
                               "additionalClassifications": [{"scheme": "UNSPSC", "id": code, "description": desc}],
                               "unit": {"name": rng.choice(["UNIDAD", "BOLSA", "KILOGRAMO", "SERVICIO"])}})
        self.value = rng.randint(5_000, 5_000_000)
        self.bidders = rng.sample(suppliers, rng.randint(1, 6))
        self.bids = sorted((round(self.value * rng.uniform(0.75, 1.05), 2), s) for s in self.bidders)
        self.amount, self.winner = self.bids[0]

    def party(self, org: dict[str, Any], roles: list[str]) -> dict[str, Any]:
        return {**org, "roles": roles}

    def release(self, stage: str) -> dict[str, Any]:
        day = STAGES.index(stage)
        date = self.start + timedelta(days=day * 21, hours=self.rng.randint(8, 18))
        rid = f"{self.ocid}-{stage}-{day + 1}"
        buyer_ref = {"id": self.buyer["id"], "name": self.buyer["name"]}
        parties = [self.party(self.buyer, ["buyer", "procuringEntity"])]
        tender: dict[str, Any] = {
            "id": self.ocid.rsplit("-", 1)[1], "title": f"{self.details.upper()} N° {self.rng.randint(1, 300)}-2024",
            "status": "planning" if stage == "planning" else "active" if stage == "tender" else "complete",
            "procurementMethod": self.method, "procurementMethodDetails": self.details,
            "mainProcurementCategory": self.rng.choice(["goods", "services", "works"]),
            "value": {"amount": 0 if self.rng.random() < 0.3 else self.value, "currency": "PEN"},
            "procuringEntity": buyer_ref, "items": self.items,
            "tenderPeriod": {"startDate": _ts(self.start + timedelta(days=21)),
                             "endDate": _ts(self.start + timedelta(days=35))},
            "documents": [{"id": f"{rid}-bases", "documentType": "biddingDocuments", "title": "Bases integradas",
                           "url": f"https://prodapp2.seace.gob.pe/documentos/{rid}.pdf", "format": "application/pdf",
                           "datePublished": _ts(date)}],
        }
        rel: dict[str, Any] = {"ocid": self.ocid, "id": rid, "date": _ts(date), "tag": [stage],
                               "initiationType": "tender", "language": "es", "buyer": buyer_ref}
        if stage == "planning":
            rel["planning"] = {"budget": {"amount": {"amount": self.value, "currency": "PEN"},
                                          "description": "Recursos ordinarios"}}
            tender = {k: tender[k] for k in ("id", "title", "status", "items", "procuringEntity")}
        if stage in ("award", "contract"):
            tender["tenderers"] = [{"id": s["id"], "name": s["name"]} for s in self.bidders]
            tender["numberOfTenderers"] = len(self.bidders)
            parties += [self.party(s, ["tenderer", "supplier"] if s is self.winner else ["tenderer"])
                        for s in self.bidders]
        rel["parties"] = parties
        rel["tender"] = tender
        award_id = f"{self.ocid.rsplit('-', 1)[1]}-1"
        if stage == "award":
            rel["bids"] = {"details": [{"id": str(i + 1), "status": "valid", "date": _ts(date - timedelta(days=7)),
                                        "value": {"amount": amount, "currency": "PEN"},
                                        "tenderers": [{"id": s["id"], "name": s["name"]}]}
                                       for i, (amount, s) in enumerate(self.bids)]}
            rel["awards"] = [{"id": award_id, "title": "Buena pro", "status": "active", "date": _ts(date),
                              "value": {"amount": self.amount, "currency": "PEN"},
                              "suppliers": [{"id": self.winner["id"], "name": self.winner["name"]}],
                              "items": self.items}]
        if stage == "contract":
            rel["awards"] = [{"id": award_id, "status": "active"}]
            rel["contracts"] = [{"id": f"{award_id}-C", "awardID": award_id, "status": "active",
                                 "title": f"CONTRATO N° {self.rng.randint(1, 999)}-2024",
                                 "value": {"amount": self.amount, "currency": "PEN"}, "dateSigned": _ts(date),
                                 "period": {"startDate": _ts(date + timedelta(days=2)),
                                            "endDate": _ts(date + timedelta(days=92))}}]
        return rel


def generate(n_releases: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    suppliers = [{"id": f"PE-RUC-{r}", "name": f"EMPRESA {i} S.A.C.", "identifier": {"scheme": "PE-RUC", "id": r}}
                 for i, r in enumerate(ruc(rng) for _ in range(5000))]
    buyers = []
    for n in range(400):
        r = ruc(rng)
        buyers.append({"id": f"PE-CONSUCODE-{1000 + n}", "name": f"MUNICIPALIDAD {n} DE {rng.choice(REGIONS).upper()}",
                       "identifier": {"scheme": "PE-CONSUCODE", "id": str(1000 + n)},
                       "additionalIdentifiers": [{"scheme": "PE-RUC", "id": r}],
                       "address": {"region": rng.choice(REGIONS), "countryName": "Perú"}})
    emitted = 0
    start = datetime(2024, 1, 1, tzinfo=UTC)
    n = 0
    while emitted < n_releases:
        window = [Process(rng, n + i, start + timedelta(hours=i % 200), suppliers, buyers) for i in range(WINDOW)]
        n += WINDOW
        start += timedelta(days=3)
        for stage in STAGES:
            for p in window:
                if emitted >= n_releases:
                    return
                yield p.release(stage)
                emitted += 1


def write(path: Path, n_releases: int, seed: int = 7) -> int:
    jsonl = ".jsonl" in path.name
    opener = gzip.open if path.name.endswith(".gz") else open
    n = 0
    with opener(path, "wt", encoding="utf-8") as fh:
        if not jsonl:
            fh.write('{"uri": "https://contratacionesabiertas.oece.gob.pe/bench", "version": "1.1", '
                     '"publishedDate": "2024-12-31T00:00:00Z", "publisher": {"name": "OECE (bench)"}, '
                     '"releases": [\n')
        for release in generate(n_releases, seed):
            if not jsonl and n:
                fh.write(",\n")
            fh.write(json.dumps(release, ensure_ascii=False))
            if jsonl:
                fh.write("\n")
            n += 1
        if not jsonl:
            fh.write("\n]}\n")
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--releases", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n = write(args.output, args.releases, args.seed)
    print(f"{n} releases written to {args.output} ({args.output.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()

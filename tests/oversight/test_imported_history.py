"""The award history and stage times over imported processes (issue 15, points 4 and 5): real publishers'
compiled releases projected from the change feed, amounts in their own currency (totals per currency), a
publisher filter and column, organisations matched by RUC (the Peru-shaped fixture's supplier and buyer
registered here), the projection incremental (a changed process replaces its rows; nothing new reads
nothing) and our own processes left to their own read model. Fixtures: tests/fixtures/ocds/ (README there).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any
from uuid import UUID

from marketplace.core import db
from marketplace.oversight import projection
from marketplace.oversight.awards import domain
from marketplace.oversight.imports import queries as iq
from marketplace.oversight.imports.run import import_paths
from tests.conftest import ROOT
from tests.oversight import helpers

FIX = ROOT / "tests" / "fixtures" / "ocds"
PERU = FIX / "peru" / "release-package-1045871.json"
PERU_OCID = "ocds-dgv273-seacev3-1045871"
SUPPLIER_RUC, BUYER_RUC = "20601234565", "20131378590"


async def _register(kind: str, ruc: str, name: str) -> UUID:
    async with db.unit_of_work():
        row = await db.fetchrow("INSERT INTO organisation (kind, ruc, name) VALUES ($1, $2, $3) RETURNING id",
                                kind, ruc, name)
    assert row is not None
    return row["id"]


async def _slugs(client: Any) -> dict[str, str]:
    """publisher name -> slug, as the public endpoint lists them."""
    return {p["name"]: p["slug"] for p in (await client.get("/api/v1/oversight/publishers")).json()}


async def _awards(client: Any, **params: Any) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/oversight/awards", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_imported_awards_join_the_history_in_their_own_currency(client):
    supplier_id = await _register("supplier", SUPPLIER_RUC, "CEMENTOS DEL SUR S.A.C.")
    agency_id = await _register("agency", BUYER_RUC, "MUNICIPALIDAD PROVINCIAL DE HUAMANGA")
    report = await import_paths([FIX / "real", FIX / "peru"])
    assert report.refused == 0
    assert await projection.catch_up() == 6  # six compiled releases in the feed
    assert await projection.catch_up() == 0  # caught up: nothing is read again

    slugs = await _slugs(client)
    oece = next(slug for name, slug in slugs.items() if "OECE" in name)
    [pe] = await _awards(client, publisher=oece)
    assert (pe["ocid"], pe["publisher"], pe["state"], pe["value"], pe["currency"]) == (
        PERU_OCID, oece, "active", 6_180_000, "PEN")
    # Matched by RUC: the supplier (PE-RUC-<ruc>) and the buyer (PE-CONSUCODE with its RUC) registered here.
    assert (pe["supplier_ruc"], pe["supplier_id"]) == (SUPPLIER_RUC, str(supplier_id))
    assert (pe["agency_ruc"], pe["agency_id"], pe["agency_name"]) == (
        BUYER_RUC, str(agency_id), "MUNICIPALIDAD PROVINCIAL DE HUAMANGA")
    assert (pe["classification_scheme"], pe["classification_code"]) == ("UNSPSC", "30111505")
    assert pe["awarded_at"] == "2024-04-09T17:30:00Z" and pe["method"] == "open"
    assert pe["tender_id"] is None and pe["region"] is None
    # The supplier's page asks by its RUC: its imported award is there.
    assert [a["ocid"] for a in await _awards(client, supplier_ruc=SUPPLIER_RUC)] == [PERU_OCID]

    # Real publishers, each amount in its currency's minor units (babel: PYG and COP have none).
    by_ocid = {a["ocid"]: a for a in await _awards(client) if a["publisher"] != oece}
    assert {o: (a["value"], a["currency"]) for o, a in by_ocid.items()} == {
        "ocds-be6bcu-UA-2016-08-31-000670-b": (6_990_000, "UAH"),
        "ocds-03ad3f-273637": (2_809_999_999, "PYG"),
        "AM-PPS-fd7b426a70b9d7ea26a27f21a8eea687": (698_988_000, "AMD"),
        "ocds-k50g02-11-12-452236": (12_854_400, "COP"),
        "ocds-xs1qbl-SFIN-03-0007-00-2017": (17_956_800, "MXN"),
    }
    assert by_ocid["ocds-03ad3f-273637"]["supplier_name"] == "INFOCENTER S.A"
    assert by_ocid["ocds-be6bcu-UA-2016-08-31-000670-b"]["supplier_ruc"] is None  # not Peruvian

    # Totals per currency, never summed across currencies.
    body = (await client.get("/api/v1/oversight/awards/aggregates", params={"by": "publisher"})).json()
    assert sorted((x["currency"], x["total"]) for x in body["items"]) == sorted(
        [("AMD", 698_988_000), ("COP", 12_854_400), ("MXN", 17_956_800), ("PEN", 6_180_000),
         ("PYG", 2_809_999_999), ("UAH", 6_990_000)])
    rows = (await client.get("/api/v1/oversight/awards/concentration", params={"publisher": oece})).json()
    assert [(r["agency_id"], r["currency"], r["total"], float(r["hhi"])) for r in rows] == [
        (str(agency_id), "PEN", 6_180_000, 10_000.0)]

    # The export: amounts in the currency's units.
    r = await client.get("/api/v1/oversight/awards/export", params={"format": "csv"})
    amounts = {row["ocid"]: (row["amount"], row["publisher"]) for row in csv.DictReader(io.StringIO(r.text))}
    assert amounts[PERU_OCID] == ("61800.00", oece)
    assert amounts["ocds-03ad3f-273637"][0] == "2809999999"
    r = await client.get("/api/v1/oversight/awards/export", params={"format": "jsonl", "publisher": oece})
    [line] = [json.loads(x) for x in r.text.splitlines()]
    assert (line["amount"], line["value"], line["tender_id"], line["publisher"]) == ("61800.00", 6_180_000, None, oece)

    # Stage times from the Peru process's dates: tender period 22 days, evaluation to the award, then to the
    # contract's signature.
    r = await client.get("/api/v1/oversight/stage-times", params={"publisher": oece})
    got = {x["stage"]: (x["count"], x["p50_days"]) for x in r.json()["items"]}
    assert got == {"tendering": (1, 22.0), "evaluation": (1, 14.521), "awarded": (1, 20.938)}
    assert {x["agency_id"] for x in r.json()["items"]} == {str(agency_id)}


async def test_a_changed_process_replaces_its_rows_and_bad_filters_are_refused(client, tmp_path: Path):
    await import_paths([PERU])
    await projection.catch_up()
    doc = json.loads(PERU.read_text(encoding="utf-8"))
    later = json.loads(json.dumps(doc["releases"][1]))
    later.update(id=f"{PERU_OCID}-anulacion-1", date="2024-05-02T15:00:00Z", tag=["awardCancellation"])
    later["awards"] = [{"id": "1045871-1", "status": "cancelled"}]
    path = tmp_path / "later.json"
    path.write_text(json.dumps(dict(doc, releases=[later])), encoding="utf-8")
    await import_paths([path])
    assert await projection.catch_up() == 1
    rows = await db.fetch("SELECT award_id, state FROM award_history WHERE ocid = $1", PERU_OCID)
    assert [r["state"] for r in rows] == ["cancelled"]
    assert rows[0]["award_id"] == domain.award_id(PERU_OCID, "1045871-1")
    # Cancelled awards leave the totals.
    body = (await client.get("/api/v1/oversight/awards/aggregates", params={"by": "publisher"})).json()
    assert body["items"] == []
    for params, field in [({"publisher": "OECE!"}, "query.publisher"), ({"by": "currency"}, "query.by")]:
        r = await client.get("/api/v1/oversight/awards/aggregates", params=params)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field


async def test_our_own_processes_keep_their_own_rows(client, settings):
    await helpers.seed_demo(settings)
    await helpers.drain()  # the publication consumer compiles our releases into ocds_compiled
    before = await db.fetch("SELECT award_id, state, publisher FROM award_history ORDER BY award_id")
    assert before and {r["publisher"] for r in before} == {"mercado-abierto"}
    assert (await db.fetchrow("SELECT count(*) AS n FROM ocds_compiled"))["n"] > 0
    await projection.catch_up()
    assert await db.fetch("SELECT award_id, state, publisher FROM award_history ORDER BY award_id") == before
    assert (await db.fetchrow("SELECT count(*) AS n FROM ocds_stage_time"))["n"] == 0


def test_minor_units_follow_each_currency():
    assert domain.minor_units(61800, "PEN") == 6_180_000
    assert domain.minor_units(2809999999, "PYG") == 2_809_999_999
    assert domain.minor_units(1.005, "USD") == 100  # half-even on the exact decimal of the float's text
    assert domain.minor_units("12", "PEN") is None and domain.minor_units(1, "XXZ") is None
    assert domain.minor_units(10**14, "PEN") is None  # beyond what the API's Money takes


async def test_a_process_page_shows_its_timeline_bids_awards_and_contracts(client, settings):
    await import_paths([FIX / "peru", FIX / "real" / "ukraine"])
    r = await client.get(f"/api/v1/oversight/processes/{PERU_OCID}")
    assert r.status_code == 200, r.text
    p = r.json()
    assert "OECE" in p["publisher_name"] and p["source_url"] == "https://contratacionesabiertas.oece.gob.pe"
    assert (p["buyer_name"], p["buyer_ruc"], p["procurement_method_details"]) == (
        "MUNICIPALIDAD PROVINCIAL DE HUAMANGA", BUYER_RUC, "Licitación Pública")
    assert [(x["date"], x["tags"]) for x in p["releases"]] == [
        ("2024-03-04T05:00:00Z", ["tender"]), ("2024-04-09T17:30:00Z", ["award"]),
        ("2024-04-30T16:00:00Z", ["contract"])]
    assert [(b["tenderers"], b["value"], b["currency"]) for b in p["bids"]] == [
        (["CONSTRUCTORA ANDINA WARI S.A.C."], 6_180_000, "PEN"), (["QUISPE HUAMAN ROSA"], 6_435_050, "PEN")]
    [award] = p["awards"]
    assert (award["status"], award["value"], award["supplier_rucs"]) == ("active", 6_180_000, [SUPPLIER_RUC])
    assert len(p["contracts"]) == 1 and p["tender_id"] is None

    # The portal's page, in Spanish, and the same process from the award history's row.
    page = await client.get(f"/processes/{PERU_OCID}", headers={"Accept-Language": "es-PE"})
    assert page.status_code == 200
    assert "Publicado por" in page.text and "QUISPE HUAMAN ROSA" in page.text and "contratacionesabiertas" in page.text
    ua = (await client.get("/api/v1/oversight/processes/ocds-be6bcu-UA-2016-08-31-000670-b")).json()
    assert [(b["value"], b["currency"]) for b in ua["bids"]] == [(6_990_000, "UAH")]
    for path in ("/api/v1/oversight/processes/ocds-nope-1", "/processes/ocds-nope-1"):
        assert (await client.get(path)).status_code == 404

    # One of ours: its tender's page and our own OCDS record are linked.
    await helpers.seed_demo(settings)
    await helpers.drain()
    own = await db.fetchrow("SELECT ocid, tender_id FROM ocds_release ORDER BY seq LIMIT 1")
    mine = (await client.get(f"/api/v1/oversight/processes/{own['ocid']}")).json()
    assert mine["publisher"] == "mercado-abierto" and mine["tender_id"] == str(own["tender_id"])
    assert mine["source_url"].endswith(f"/ocds/records/{own['ocid']}") and mine["releases"]


async def test_the_compiled_feed_is_read_in_xid_order_not_text_order(client):
    """A page ordered by the text of the txid ("100" before "99") would move the cursor past releases not read
    yet; the plan must follow the (txid, seq) index, or sort on the xid8 column."""
    [row] = await db.fetch("EXPLAIN (FORMAT JSON, VERBOSE) " + iq.COMPILED_FEED.replace("$3", "10"), "0", 0)
    plan = row["QUERY PLAN"]
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def sort_keys(node: Any) -> list[str]:
        if isinstance(node, list):
            return [k for x in node for k in sort_keys(x)]
        if isinstance(node, dict):
            return list(node.get("Sort Key", [])) + [k for v in node.values() for k in sort_keys(v)]
        return []

    keys = sort_keys(plan)
    assert not [k for k in keys if "::text" in k], keys


async def test_the_import_keeps_the_history_up_to_date_as_its_batches_commit(client, monkeypatch):
    """`marketplace ocds import` projects each committed batch while it reads the next (import_and_project):
    small batches here, so the follower runs several times; at the end every award is there, once."""
    commits: list[int] = []
    original = projection.catch_up

    async def counting_catch_up(max_batches: int | None = None) -> int:
        n = await original(max_batches)
        commits.append(n)
        return n

    monkeypatch.setattr(projection, "catch_up", counting_catch_up)  # a spy: counts the real projection's rounds
    report, projected = await projection.import_and_project([FIX / "real", FIX / "peru"], batch_releases=2)
    monkeypatch.undo()
    assert report.refused == 0 and projected >= 6
    assert len(commits) > 2 and sum(commits) == projected
    rows = await db.fetch("SELECT ocid, count(*) AS n FROM award_history GROUP BY ocid")
    assert len(rows) == 6 and {r["n"] for r in rows} == {1}
    assert await projection.catch_up() == 0

"""The red-flag read model: kept from the compiled releases' change feed (imported and ours), equal to the
engine's batch run over the same compiled releases, updated incrementally when a process changes, and
served in keyset pages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from marketplace import worker
from marketplace.core import db
from marketplace.oversight.imports import queries as import_q
from marketplace.oversight.imports.run import import_paths
from marketplace.oversight.redflags import engine, readmodel
from marketplace.oversight.redflags.settings import Settings as CardinalSettings
from tests.conftest import ROOT
from tests.oversight import builder, helpers

CARDINAL = ROOT / "tests" / "fixtures" / "cardinal" / "indicators"


def package(path: Path, lines: list[dict[str, Any]], publisher: str = "Cardinal fixtures") -> Path:
    """A release package of compiled releases (each one release of its process, with an id and a date)."""
    releases = [{"id": f"{r['ocid']}-1", "date": "2024-01-01T00:00:00Z", "tag": ["compiled"], **r} for r in lines]
    path.write_text(json.dumps({"uri": "https://example.com/p.json", "version": "1.1",
                                "publisher": {"name": publisher}, "releases": releases}))
    return path


def fixture_lines(*names: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for name in names:
        for line in (CARDINAL / f"{name}.jsonl").read_text().splitlines():
            r = json.loads(line)
            if (r.get("tender") or {}).get("procurementMethodDetails") in ("NPC", "EXC"):
                continue  # what the fixtures' global settings set apart; the read model runs with the defaults
            r["ocid"] = f"{name}-{r['ocid']}"  # distinct processes across files
            if r["ocid"] not in seen:
                seen.add(r["ocid"])
                out.append(r)
    return out


async def population(settings) -> None:
    async with db.unit_of_work():
        await readmodel.refresh_population(settings, force=True)


async def engine_output(publisher_id: int) -> dict[str, Any]:
    rows = await db.fetch("SELECT data::text AS data FROM ocds_compiled WHERE publisher_id = $1 ORDER BY seq",
                          publisher_id)
    results, _ = engine.run([r["data"] for r in rows], CardinalSettings.all_indicators())
    return results.as_dict(meta=False)


def normalised(results: dict[str, Any]) -> dict[str, Any]:
    return {g: {k: dict(sorted(v.items())) for k, v in sorted(members.items())}
            for g, members in sorted(results.items())}


async def publisher_id(name: str) -> int:
    row = await db.fetchrow("SELECT id FROM ocds_publisher WHERE name = $1", name)
    assert row is not None
    return row["id"]


POPULATION_FIXTURES = ("R024", "R025", "R038", "R038-tenderer", "R048-minimum_contracting_processes-1", "R058",
                       "R018", "R028", "R030", "R035", "R036", "R044", "R003")


async def test_the_read_model_equals_the_engines_run_over_the_same_compiled_releases(client, settings, tmp_path):
    """Each fixture file is one publisher (populations are per publisher): after the sync and the population
    pass, each publisher's flags are what the engine's batch run gives over its compiled releases."""
    paths = [package(tmp_path / f"{name}.json", fixture_lines(name), publisher=f"Cardinal {name}")
             for name in POPULATION_FIXTURES]
    await import_paths(paths)
    await helpers.sync_red_flags(settings)
    await population(settings)
    codes: set[str] = set()
    for name in POPULATION_FIXTURES:
        pid = await publisher_id(f"Cardinal {name}")
        expected = await engine_output(pid)
        codes |= {c for g in expected.values() for v in g.values() for c in v}
        assert normalised(await readmodel.as_results(pid)) == normalised(expected), name
    assert {"R003", "R018", "R024", "R025", "R028", "R030", "R035", "R036", "R038", "R044", "R058"} <= codes
    pid = await publisher_id("Cardinal R024")
    fences = await db.fetchrow("SELECT meta::text AS meta, dirty FROM redflag_publisher WHERE publisher_id = $1", pid)
    assert not fences["dirty"] and "lower_fence" in json.loads(fences["meta"])["R024"]


B_R038 = ("SELECT value, evidence::text AS e FROM redflag WHERE code = 'R038' AND scope = 'buyer' AND subject = 'B'"
          " AND publisher_id = $1")


async def test_a_changed_process_is_recomputed_alone_and_the_model_stays_equal(client, settings, tmp_path):
    lines = fixture_lines("R038", "R025", "R018")
    await import_paths([package(tmp_path / "p.json", lines)])
    await helpers.sync_red_flags(settings)
    await population(settings)
    pid = await publisher_id("Cardinal fixtures")
    before = {r["ocid"]: r["updated_at"] for r in await db.fetch("SELECT ocid, updated_at FROM redflag_process")}
    b_before = (await db.fetchrow(B_R038, pid))["value"]

    # One process changes: every bid of R038-F's first process is disqualified now.
    changed = dict(lines[0], id=f"{lines[0]['ocid']}-2", date="2024-02-01T00:00:00Z")
    for bid in changed.get("bids", {}).get("details", []):
        bid["status"] = "disqualified"
    await import_paths([package(tmp_path / "q.json", [changed])])
    assert await helpers.sync_red_flags(settings) == 1
    after = {r["ocid"]: r["updated_at"] for r in await db.fetch("SELECT ocid, updated_at FROM redflag_process")}
    assert [o for o in after if after[o] != before[o]] == [lines[0]["ocid"]]
    # The buyer it touches is judged at once against the last fences: one more of B's 4 bids disqualified.
    row = await db.fetchrow(B_R038, pid)
    assert row is not None and (row["value"], b_before) == (0.75, 0.5)
    assert json.loads(row["e"])["disqualified"] == 3 and json.loads(row["e"])["submitted"] == 4
    # The fences move with the population pass, and then all agrees again.
    await population(settings)
    assert normalised(await readmodel.as_results(pid)) == normalised(await engine_output(pid))


async def test_our_own_process_is_flagged_within_a_sync_of_its_change(client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    (a,) = await builder.suppliers(settings, 1)
    t = await builder.Tender(settings, fixed_clock, officer, committee).publish()
    await t.bid(a, {0: 9_000_000})
    await t.open()
    await helpers.drain()
    await helpers.sync_red_flags(settings)
    ocid = (await db.fetchrow("SELECT ocid FROM tender WHERE id = $1", t.id))["ocid"]
    rows = await db.fetch("SELECT code, scope, buyer_ruc FROM redflag WHERE ocid = $1", ocid)
    assert ("R018", "process") in {(r["code"], r["scope"]) for r in rows}


async def test_the_feed_cursor_moves_past_what_it_read(client, settings, tmp_path):
    await import_paths([package(tmp_path / "p.json", fixture_lines("R018"))])
    await helpers.sync_red_flags(settings)
    assert await worker.run_job("oversight_redflags_sync", {"settings": settings}) == 0
    last = await import_q.compiled_feed(txid="0", seq=0, limit=100000)
    cur = await db.fetchrow("SELECT last_txid, last_seq FROM redflag_feed")
    assert (str(cur["last_txid"]), cur["last_seq"]) == (last[-1].txid, last[-1].seq)


# --- the public API ------------------------------------------------------------------------------------------

async def _walk(client, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        r = await client.get("/api/v1/oversight/red-flags",
                             params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the pages never ended")


async def test_keyset_pages_walk_every_flag_once_newest_first_with_each_filter(client, settings, tmp_path):
    await import_paths([package(tmp_path / f"{n}.json", fixture_lines(n), publisher=f"Cardinal {n}")
                        for n in ("R018", "R028", "R038", "R044")])
    await helpers.sync_red_flags(settings)
    await population(settings)
    total = (await db.fetchrow("SELECT count(*) AS n FROM redflag"))["n"]
    assert total > 10
    items = await _walk(client, {}, 3)
    assert len(items) == total and len({x["id"] for x in items}) == total
    keys = [(x["date"], x["id"]) for x in items]
    assert keys == sorted(keys, reverse=True)
    # Each filter, against the same rows filtered here.
    rows = await db.fetch("SELECT id, code, buyer_id, supplier_id, publisher_id FROM redflag")
    slugs = {r["id"]: r["slug"] for r in await db.fetch("SELECT id, slug FROM ocds_publisher")}
    one = next(r for r in rows if r["supplier_id"])
    buyer = next(r for r in rows if r["buyer_id"])
    for params, keep in (({"code": "R028"}, lambda r: r["code"] == "R028"),
                         ({"supplier": one["supplier_id"]}, lambda r: r["supplier_id"] == one["supplier_id"]),
                         ({"buyer": buyer["buyer_id"]}, lambda r: r["buyer_id"] == buyer["buyer_id"]),
                         ({"publisher": slugs[one["publisher_id"]]},
                          lambda r: r["publisher_id"] == one["publisher_id"]),
                         ({"publisher": slugs[one["publisher_id"]], "code": "R044"},
                          lambda r: r["publisher_id"] == one["publisher_id"] and r["code"] == "R044")):
        got = await _walk(client, params, 2)
        assert sorted(x["id"] for x in got) == sorted(r["id"] for r in rows if keep(r)), params
    assert await _walk(client, {"publisher": "nobody"}, 5) == []
    first = (await client.get("/api/v1/oversight/red-flags", params={"limit": 1})).json()["items"][0]
    assert {"code", "scope", "subject", "ocid", "publisher", "value", "evidence", "date"} <= set(first)


async def test_bad_cursor_limit_or_code_is_a_problem_naming_the_field(client):
    async def problem(params: dict[str, Any], lang: str = "es-PE") -> dict[str, Any]:
        r = await client.get("/api/v1/oversight/red-flags", params=params, headers={"Accept-Language": lang})
        assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith("application/problem+json"), r.text
        return r.json()

    for cursor in ("nonsense", "MjAyNi0xMi0wMVQwMDowMDowMHx4", "!!!"):
        p = await problem({"cursor": cursor})
        assert (p["field"], p["rule"]) == ("query.cursor", "cursor")
    for limit in ("0", "501", "many"):
        p = await problem({"limit": limit})
        assert p["errors"][0]["field"] in ("query.limit", "limit"), p
    p = await problem({"code": "R999"}, lang="en")
    assert (p["field"], p["rule"], p["detail"]) == ("query.code", "enum", "Unknown red flag")


async def test_a_publisher_whose_bid_statuses_are_not_ocdss_is_prepared_first(client, settings):
    """Prozorro keeps every bid "active": prepared as Cardinal's `prepare` with redflags/publishers/prozorro.ini,
    its bids count as valid ones (here: the winner's valid bid gives R025 its numbers)."""
    await import_paths([ROOT / "tests" / "fixtures" / "ocds" / "real" / "ukraine"])
    await helpers.sync_red_flags(settings)
    rows = await db.fetch("SELECT ocid, parts::text AS parts FROM redflag_process WHERE ocid LIKE 'ocds-be6bcu-%'")
    assert rows
    raw = (await db.fetchrow("SELECT data::text AS d FROM ocds_compiled WHERE ocid = $1", rows[0]["ocid"]))["d"]
    statuses = {b.get("status") for b in json.loads(raw).get("bids", {}).get("details", [])}
    assert statuses == {"active"}  # as published
    bare = engine.Engine(CardinalSettings.all_indicators()).evaluate(engine.decode_line(raw))
    assert bare is not None and bare.r025 is None  # unprepared, no bid is valid
    assert json.loads(rows[0]["parts"])["r025"] is not None

"""`marketplace ocds import`: real publishers' OCDS in, one compiled release per process out.

Compiled releases equal ocdskit's and the fictional example's expected results (in one go, release by
release, and in reverse order); real Ukrainian, Paraguayan, Armenian, Colombian and Mexican processes keep the
buyers, bids, awards and contracts read by hand from the files; a second import changes nothing; a newer
release updates its process (and the change feed); 1.0 is upgraded; other encodings are refused or decoded;
.gz, .zip and JSON Lines are read; bad lines are listed and skipped. Fixtures: tests/fixtures/ocds/ (see its
README); the third-party folders under ../shared/realdata/ are read when present (skipped with the reason
otherwise) and lib-cove-ocds' AGPL files only from there.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ocdskit.upgrade import upgrade_release_10_11

from marketplace.core import db
from marketplace.oversight.imports import domain, service
from marketplace.oversight.imports import queries as q
from marketplace.oversight.imports.run import import_paths
from tests.conftest import DATABASE_URL, ROOT

FIX = ROOT / "tests" / "fixtures" / "ocds"


def _realdata() -> Path | None:
    given = os.environ.get("OCDS_REALDATA_DIR")
    for candidate in ([Path(given)] if given else []) + [ROOT.parent / "shared" / "realdata",
                                                        ROOT.parent.parent / "shared" / "realdata"]:
        if (candidate / "README.md").exists():
            return candidate
    return None


REALDATA = _realdata()
needs_realdata = pytest.mark.skipif(
    REALDATA is None, reason="../shared/realdata not found (set OCDS_REALDATA_DIR): third-party OCDS folders absent")


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


async def compiled(ocid: str) -> dict[str, Any]:
    row = await db.fetchrow("SELECT data::text AS data FROM ocds_compiled WHERE ocid = $1", ocid)
    assert row is not None, f"no compiled release for {ocid}"
    return json.loads(row["data"], parse_float=Decimal)


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


async def count(table: str) -> int:
    return (await db.fetchrow(f"SELECT count(*) AS n FROM {table}"))["n"]


async def feed_position() -> list[tuple[str, int]]:
    return [(r["ocid"], r["seq"]) for r in await db.fetch("SELECT ocid, seq FROM ocds_compiled ORDER BY ocid")]


# --- compiled releases equal the expected results ---------------------------------------------------------------

async def test_compiled_releases_equal_ocdskits_expected_results(client):
    report = await import_paths([FIX / "ocdskit" / f"release-package-{n}.json" for n in (1, 2)])
    assert report.refused == 0 and report.releases == 4 and report.releases_new == 4
    assert (report.processes_new, report.processes_changed, report.processes_unchanged) == (2, 0, 0)
    for name in ("compiled-release-1.json", "compiled-release-2.json"):
        expected = load(FIX / "ocdskit" / name)
        # These packages state no version, so they are OCDS 1.0: merged by 1.0's rules (as ocdskit does),
        # then upgraded to 1.1 by ocdskit's rules, as every compiled release here is.
        upgrade_release_10_11(expected, reorder=False)
        assert await compiled(expected["ocid"]) == expected, name
        row = await db.fetchrow("SELECT version FROM ocds_compiled WHERE ocid = $1", expected["ocid"])
        assert row["version"] == "1.0"


def _fictional_releases() -> list[dict[str, Any]]:
    return load(FIX / "fictional" / "release-package.json")["releases"]


def _write_package(path: Path, releases: list[dict[str, Any]]) -> Path:
    package = load(FIX / "fictional" / "release-package.json")
    package["releases"] = releases
    path.write_text(json.dumps(package, default=str))
    return path


async def test_compiled_release_equals_the_fictional_examples_record(client, tmp_path):
    expected = load(FIX / "fictional" / "record-package.json")["records"][0]["compiledRelease"]
    report = await import_paths([FIX / "fictional" / "release-package.json"])
    assert report.releases_new == 6 and report.processes_new == 1
    assert await compiled(expected["ocid"]) == expected


@pytest.mark.parametrize("order", ["in date order", "newest first"])
async def test_release_by_release_imports_compile_to_the_same_record(client, tmp_path, order):
    """Merging on top of the stored compiled release (releases in order), and compiling again from every
    release (one arrives older than what was merged), both give the expected compiled release."""
    expected = load(FIX / "fictional" / "record-package.json")["records"][0]["compiledRelease"]
    releases = _fictional_releases()
    if order == "newest first":
        releases = releases[::-1]
    statuses = []
    for i, release in enumerate(releases):
        report = await import_paths([_write_package(tmp_path / f"r{i}.json", [release])])
        assert report.releases_new == 1
        statuses.append((report.processes_new, report.processes_changed))
    assert statuses[0] == (1, 0) and all(s[0] == 0 for s in statuses[1:])
    if order == "in date order":  # each newer release changes the process
        assert all(s == (0, 1) for s in statuses[1:])
    assert await compiled(expected["ocid"]) == expected


# --- real processes, values read by hand from the files -------------------------------------------------------------

def _party(c: dict[str, Any], party_id: str) -> dict[str, Any]:
    return next(p for p in c["parties"] if p["id"] == party_id)


async def test_real_processes_keep_their_buyers_bids_awards_and_contracts(client):
    report = await import_paths([FIX / "real"])
    assert report.refused == 0, report.refusals
    assert report.processes_new == 5

    # Ukraine (Prozorro record with its compiled release): one bid, one award, one contract in UAH.
    ua = await compiled("ocds-be6bcu-UA-2016-08-31-000670-b")
    assert ua["buyer"]["id"] == "UA-EDR-02070884"
    assert ua["tender"]["status"] == "complete" and ua["tender"]["value"]["amount"] == Decimal("80000.0")
    [bid] = ua["bids"]["details"]
    assert bid["id"] == "e7031f251e5e43f88df2c24973ffb7d6" and bid["value"] == {
        "currency": "UAH", "amount": Decimal("69900.0"), "valueAddedTaxIncluded": True}
    [award] = ua["awards"]
    assert (award["id"], award["status"], award["value"]["amount"], award["value"]["currency"]) == (
        "fe82d10aafe749a585a289d88df60f46", "active", Decimal("69900.0"), "UAH")
    assert award["suppliers"] == [{"id": "UA-EDR-24581651", "name": "ПП ЯВА"}]
    [contract] = ua["contracts"]
    assert (contract["id"], contract["awardID"], contract["status"]) == (
        "112767f3c7d04a869e0adf9d73f0b70d", "fe82d10aafe749a585a289d88df60f46", "active")
    assert _party(ua, "UA-EDR-24581651")["roles"] == ["tenderer", "supplier"]

    # Paraguay (four bare releases compiled here): award 2,809,999,999 PYG to INFOCENTER S.A., its contract.
    py = await compiled("ocds-03ad3f-273637")
    [award] = py["awards"]
    assert award["status"] == "active" and award["value"] == {"amount": 2809999999, "currency": "PYG"}
    assert award["suppliers"] == [{"id": "6035de6ee9fde1517c85513d311f998b", "name": "INFOCENTER S.A"}]
    [contract] = py["contracts"]
    assert (contract["id"], contract["status"]) == ("273637-infocenter-s-a-1", "active")
    assert contract["value"] == {"amount": Decimal("2809999872.0"), "currency": "PYG"}
    assert _party(py, "a29307966ce9ce8efa4e531674fd5844")["name"] == "Compañía Paraguaya de Comunicaciones (COPACO)"
    assert py["tag"] == ["compiled"] and py["date"] == "2017-08-08T08:24:21-04:00"

    # Armenia: four qualified bids, the lowest wins 6,989,880 AMD.
    am = await compiled("AM-PPS-fd7b426a70b9d7ea26a27f21a8eea687")
    assert am["buyer"] == {"name": "Ministry of Finance of the RA", "id": "AM-TIN-02629081"}
    bids = {b["tenderers"][0]["id"]: b["value"]["amount"] for b in am["bids"]["details"]}
    assert bids == {"AM-TIN-02704268": Decimal("9319500.0"), "AM-TIN-01254973": Decimal("8250000.0"),
                    "AM-TIN-02588485": Decimal("6000000.0"), "AM-TIN-01849148": Decimal("5824900.0")}
    [award] = am["awards"]
    assert (award["status"], award["value"]) == ("active", {"amount": Decimal("6989880.0"), "currency": "AMD"})
    assert award["suppliers"] == [{"name": "PI-SI ELEKTRVoNIKS SPY", "id": "AM-TIN-01849148"}]
    [contract] = am["contracts"]
    assert contract["awardID"] == "10d41979-9c4e-4e1a-930f-311167ae07f4"
    assert contract["value"] == {"amount": Decimal("6989880.0"), "currency": "AMD"}

    # Colombia: award 502333 of 12,854,400 COP to ALVARO AGUIRRE ARANGO, contract OPSP001-2011.
    co = await compiled("ocds-k50g02-11-12-452236")
    assert co["buyer"]["name"].startswith("RISARALDA - ALCALD") and co["buyer"]["name"].endswith("MUNICIPIO DE BALBOA")
    [award] = co["awards"]
    assert (award["id"], award["status"], award["value"]) == (  # the award id is a number in this file
        502333, "active", {"currency": "COP", "amount": Decimal("12854400.0")})
    assert [s["name"] for s in award["suppliers"]] == ["ALVARO AGUIRRE ARANGO"]
    [contract] = co["contracts"]
    assert (contract["id"], contract["awardID"], contract["value"]["amount"]) == (
        "OPSP001-2011", "502333", Decimal("12854400.0"))

    # Mexico, Jalisco (record): three tenderers, COMPUCAD wins 179,568 MXN.
    mx = await compiled("ocds-xs1qbl-SFIN-03-0007-00-2017")
    assert mx["buyer"]["id"] == "DEP-GOB-JAL-03-1685"
    assert len(mx["tender"]["tenderers"]) == 3
    [award] = mx["awards"]
    assert (award["id"], award["status"], award["value"]) == (
        "IN496529-OC64003-2017", "active", {"amount": Decimal("179568.0"), "currency": "MXN"})
    assert award["suppliers"] == [{"id": "P00716", "name": "COMPUCAD, S.A. DE C.V."}]
    [contract] = mx["contracts"]
    assert (contract["id"], contract["awardID"], contract["status"]) == ("2-64003", "IN496529-OC64003-2017", "active")

    # The read-model columns.
    row = await db.fetchrow("SELECT buyer_id, tender_status, award_count, contract_count, source, p.name AS publisher"
                            " FROM ocds_compiled c JOIN ocds_publisher p ON p.id = c.publisher_id WHERE ocid = $1",
                            "ocds-xs1qbl-SFIN-03-0007-00-2017")
    assert row == {"buyer_id": "DEP-GOB-JAL-03-1685", "tender_status": "complete", "award_count": 1,
                   "contract_count": 1, "source": "record",
                   "publisher": "SEPAF/DGA | DIR.GRAL. DE ABASTECEMIENTOS (SUB-ADMINISTRACIÓN)"}


# --- idempotency and updates ------------------------------------------------------------------------------------

async def test_a_second_import_changes_nothing(client):
    paths = [FIX / "real", FIX / "fictional" / "release-package.json", FIX / "ocdskit" / "release-package-1.json"]
    first = await import_paths(paths)
    tables = {t: await count(t) for t in ("ocds_import_release", "ocds_compiled", "ocds_party", "ocds_publisher")}
    position = await feed_position()
    second = await import_paths(paths)
    assert (second.releases, second.records) == (first.releases, first.records)
    assert second.releases_new == 0 and second.processes_new == 0 and second.processes_changed == 0
    assert second.processes_unchanged == first.processes_new
    assert {t: await count(t) for t in tables} == tables
    assert await feed_position() == position  # nothing re-enters the change feed


async def test_a_newer_release_updates_its_process_and_the_change_feed(client, tmp_path):
    peru = load(FIX / "peru" / "release-package-1045871.json")
    first = dict(peru, releases=peru["releases"][:1])
    (tmp_path / "first.json").write_text(json.dumps(first, default=str))
    report = await import_paths([tmp_path / "first.json"])
    assert (report.processes_new, report.releases_new) == (1, 1)
    ocid = "ocds-dgv273-seacev3-1045871"
    before = await db.fetchrow("SELECT seq, txid::text AS txid, hash FROM ocds_compiled WHERE ocid = $1", ocid)
    assert "awards" not in await compiled(ocid)

    report = await import_paths([FIX / "peru" / "release-package-1045871.json"])
    assert (report.processes_new, report.processes_changed, report.releases_new) == (0, 1, 2)
    after = await db.fetchrow("SELECT seq, txid::text AS txid, hash FROM ocds_compiled WHERE ocid = $1", ocid)
    assert after["seq"] > before["seq"] and int(after["txid"]) > int(before["txid"]) and after["hash"] != before["hash"]
    c = await compiled(ocid)
    assert c["tender"]["status"] == "complete" and c["awards"][0]["value"] == {"amount": 61800, "currency": "PEN"}
    assert c["contracts"][0]["id"] == "2024-0153"
    # The change feed hands the process out once, in its newest state.
    rows: list[q.CompiledFeedRow] = []
    for _ in range(300):  # the feed's watermark waits for transactions running elsewhere on the server
        if rows := await q.compiled_feed(txid="0", seq=0, limit=100):
            break
        await asyncio.sleep(0.1)
    assert [r.ocid for r in rows] == [ocid] and rows[0].seq == after["seq"]
    nxt = await q.compiled_feed(txid=rows[-1].txid, seq=rows[-1].seq, limit=100)
    assert nxt == []


# --- Peru: RUCs from party identifiers ---------------------------------------------------------------------------

async def test_peru_shaped_process_keeps_rucs_for_matching_suppliers(client):
    await import_paths([FIX / "peru"])
    ocid = "ocds-dgv273-seacev3-1045871"
    row = await db.fetchrow("SELECT buyer_id, buyer_ruc, procurement_method FROM ocds_compiled WHERE ocid = $1", ocid)
    assert row == {"buyer_id": "PE-CONSUCODE-1563", "buyer_ruc": "20131378590", "procurement_method": "open"}
    parties = {r["party_id"]: (r["ruc"], r["roles"]) for r in await db.fetch(
        "SELECT party_id, ruc, roles FROM ocds_party WHERE ocid = $1", ocid)}
    assert parties == {"PE-CONSUCODE-1563": ("20131378590", ["buyer", "procuringEntity"]),
                       "PE-RUC-20601234565": ("20601234565", ["tenderer", "supplier"]),
                       "PE-RUC-10456789124": ("10456789124", ["tenderer"])}
    c = await compiled(ocid)
    assert c["tender"]["procurementMethodDetails"] == "Licitación Pública" and c["tender"]["value"]["amount"] == 0
    item = c["awards"][0]["items"][0]
    assert item["classification"]["scheme"] == "CUBSO"
    assert item["additionalClassifications"] == [
        {"scheme": "UNSPSC", "id": "30111505", "description": "Cemento portland"}]
    # An award found by its supplier's RUC (what matching imported awards to registered suppliers runs on).
    found = await db.fetch("SELECT c.ocid FROM ocds_party p JOIN ocds_compiled c USING (ocid)"
                           " WHERE p.ruc = $1 AND 'supplier' = ANY(p.roles)", "20601234565")
    assert [r["ocid"] for r in found] == [ocid]
    publisher = await db.fetchrow("SELECT name, ocid_prefixes FROM ocds_publisher")
    assert publisher["ocid_prefixes"] == ["ocds-dgv273"] and "OECE" in publisher["name"]


# --- versions, encodings, containers ------------------------------------------------------------------------------

async def test_ocds_1_0_is_upgraded_to_1_1_by_ocdskits_rules(client):
    original = FIX / "ocdskit" / "release-package_1.0-1.json"
    report = await import_paths([original])
    assert report.refused == 0 and report.releases_new == 1
    [expected] = load(FIX / "ocdskit" / "release-package_1.1-1.json")["releases"]
    # The release is kept as published (and merged by 1.0's rules); the compiled release is 1.1.
    row = await db.fetchrow("SELECT version, data::text AS data FROM ocds_import_release")
    assert row["version"] == "1.0" and json.loads(row["data"], parse_float=Decimal) == load(original)["releases"][0]
    # Merged by 1.0's rules then upgraded = ocdskit's upgraded release merged by 1.1's rules (a null is an
    # absent field in a compiled release; 1.0's whole-list merge of suppliers keeps theirs, 1.1's drops them).
    assert without_nulls(await compiled(expected["ocid"])) == domain.compile_releases(None, [expected])
    assert (await db.fetchrow("SELECT version FROM ocds_compiled"))["version"] == "1.0"
    assert {p["id"] for p in (await compiled(expected["ocid"]))["parties"]} == {p["id"] for p in expected["parties"]}


async def test_input_that_is_not_utf8_is_refused_clearly_or_decoded_when_told(client):
    latin = FIX / "ocdskit" / "release-package_encoding-iso-8859-1.json"
    report = await import_paths([latin])
    [refusal] = report.refusals
    assert refusal.where == str(latin) and "not UTF-8" in refusal.reason and "--encoding" in refusal.reason
    assert await count("ocds_import_release") == 0

    report = await import_paths([latin], encoding="iso-8859-1")
    assert report.refused == 0 and report.releases_new == 3
    decoded = {r["release_id"]: json.loads(r["data"]) for r in await db.fetch(
        "SELECT release_id, data::text AS data FROM ocds_import_release")}
    utf8 = {r["id"]: r for r in json.loads((FIX / "ocdskit" / "release-package_encoding-utf-8.json").read_text())[
        "releases"]}
    assert decoded == utf8


async def test_json_lines_gzip_and_zip_with_bad_lines_listed_and_skipped(client, tmp_path):
    releases = _fictional_releases()
    lines = [json.dumps(r, default=str) for r in releases[:3]]
    lines.insert(1, '{"ocid": "ocds-213czf-000-00001", "id": broken')
    lines.insert(3, '{"hello": "world"}')
    lines.append(json.dumps({k: v for k, v in releases[3].items() if k != "date"}, default=str))
    (tmp_path / "releases.jsonl").write_text("\n".join(lines) + "\n")
    with gzip.open(tmp_path / "more.jsonl.gz", "wt") as fh:
        fh.write(json.dumps(releases[4], default=str) + "\n")
    with zipfile.ZipFile(tmp_path / "last.zip", "w") as zf:
        zf.writestr("inside/package.json", json.dumps(load(FIX / "fictional" / "release-package.json"), default=str))
        zf.writestr("inside/notes.txt", "not data")
    report = await import_paths([tmp_path])
    reasons = {r.where.replace(str(tmp_path) + "/", ""): r.reason for r in report.refusals}
    assert reasons.keys() == {"releases.jsonl: line 2", "releases.jsonl: line 4", "releases.jsonl: line 6"}
    assert reasons["releases.jsonl: line 2"].startswith("not valid JSON")
    assert reasons["releases.jsonl: line 4"].startswith("not an OCDS release, record or package")
    assert reasons["releases.jsonl: line 6"] == "'date' is missing"
    assert report.files == 3 and report.files_skipped == 1
    assert report.releases == 3 + 1 + 1 + 6 and report.releases_new == 6
    expected = load(FIX / "fictional" / "record-package.json")["records"][0]["compiledRelease"]
    assert await compiled(expected["ocid"]) == expected


# --- third-party folders, whole ---------------------------------------------------------------------------------

@needs_realdata
async def test_every_shared_file_imports_without_a_crash(client):
    assert REALDATA is not None
    folders = [REALDATA / "sample-data-real-examples", REALDATA / "ocdskit", REALDATA / "sample-data-fictional"]
    report = await import_paths(folders)
    assert report.files > 150 and report.releases > 250 and report.records > 40
    assert report.processes_new > 150
    for refusal in report.refusals:  # each says where and why
        assert refusal.where.startswith(str(REALDATA)) and refusal.reason
    again = await import_paths(folders)
    assert again.releases_new == 0 and again.processes_new == again.processes_changed == 0


@needs_realdata
async def test_lib_cove_invalid_fixtures_are_refused_line_by_line(client):
    """Read from ../shared only (AGPL: never copied into this repository)."""
    assert REALDATA is not None
    cove = REALDATA / "lib-cove-ocds" / "common_checks"
    report = await import_paths([cove])
    reasons = {r.where.replace(str(cove) + "/", ""): r.reason for r in report.refusals}
    assert reasons["releases_non_unique_no_id.json: releases[0]"] == "'id' is missing"
    assert reasons["releases_unique.json: releases[1]"] == "'id' is missing"
    assert reasons["records_unique.json: records[0]"] == "'ocid' is missing"
    assert reasons["records_non_unique_no_ocid.json: records[1]"] == "'ocid' is missing"
    assert reasons["records_invalid_releases.json: records[2] releases[0]"] == "'date' is missing"
    # Valid releases in the same files were taken.
    assert report.releases_new > 0 and report.processes_new > 0


# --- the command and the publishers endpoint ----------------------------------------------------------------------

async def test_the_command_prints_a_summary_and_lists_refusals(client, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"ocid": "x", "id": "1"}\nnot json\n')
    env = {**os.environ, "DATABASE_URL": DATABASE_URL, "DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "marketplace.cli", "ocds", "import", "--quiet",
                             str(FIX / "peru"), str(bad)], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "files: 2 read, 0 skipped" in result.stdout
    assert "releases: 4 read, 3 new" in result.stdout
    assert "processes: 1 new, 0 changed, 0 unchanged" in result.stdout
    assert "refused: 2" in result.stdout
    assert f"{bad}: line 1: 'date' is missing" in " ".join(result.stderr.split())
    assert f"{bad}: line 2: not valid JSON" in " ".join(result.stderr.split())


async def test_publishers_endpoint_lists_counts_and_last_import(client):
    await import_paths([FIX / "real"])
    resp = await client.get("/api/v1/oversight/publishers")
    assert resp.status_code == 200
    by_prefix = {tuple(p["ocid_prefixes"]): p for p in resp.json()}
    paraguay = by_prefix[("ocds-03ad3f",)]  # bare releases: no package names the publisher
    assert paraguay["name"] == "OCDS ocds-03ad3f" and paraguay["processes"] == 1 and paraguay["releases"] == 4
    assert paraguay["last_import_at"] is not None and paraguay["own"] is False and paraguay["harvested"] is False
    jalisco = by_prefix[("ocds-xs1qbl",)]
    assert jalisco["name"] == "SEPAF/DGA | DIR.GRAL. DE ABASTECEMIENTOS (SUB-ADMINISTRACIÓN)"
    assert jalisco["slug"] == "sepaf-dga-dir-gral-de-abastecemientos-sub-administracion"
    armenia = next(p for p in resp.json() if p["name"] == "Armeps/PPCM")  # its ocids have no registered prefix
    assert armenia["ocid_prefixes"] == [] and armenia["processes"] == 1


async def test_our_own_processes_are_compiled_under_mercado_abierto(client, settings):
    from tests.oversight import helpers

    await helpers.seed_demo(settings)
    await helpers.drain()
    ours = {r["ocid"] for r in await db.fetch("SELECT DISTINCT ocid FROM ocds_release")}
    rows = await db.fetch("SELECT c.ocid, c.source, p.name, p.own FROM ocds_compiled c"
                          " JOIN ocds_publisher p ON p.id = c.publisher_id")
    assert ours and {r["ocid"] for r in rows} == ours
    assert {(r["source"], r["name"], r["own"]) for r in rows} == {("own", "Mercado Abierto", True)}
    # Each equals the record the OCDS API serves for it.
    for ocid in sorted(ours)[:5]:
        record = (await client.get(f"/ocds/records/{ocid}")).json()["records"][0]
        assert await compiled(ocid) == json.loads(json.dumps(record["compiledRelease"]), parse_float=Decimal)
    resp = await client.get("/api/v1/oversight/publishers")
    [own] = [p for p in resp.json() if p["own"]]
    assert own["processes"] == len(ours) and own["releases"] == await count("ocds_release")
    # A process compiled before the backfill existed is compiled by it.
    async with db.unit_of_work():
        await db.execute("DELETE FROM ocds_compiled WHERE ocid = $1", sorted(ours)[0])
    async with db.unit_of_work():
        assert await service.backfill_own() == 1
    assert await count("ocds_compiled") == len(ours)


def test_fixture_licences_are_kept():
    for folder in ("ocdskit", "fictional"):
        assert (FIX / folder / "LICENSE").exists()
    assert (FIX / "real" / "LICENSE-repo-BSD3").exists() and (FIX / "README.md").exists()
    assert not any("cove" in p.name.lower() for p in FIX.rglob("*")), "lib-cove-ocds files are AGPL: never copied"

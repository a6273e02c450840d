"""Per-publisher Cardinal settings in the red-flag read model: publishers.ini in REDFLAG_SETTINGS_DIR names each
publisher's INI file (Cardinal's sections and names, as `marketplace redflags run --settings` reads them); a
publisher under a stricter threshold gets a flag the defaults would not give, in the read model and the API;
a changed file is applied by the population job, which recomputes that publisher alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from marketplace import worker
from marketplace.core import db
from marketplace.oversight.imports.run import import_paths
from marketplace.oversight.ocds.build import METHOD_DETAILS
from marketplace.oversight.redflags import engine, publishers_ini, readmodel
from marketplace.oversight.redflags import settings as cardinal
from marketplace.settings import SettingsError
from tests.oversight import builder, helpers
from tests.oversight.test_red_flag_model import package, publisher_id

STRICT = """; stricter than Cardinal's 15 days
[R003]
threshold = {days}
[R018]
"""


def _process(ocid: str, days: int) -> dict[str, Any]:
    """A process whose submission period is `days` long, with two valid bids."""
    return {"ocid": ocid, "buyer": {"id": "B"}, "parties": [{"id": "B", "roles": ["buyer"]}],
            "tender": {"id": ocid, "status": "active", "procurementMethod": "open", "numberOfTenderers": 2,
                       "tenderPeriod": {"startDate": "2024-01-01T00:00:00Z",
                                        "endDate": f"2024-01-{1 + days:02d}T00:00:00Z"}}}


def _folder(tmp_path: Path, days: int) -> Path:
    folder = tmp_path / "redflag-settings"
    folder.mkdir(exist_ok=True)
    (folder / "publishers.ini").write_text("[slugs]\nstrict-publisher = strict.ini\n")
    (folder / "strict.ini").write_text(STRICT.format(days=days))
    return folder


async def _r003(client, slug: str) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/oversight/red-flags", params={"publisher": slug, "code": "R003"})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def _population(settings) -> None:
    await worker.run_job("oversight_redflags_population", {"settings": settings})


async def test_a_stricter_publisher_gets_the_flag_and_a_changed_file_recomputes_it(client, settings, tmp_path):
    folder = _folder(tmp_path, 25)
    app = builder.with_env(settings, REDFLAG_SETTINGS_DIR=str(folder))
    # The same 20-day submission period at two publishers: under Cardinal's 15 days, no R003...
    await import_paths([package(tmp_path / "s.json", [_process("strict-1", 20)], publisher="Strict publisher"),
                        package(tmp_path / "d.json", [_process("default-1", 20)], publisher="Default publisher")])
    await helpers.sync_red_flags(app, fences=True)
    strict, default = await publisher_id("Strict publisher"), await publisher_id("Default publisher")
    # ...under strict.ini's 25, R003: in the read model, as `marketplace redflags run --settings strict.ini` says...
    assert (await readmodel.as_results(strict))["OCID"] == {"strict-1": {"R003": 1.0}}
    assert "OCID" not in await readmodel.as_results(default)
    rows = await db.fetch("SELECT data::text AS data FROM ocds_compiled WHERE publisher_id = $1", strict)
    offline, _ = engine.run([r["data"] for r in rows], cardinal.load(folder / "strict.ini"))
    assert offline.as_dict(meta=False) == await readmodel.as_results(strict)
    # ...and in the public API, with the threshold it was judged by.
    (flag,) = await _r003(client, "strict-publisher")
    assert flag["ocid"] == "strict-1" and flag["evidence"] == {"days": 20, "threshold": 25}
    assert await _r003(client, "default-publisher") == []
    state = await db.fetchrow("SELECT settings_file, settings_hash FROM redflag_publisher WHERE publisher_id = $1",
                              strict)
    assert state["settings_file"] == "strict.ini"
    assert bytes(state["settings_hash"]) == publishers_ini.registry(folder).choose("strict-publisher", None).digest

    # A comment is no change: nothing is recomputed.
    before = {r["ocid"]: r["updated_at"] for r in await db.fetch("SELECT ocid, updated_at FROM redflag_process")}
    (folder / "strict.ini").write_text("; a comment\n" + STRICT.format(days=25))
    await _population(app)
    assert {r["ocid"]: r["updated_at"] for r in await db.fetch("SELECT ocid, updated_at FROM redflag_process")} \
        == before

    # The threshold tightened further, then relaxed: the population job recomputes that publisher alone.
    _folder(tmp_path, 21)
    await _population(app)
    (flag,) = await _r003(client, "strict-publisher")
    assert flag["evidence"] == {"days": 20, "threshold": 21}
    _folder(tmp_path, 20)
    await _population(app)
    assert await _r003(client, "strict-publisher") == []
    after = {r["ocid"]: r["updated_at"] for r in await db.fetch("SELECT ocid, updated_at FROM redflag_process")}
    assert after["default-1"] == before["default-1"] and after["strict-1"] != before["strict-1"]
    state = await db.fetchrow("SELECT rebuild_after, settings_hash, dirty FROM redflag_publisher"
                              " WHERE publisher_id = $1", strict)
    assert state["rebuild_after"] is None and not state["dirty"]  # recomputed in full, fences computed
    assert bytes(state["settings_hash"]) == publishers_ini.registry(folder).choose("strict-publisher", None).digest


async def test_a_recomputation_goes_in_batches_and_the_sync_meanwhile_agrees(client, settings, tmp_path):
    folder = _folder(tmp_path, 25)
    app = builder.with_env(settings, REDFLAG_SETTINGS_DIR=str(folder))
    lines = [_process(f"strict-{n}", 10 + n) for n in range(1, 8)]  # 11 to 17 days
    await import_paths([package(tmp_path / "s.json", lines, publisher="Strict publisher")])
    await helpers.sync_red_flags(app, fences=True)
    pid = await publisher_id("Strict publisher")
    assert len((await readmodel.as_results(pid))["OCID"]) == 7
    _folder(tmp_path, 14)  # 11, 12, 13 days remain short
    report = await readmodel.apply_settings(app, batch=3, seconds=0)  # one batch, then the budget is spent
    assert report.started == [pid] and report.evaluated == 3 and not report.finished
    state = await db.fetchrow("SELECT rebuild_after FROM redflag_publisher WHERE publisher_id = $1", pid)
    assert state["rebuild_after"] == "strict-3"
    # A process changes meanwhile: the sync evaluates it under the new settings; the recomputation skips it.
    changed = dict(lines[5], id="strict-6-2", date="2024-02-01T00:00:00Z")
    changed["tender"] = dict(changed["tender"], numberOfTenderers=1)
    await import_paths([package(tmp_path / "c.json", [changed], publisher="Strict publisher")])
    await helpers.sync_red_flags(app)
    report = await readmodel.apply_settings(app, batch=3, seconds=60)
    assert report.started == [] and report.finished == [pid] and report.evaluated == 3  # 4, 5, 7
    await _population(app)
    rows = await db.fetch("SELECT data::text AS data FROM ocds_compiled WHERE publisher_id = $1", pid)
    offline, _ = engine.run([r["data"] for r in rows], cardinal.load(folder / "strict.ini"))
    assert await readmodel.as_results(pid) == offline.as_dict(meta=False)
    assert set(offline.as_dict(meta=False)["OCID"]) == {"strict-1", "strict-2", "strict-3", "strict-6"}


def test_each_registered_file_is_cardinals_ini_and_ours_holds_perus_rules():
    registry = publishers_ini.registry(publishers_ini.BUILTIN_DIR)
    for name in {*registry.slugs.values(), *dict(registry.prefixes).values()}:
        assert cardinal.load(publishers_ini.BUILTIN_DIR / name).indicators  # what `redflags run --settings` reads
    ours = registry.choose("mercado-abierto", None)
    assert ours.file == "mercado-abierto.ini" and ours.settings.currency == "PEN"
    assert set(ours.settings.indicators) == set(cardinal.INDICATORS)
    # Peru's shortest submission periods, by the method names we publish (procurementMethodDetails).
    r003 = ours.settings.indicators["R003"]
    assert dict(r003.procurement_method_details) == {
        METHOD_DETAILS["public_tender"]: 22, METHOD_DETAILS["public_contest"]: 22,
        METHOD_DETAILS["simplified_award"]: 8, METHOD_DETAILS["reverse_auction"]: 5,
        METHOD_DETAILS["price_comparison"]: 3}
    assert r003.procurement_methods == {"open", "selective"}  # direct contracting: no period to judge
    assert ours.settings.no_price_comparison_procurement_methods == {METHOD_DETAILS["direct_contracting"]}
    assert registry.choose("other", "ocds-be6bcu-UA-2024").file == "prozorro.ini"
    assert registry.choose("other", "AM-PPS-1").file == "armenia.ini"
    assert registry.choose("other", "ocds-xxxxxx-1") is publishers_ini.DEFAULTS


def test_a_bad_settings_folder_is_refused_naming_the_file_and_key(settings, tmp_path):
    with pytest.raises(SettingsError, match="REDFLAG_SETTINGS_DIR: must be a folder holding publishers.ini"):
        builder.with_env(settings, REDFLAG_SETTINGS_DIR=str(tmp_path))
    (tmp_path / "publishers.ini").write_text("[slugs]\nx = strict.ini\n")
    (tmp_path / "strict.ini").write_text("[R003]\nthreshhold = 3\n")
    with pytest.raises(cardinal.SettingsError, match=r"strict.ini: \[R003\] threshhold: unknown setting"):
        publishers_ini.registry(tmp_path)
    (tmp_path / "publishers.ini").write_text("[publishers]\nx = strict.ini\n")
    with pytest.raises(cardinal.SettingsError, match=r"\[publishers\]: unknown section"):
        publishers_ini.registry(tmp_path)


async def test_our_simplified_award_is_judged_by_perus_8_days_not_cardinals_15(client, settings, fixed_clock):
    """Our own publisher runs mercado-abierto.ini: a simplified award open for 10 days meets Peru's 8-day
    minimum, so no R003 (Cardinal's default of 15 days would raise it)."""
    officer, committee = await builder.agency(settings)
    t = await builder.Tender(settings, fixed_clock, officer, committee).publish(method="simplified_award",
                                                                               deadline_days=10)
    await helpers.drain()
    await helpers.sync_red_flags(settings)
    ocid = (await db.fetchrow("SELECT ocid FROM tender WHERE id = $1", t.id))["ocid"]
    data = json.loads((await db.fetchrow("SELECT data::text AS d FROM ocds_compiled WHERE ocid = $1", ocid))["d"])
    assert data["tender"]["procurementMethodDetails"] == METHOD_DETAILS["simplified_award"]
    flags = await db.fetch("SELECT code FROM redflag WHERE ocid = $1", ocid)
    assert "R003" not in {f["code"] for f in flags}
    default = engine.Engine(cardinal.Settings.all_indicators()).evaluate(data)
    assert default is not None and "R003" in default.flags

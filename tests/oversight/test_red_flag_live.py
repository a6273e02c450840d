"""A new bid, award or import shows in the public red-flag API at the sync job's next run (`oversight_redflags_sync`,
scheduled every 5 seconds, run here as the worker runs it): the change is committed, the outbox compiles the
release, one sync run later the API gives the flag. And the region filter: our processes carry their region,
imported ones none."""

from __future__ import annotations

from typing import Any

from marketplace.core import db
from marketplace.oversight.imports.run import import_paths
from marketplace.oversight.redflags import jobs
from tenders.awards import jobs as award_jobs
from tests.oversight import builder, helpers
from tests.oversight.test_red_flag_model import fixture_lines, package


async def _api(client, **params: Any) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/oversight/red-flags", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def _codes(client, ocid: str) -> set[str]:
    return {f["code"] for f in await _api(client, ocid=ocid) if f["scope"] == "process"}


async def _ocid(tender_id) -> str:
    return (await db.fetchrow("SELECT ocid FROM tender WHERE id = $1", tender_id))["ocid"]


async def _changed(settings) -> None:
    """What the worker does after a change: the outbox (OCDS publication compiles the release), then the sync."""
    await helpers.drain()
    await helpers.sync_red_flags(settings)


def test_the_sync_job_runs_every_few_seconds():
    (cron,) = [c for c in jobs.CRONS if c.name == "oversight_redflags_sync"]
    seconds = sorted(cron.second)
    assert max(b - a for a, b in zip(seconds, [*seconds[1:], seconds[0] + 60], strict=True)) <= 5


async def test_a_new_bid_then_an_award_change_the_apis_flags_at_the_next_sync(client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    a, b, c = await builder.suppliers(settings, 3)

    # A bid: one bidder only, opened -> R018 (single bid) on the process, in the API.
    single = await builder.Tender(settings, fixed_clock, officer, committee).publish(deadline_days=20)
    await _changed(settings)
    ocid = await _ocid(single.id)
    assert "R018" not in await _codes(client, ocid)
    await single.bid(a, {0: 9_000_000})
    await single.open()
    await _changed(settings)
    assert "R018" in await _codes(client, ocid)
    (flag,) = [f for f in await _api(client, ocid=ocid, code="R018")]
    assert flag["evidence"] == {"number_of_tenderers": 1} and flag["region"] == "15"  # delivered in Lima (150101)

    # An award: the lowest bid disqualified, a dearer one wins -> R036 once the award is final (OCDS 'active').
    t = await builder.Tender(settings, fixed_clock, officer, committee).publish(deadline_days=20)
    for who, price in ((a, 9_000_000), (b, 8_000_000), (c, 9_500_000)):
        await t.bid(who, {0: price})
    await t.open()
    await t.disqualify(1)  # the lowest
    await t.qualify(0)  # Cardinal counts a bid as valid only when the committee says so
    await t.qualify(2)
    await _changed(settings)
    ocid = await _ocid(t.id)
    assert "R036" not in await _codes(client, ocid)
    await t.award()
    fixed_clock.advance(days=30)  # past the standstill: consented
    await award_jobs.consent_awards({"settings": settings})
    await _changed(settings)
    assert "R036" in await _codes(client, ocid)
    # The tender's own endpoint and the portal's tender page read the same rows.
    r = await client.get(f"/api/v1/oversight/tenders/{t.id}/red-flags", params={"limit": 500})
    assert r.json()["items"] == await _api(client, ocid=ocid)


async def test_an_import_is_flagged_at_the_next_sync_and_has_no_region(client, settings, fixed_clock, tmp_path):
    officer, committee = await builder.agency(settings)
    (a,) = await builder.suppliers(settings, 1)
    ours = await builder.Tender(settings, fixed_clock, officer, committee).publish()
    await ours.bid(a, {0: 9_000_000})
    await ours.open()
    await _changed(settings)
    lines = fixture_lines("R018")
    flagged = {r["ocid"] for r in lines if (r.get("tender") or {}).get("numberOfTenderers") == 1
               and r["tender"].get("procurementMethod") in ("open", "selective")}  # R018's default methods
    assert flagged
    assert not [f for f in await _api(client, code="R018") if f["ocid"] in flagged]

    await import_paths([package(tmp_path / "p.json", lines, publisher="Live import")])
    await helpers.sync_red_flags(settings)
    imported = [f for f in await _api(client, code="R018") if f["ocid"] in flagged]
    assert {f["ocid"] for f in imported} == flagged
    assert all(f["region"] is None for f in imported)

    # The region filter: our process in Lima (15) is there, no imported one; another region has neither.
    own = await _ocid(ours.id)
    lima = {f["ocid"] for f in await _api(client, code="R018", region="15")}
    assert own in lima and not lima & flagged
    assert own not in {f["ocid"] for f in await _api(client, code="R018", region="04")}
    r = await client.get("/api/v1/oversight/red-flags", params={"region": "1a"})
    assert r.status_code == 422 and "query.region" in r.text
    # The dates bound what was imported: its releases are dated 2024-01-01.
    since = await _api(client, code="R018", date_from="2024-01-01T00:00:00Z", date_to="2024-01-02T00:00:00Z")
    assert {f["ocid"] for f in since} == flagged

"""Stage times from the state-change history; alarms for stuck tenders (listed for oversight, notified to
the agency once); a tender's audit trail for oversight users; the public audit verification."""

from __future__ import annotations

from marketplace.core import audit, db
from marketplace.oversight.stages import service as stages
from tests import factories, waiting
from tests.oversight import builder, helpers


async def _opened(settings, fixed_clock, officer, committee, suppliers):
    t = await builder.Tender(settings, fixed_clock, officer, committee).publish()
    for i, who in enumerate(suppliers):
        await t.bid(who, {0: 9_000_000 + i})
    await t.open()
    return t


async def test_stage_history_and_times(client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    a, b = await builder.suppliers(settings, 2)
    t1 = await _opened(settings, fixed_clock, officer, committee, [a, b])
    t2 = await _opened(settings, fixed_clock, officer, committee, [a, b])
    fixed_clock.advance(days=2)
    await t1.award()
    await helpers.drain()
    rows = await db.fetch("SELECT stage, entered_at, left_at FROM tender_stage WHERE tender_id = $1"
                          " ORDER BY entered_at, left_at NULLS LAST", t1.id)
    stages_seen = [r["stage"] for r in rows]
    assert stages_seen[:2] == ["draft", "published"] and stages_seen[-2:] == ["evaluation", "awarded"]
    assert {"tendering", "opening"} <= set(stages_seen)
    assert all(r["left_at"] is not None for r in rows[:-1]) and rows[-1]["left_at"] is None
    body = (await client.get("/api/v1/oversight/stage-times")).json()
    assert body["limits_days"]["evaluation"] == 20
    by_stage = {x["stage"]: x for x in body["items"]}
    # Enquiries last 4 days for both tenders (the builder's timeline).
    assert by_stage["published"]["count"] == 2 and round(by_stage["published"]["p50_days"]) == 4
    assert by_stage["evaluation"]["count"] == 1 and by_stage["evaluation"]["p90_days"] >= 2
    assert all(x["agency_id"] == str(officer.org_id) for x in body["items"])
    other = (await client.get("/api/v1/oversight/stage-times", params={"method": "public_tender"})).json()
    assert other["items"] == []
    assert t2.id  # still in evaluation: no finished evaluation stage of its own


async def test_stuck_tenders_raise_one_alarm_and_one_notification(client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    a, b = await builder.suppliers(settings, 2)
    t = await _opened(settings, fixed_clock, officer, committee, [a, b])
    await helpers.drain()
    async with db.unit_of_work():
        assert await stages.raise_alarms(settings) == 0
    fixed_clock.advance(days=21)  # evaluation limit: 20 days
    for _ in range(2):  # the cron job may run twice
        async with db.unit_of_work():
            await stages.raise_alarms(settings)
    alarms = await db.fetch("SELECT tender_id, stage, cleared_at FROM stage_alarm")
    assert [(x["tender_id"], x["stage"], x["cleared_at"]) for x in alarms] == [(t.id, "evaluation", None)]
    notes = await db.fetch("SELECT agency_id, kind FROM agency_notification")
    assert [(x["agency_id"], x["kind"]) for x in notes] == [(officer.org_id, "stage_alarm")]

    auditor = await factories.login(settings, "oversight", "auditor")
    r = await client.get("/api/v1/oversight/alarms", headers=auditor.headers)
    assert r.status_code == 200
    body = r.json()
    assert [x["tender_id"] for x in body["alarms"]] == [str(t.id)]
    assert body["stuck_now"][0]["days_in_stage"] >= 21 and body["stuck_now"][0]["limit_days"] == 20
    agency_user = await factories.login(settings, "agency", "officer", org_id=officer.org_id)
    assert (await client.get("/api/v1/oversight/alarms", headers=agency_user.headers)).status_code == 403
    assert (await client.get("/api/v1/oversight/alarms")).status_code == 401
    notes = (await client.get("/api/v1/oversight/notifications", headers=agency_user.headers)).json()
    assert len(notes) == 1 and notes[0]["data"]["tender_id"] == str(t.id) and "evaluation" in notes[0]["subject"]
    stranger = await factories.login(settings, "agency", "officer")
    assert (await client.get("/api/v1/oversight/notifications", headers=stranger.headers)).json() == []

    # The tender moves on: the alarm clears, nothing new is raised.
    await t.award()
    await helpers.drain()
    async with db.unit_of_work():
        assert await stages.raise_alarms(settings) == 0
    assert (await db.fetchrow("SELECT cleared_at FROM stage_alarm"))["cleared_at"] is not None
    assert (await client.get("/api/v1/oversight/alarms", headers=auditor.headers)).json()["alarms"] == []


async def test_stage_limits_are_settings(client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    a, = await builder.suppliers(settings, 1)
    await _opened(settings, fixed_clock, officer, committee, [a])
    await helpers.drain()
    fixed_clock.advance(days=3)
    async with db.unit_of_work():
        assert await stages.raise_alarms(settings) == 0
        assert await stages.raise_alarms(builder.with_env(settings, STAGE_LIMIT_DAYS="evaluation=2")) == 1


async def test_tender_audit_trail_for_oversight(client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    a, b = await builder.suppliers(settings, 2)
    t = await _opened(settings, fixed_clock, officer, committee, [a, b])
    await t.award()
    auditor = await factories.login(settings, "oversight", "auditor")
    r = await client.get(f"/api/v1/oversight/tenders/{t.id}/audit", headers=auditor.headers)
    assert r.status_code == 200
    items = r.json()["items"]
    actions = [x["action"] for x in items]
    assert "tender.publish" in actions
    assert any(x["entity_type"] == "bid" for x in items) and any(x["entity_type"] == "award" for x in items)
    assert [x["id"] for x in items] == sorted(x["id"] for x in items)
    # Pages.
    r = await client.get(f"/api/v1/oversight/tenders/{t.id}/audit", headers=auditor.headers, params={"limit": 2})
    assert len(r.json()["items"]) == 2 and r.json()["next_cursor"]
    # Not for the public nor for a supplier.
    assert (await client.get(f"/api/v1/oversight/tenders/{t.id}/audit")).status_code == 401
    supplier = await factories.login(settings, "supplier", "bidder")
    assert (await client.get(f"/api/v1/oversight/tenders/{t.id}/audit", headers=supplier.headers)).status_code == 403
    # Anyone can check the chain those events are linked into, and the signed checkpoints.
    async def chained() -> bool:  # other sessions on the server may hold the chainer's watermark back
        await audit.chain_pending(settings, force_checkpoint=True)
        return bool(await db.fetchrow("SELECT 1 FROM audit_checkpoint") and not await db.fetchrow(
            "SELECT 1 FROM audit_event WHERE seq IS NULL"))

    await waiting.until(chained, "the audit events to be chained and checkpointed")
    r = await client.get("/api/v1/audit/verify")
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["checkpoints_checked"] >= 1
    r = await client.get("/api/v1/audit/checkpoints")
    assert r.status_code == 200 and r.json()["items"] and r.json()["public_key"]
    r = await client.get(f"/api/v1/oversight/tenders/{t.id}/audit", headers=auditor.headers)
    assert all(x["hash"] for x in r.json()["items"])

"""Where our own data knows better than bare OCDS: a bid re-dated by a live reverse auction is not a late bid
(R030 is not raised and the process's notes say why), and our own flags (MA-AMEND, MA-STAGE) sit in the same
read model with their own codes."""

from __future__ import annotations

import json
from datetime import date, timedelta

from marketplace import worker
from marketplace.contracts import service as contracts
from marketplace.contracts.schemas import AmendmentCreate, ContractSign, GuaranteeCreate, MilestoneCreate
from marketplace.core import db
from marketplace.core.money import Money
from marketplace.oversight.redflags import engine
from marketplace.oversight.redflags.settings import Settings as CardinalSettings
from tenders.auctions import jobs as auction_jobs
from tenders.auctions import service as auctions
from tenders.auctions.schemas import AuctionCreate, LanceCreate
from tenders.awards import jobs as award_jobs
from tests.oversight import builder, helpers
from tests.oversight.helpers import sync_red_flags


async def _ocid(tender_id) -> str:
    return (await db.fetchrow("SELECT ocid FROM tender WHERE id = $1", tender_id))["ocid"]


async def _flags(ocid: str) -> set[tuple[str, str]]:
    return {(r["code"], r["scope"]) for r in await db.fetch("SELECT code, scope FROM redflag WHERE ocid = $1", ocid)}


async def test_a_bid_re_dated_by_the_live_auction_is_not_a_late_bid_and_amendments_raise_ma_amend(
        client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    a, b = await builder.suppliers(settings, 2)
    t = await builder.Tender(settings, fixed_clock, officer, committee).publish(method="reverse_auction")
    await t.bid(a, {0: 9_000_000})
    await t.bid(b, {0: 9_500_000})
    await t.open()
    await t.qualify(0)
    await t.qualify(1)
    # The live auction, after the submission deadline: b bids lower and wins.
    start = fixed_clock.now() + timedelta(minutes=10)
    async with db.unit_of_work():
        auction = await auctions.schedule(actor=officer, settings=settings, tender_id=t.id, lot_id=t.lots[0],
                                          data=AuctionCreate(starts_at=start, duration_seconds=300))
    fixed_clock.set(start + timedelta(seconds=1))
    await auction_jobs.sweep_auctions({"settings": settings})
    fixed_clock.set(start + timedelta(seconds=60))
    async with db.unit_of_work():
        await auctions.place_bid(actor=b, settings=settings, auction_id=auction.id,
                                 data=LanceCreate(price=Money(amount=8_800_000)))
    fixed_clock.set(start + timedelta(seconds=400))
    await auction_jobs.sweep_auctions({"settings": settings})
    fixed_clock.advance(days=30)  # past the standstill: the award is consented
    await award_jobs.consent_awards({"settings": settings})
    await helpers.drain()
    await sync_red_flags(settings)
    ocid = await _ocid(t.id)

    # Bare OCDS says the winner's bid came after the deadline (Cardinal flags R030)...
    compiled = (await db.fetchrow("SELECT data::text AS data FROM ocds_compiled WHERE ocid = $1", ocid))["data"]
    bare = engine.Engine(CardinalSettings.all_indicators(currency="PEN")).evaluate(engine.decode_line(compiled))
    assert bare is not None and "R030" in bare.flags
    # ...but its sealed bid was on time: the read model does not raise R030, and says why.
    assert ("R030", "process") not in await _flags(ocid)
    notes = json.loads((await db.fetchrow("SELECT notes::text AS n FROM redflag_process WHERE ocid = $1", ocid))["n"])
    assert [n["reason"] for n in notes] == ["bids_redated_by_live_auction"]
    (redated,) = notes[0]["bids"]
    assert redated["auction_id"] == str(auction.id) and redated["sealed_bid_received_at"] < notes[0]["end_date"]
    assert redated["date"] > notes[0]["end_date"]

    # The contract's value raised by 30% by amendments: MA-AMEND (above REDFLAG_AMENDMENT_MAX_PCT, 20).
    contract = await db.fetchrow("SELECT id, value_cents FROM contract WHERE tender_id = $1", t.id)
    value = contract["value_cents"]
    async with db.unit_of_work():
        await contracts.add_milestone(actor=officer, contract_id=contract["id"], data=MilestoneCreate(
            deliverable="Entrega única", due_date=date(2027, 3, 1), amount=Money(amount=value, currency="PEN")))
        await contracts.sign(actor=officer, contract_id=contract["id"], data=ContractSign(
            period_start=date(2027, 1, 1), period_end=date(2027, 6, 30), guarantee=GuaranteeCreate(
                kind="bank_letter", amount=Money(amount=value // 10, currency="PEN"), issuer="Banco",
                reference="CF-1", expires_on=date(2027, 12, 31))))
        await contracts.amend(actor=officer, contract_id=contract["id"], data=AmendmentCreate(
            reason="Mayores metrados por ampliación", value_change=Money(amount=value * 3 // 10, currency="PEN")))
    await helpers.drain()
    await sync_red_flags(settings)
    row = await db.fetchrow("SELECT value, evidence::text AS e FROM redflag WHERE ocid = $1 AND code = 'MA-AMEND'",
                            ocid)
    assert row is not None and row["value"] == 30.0
    evidence = json.loads(row["e"])
    assert evidence["amendment_max_pct"] == 20.0 and evidence["original_value"] == {"amount": value, "currency": "PEN"}
    assert ("R030", "process") not in await _flags(ocid)


async def test_a_stage_alarm_is_a_ma_stage_flag_while_it_is_open(client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    t = await builder.Tender(settings, fixed_clock, officer, committee).publish(deadline_days=90, enquiry_days=80)
    await helpers.drain()
    await sync_red_flags(settings)
    ocid = await _ocid(t.id)
    assert ("MA-STAGE", "process") not in await _flags(ocid)
    fixed_clock.advance(days=70)  # tendering for longer than STAGE_LIMIT_DAYS' 60
    await t.sweep()
    await worker.run_job("oversight_stage_alarms", {"settings": settings})
    await sync_red_flags(settings)
    rows = await db.fetch("SELECT code, evidence::text AS e FROM redflag WHERE ocid = $1 AND code = 'MA-STAGE'", ocid)
    assert len(rows) == 1 and json.loads(rows[0]["e"])["limit_days"] in (45, 60)

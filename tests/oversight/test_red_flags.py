"""Red flags: each has a case that raises it and one that does not, with its thresholds and evidence."""

from __future__ import annotations

from marketplace.oversight.redflags import service as redflags
from tests.oversight import builder, helpers
from tests.oversight.builder import with_env


def codes(flags, code: str, tender_id=None) -> list:
    return [f for f in flags if f.code == code and (tender_id is None or f.tender_id == tender_id)]


async def _tender(settings, fixed_clock, officer, committee, **kw):
    return await builder.Tender(settings, fixed_clock, officer, committee).publish(**kw)


async def test_single_bid(client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    a, b = await builder.suppliers(settings, 2)
    one = await _tender(settings, fixed_clock, officer, committee)
    await one.bid(a, {0: 9_000_000})
    await one.open()
    two = await _tender(settings, fixed_clock, officer, committee)
    await two.bid(a, {0: 9_000_000})
    await two.bid(b, {0: 9_100_000})
    await two.open()
    flags = await redflags.compute(settings)
    raised = codes(flags, "single_bid")
    assert [f.tender_id for f in raised] == [one.id]
    assert raised[0].evidence["bids"] == 1 and raised[0].lot_id == one.lots[0]
    # Over HTTP, per tender, from the read model (Cardinal's R018), as the list gives it for the same ocid.
    await helpers.drain()
    await helpers.sync_red_flags(settings)
    r = await client.get(f"/api/v1/oversight/tenders/{one.id}/red-flags")
    assert r.status_code == 200 and "R018" in {f["code"] for f in r.json()["items"]}
    ocid = r.json()["items"][0]["ocid"]
    assert {f["ocid"] for f in r.json()["items"]} == {ocid}
    assert r.json()["items"] == (await client.get("/api/v1/oversight/red-flags", params={"ocid": ocid})).json()["items"]
    r = await client.get(f"/api/v1/oversight/tenders/{two.id}/red-flags")
    assert r.status_code == 200 and "R018" not in {f["code"] for f in r.json()["items"]}


async def test_short_submission_period(client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    t = await _tender(settings, fixed_clock, officer, committee, deadline_days=10)  # simplified: min 8 days
    assert not codes(await redflags.compute(settings), "short_submission_period")
    strict = with_env(settings, REDFLAG_MIN_SUBMISSION_DAYS="simplified_award=12")
    raised = codes(await redflags.compute(strict), "short_submission_period")
    assert [f.tender_id for f in raised] == [t.id]
    assert raised[0].thresholds["min_submission_days"] == 12 and raised[0].evidence["days"].startswith("10")


async def test_identical_bid_prices(client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    a, b, c = await builder.suppliers(settings, 3)
    same = await _tender(settings, fixed_clock, officer, committee)
    await same.bid(a, {0: 9_000_000})
    await same.bid(b, {0: 9_000_000})
    await same.open()
    differ = await _tender(settings, fixed_clock, officer, committee)
    await differ.bid(a, {0: 9_000_000})
    await differ.bid(c, {0: 9_000_001})
    await differ.open()
    raised = codes(await redflags.compute(settings), "identical_bid_prices")
    assert [f.tender_id for f in raised] == [same.id]
    assert sorted(raised[0].evidence["prices"]["9000000"]) == sorted([str(a.org_id), str(b.org_id)])


async def test_late_bid_won(client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    a, b = await builder.suppliers(settings, 2)
    late = await _tender(settings, fixed_clock, officer, committee)
    await late.bid(a, {0: 9_500_000})
    await late.bid(b, {0: 9_000_000}, minutes_before_deadline=10)  # last, lowest, wins
    await late.open()
    await late.award()
    early = await _tender(settings, fixed_clock, officer, committee)
    await early.bid(b, {0: 9_000_000})  # the winner bid first, days ahead
    await early.bid(a, {0: 9_500_000}, minutes_before_deadline=10)
    await early.open()
    await early.award()
    raised = codes(await redflags.compute(settings), "late_bid_won")
    assert [f.tender_id for f in raised] == [late.id]
    assert raised[0].evidence["after_deadline"] is False and raised[0].thresholds == {"late_bid_minutes": 60}


async def test_all_but_winner_disqualified(client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    a, b, c = await builder.suppliers(settings, 3)
    flagged = await _tender(settings, fixed_clock, officer, committee)
    for who, price in ((a, 9_000_000), (b, 8_000_000), (c, 8_500_000)):
        await flagged.bid(who, {0: price})
    await flagged.open()
    await flagged.disqualify(1)
    await flagged.disqualify(2)
    await flagged.award()
    fine = await _tender(settings, fixed_clock, officer, committee)
    for who, price in ((a, 9_000_000), (b, 8_000_000), (c, 8_500_000)):
        await fine.bid(who, {0: price})
    await fine.open()
    await fine.disqualify(1)  # one of the two others remains valid
    await fine.award()
    raised = codes(await redflags.compute(settings), "all_but_winner_disqualified")
    assert [f.tender_id for f in raised] == [flagged.id]
    assert raised[0].evidence == {"disqualified": 2, "winner": str(a.org_id)}


async def test_lowest_bid_disqualified_in_a_price_only_award(client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    a, b, c = await builder.suppliers(settings, 3)
    flagged = await _tender(settings, fixed_clock, officer, committee)
    for who, price in ((a, 9_000_000), (b, 8_000_000), (c, 9_500_000)):
        await flagged.bid(who, {0: price})
    await flagged.open()
    await flagged.disqualify(1)  # the lowest
    await flagged.award()
    fine = await _tender(settings, fixed_clock, officer, committee)
    for who, price in ((a, 9_000_000), (b, 8_000_000), (c, 9_500_000)):
        await fine.bid(who, {0: price})
    await fine.open()
    await fine.disqualify(2)  # a dearer one: the lowest still wins
    await fine.award()
    raised = codes(await redflags.compute(settings), "lowest_bid_disqualified")
    assert [f.tender_id for f in raised] == [flagged.id]
    assert raised[0].evidence["lowest_price"] == 8_000_000 and raised[0].evidence["winning_price"] == 9_000_000


async def test_price_gap_outlier_by_the_quartile_fence(client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    a, b = await builder.suppliers(settings, 2)
    # Six lots: gaps of about 5%, and one lot where the runner-up is 80% dearer.
    t = await _tender(settings, fixed_clock, officer, committee, codes=["30111601"] * 6)
    wins = [1_000_000] * 6
    seconds = [1_050_000, 1_060_000, 1_040_000, 1_055_000, 1_045_000, 1_800_000]
    await t.bid(a, dict(enumerate(wins)))
    await t.bid(b, dict(enumerate(seconds)))
    await t.open()
    await t.award()
    env = with_env(settings, REDFLAG_GAP_MIN_SAMPLE="5")
    raised = codes(await redflags.compute(env), "price_gap_outlier")
    assert [f.lot_id for f in raised] == [t.lots[5]]
    assert raised[0].evidence["direction"] == "large" and raised[0].evidence["gap"] == "0.8000"
    # With too few awarded lots for a fence, nothing is judged.
    assert not codes(await redflags.compute(with_env(settings, REDFLAG_GAP_MIN_SAMPLE="7")), "price_gap_outlier")


async def test_rare_winner(client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    a, b, c = await builder.suppliers(settings, 3)
    t = await _tender(settings, fixed_clock, officer, committee, codes=["30111601"] * 4)
    await t.bid(a, {i: 1_000_000 for i in range(4)})  # wins all four
    await t.bid(b, {i: 1_200_000 for i in range(4)})  # bids four times, never wins
    await t.bid(c, {0: 1_300_000})  # bids once: too few to judge
    await t.open()
    await t.award()
    env = with_env(settings, REDFLAG_RARE_WINNER_MIN_BIDS="3")
    raised = codes(await redflags.compute(env), "rare_winner")
    assert [f.subject_id for f in raised] == [str(b.org_id)]
    assert raised[0].evidence == {"bids": 4, "wins": 0, "win_rate": "0.0000"}
    assert not codes(await redflags.compute(with_env(settings, REDFLAG_RARE_WINNER_MIN_BIDS="5")), "rare_winner")
    # Per tender: shown on the tenders the rare winner bid in.
    assert codes(await redflags.compute(env, tender_id=t.id), "rare_winner")


async def test_buyer_disqualifies_many(client, settings, fixed_clock):
    strict_officer, strict_committee = await builder.agency(settings)
    fair_officer, fair_committee = await builder.agency(settings)
    a, b, c = await builder.suppliers(settings, 3)
    strict = await _tender(settings, fixed_clock, strict_officer, strict_committee)
    fair = await _tender(settings, fixed_clock, fair_officer, fair_committee)
    for t in (strict, fair):
        for who, price in ((a, 9_000_000), (b, 8_000_000), (c, 8_500_000)):
            await t.bid(who, {0: price})
    await strict.open()
    await fair.open()
    await strict.disqualify(1)
    await strict.disqualify(2)
    env = with_env(settings, REDFLAG_DISQUALIFY_MIN_BIDS="3")
    raised = codes(await redflags.compute(env), "buyer_disqualifies_many")
    assert [f.subject_id for f in raised] == [str(strict_officer.org_id)]
    assert raised[0].evidence == {"bids_opened": 3, "disqualified": 2, "rate": "0.6667"}
    assert not codes(await redflags.compute(with_env(settings, REDFLAG_DISQUALIFY_MIN_BIDS="4")),
                     "buyer_disqualifies_many")


async def test_supplier_many_families(client, settings, fixed_clock):
    officer, committee = await builder.agency(settings)
    a, b = await builder.suppliers(settings, 2)
    t = await _tender(settings, fixed_clock, officer, committee,
                      codes=["30111601", "56121502", "51142106", "43211507"])
    await t.bid(a, {0: 1_000_000, 1: 1_000_000, 2: 1_000_000})  # wins in three families
    await t.bid(b, {0: 1_100_000, 3: 1_000_000})  # wins in one
    await t.open()
    await t.award()
    env = with_env(settings, REDFLAG_MAX_FAMILIES="3")
    raised = codes(await redflags.compute(env), "supplier_many_families")
    assert [f.subject_id for f in raised] == [str(a.org_id)]
    assert raised[0].evidence == {"families": ["3011", "5114", "5612"], "count": 3}
    assert not codes(await redflags.compute(settings), "supplier_many_families")  # default: 5 families


async def test_contract_value_raised_by_amendments(client, settings, fixed_clock):
    from datetime import date

    from marketplace.contracts import service as contracts
    from marketplace.contracts.schemas import AmendmentCreate, ContractSign, GuaranteeCreate, MilestoneCreate
    from marketplace.core import db
    from marketplace.core.actor import SYSTEM
    from marketplace.core.money import money

    officer, committee = await builder.agency(settings)
    a, b = await builder.suppliers(settings, 2)
    t = await _tender(settings, fixed_clock, officer, committee, codes=["30111601", "30111601"])
    await t.bid(a, {0: 1_000_000, 1: 2_000_000})
    await t.open()
    result = await t.award()
    ids = []
    async with db.unit_of_work():
        for lot in result.lots:
            row = await contracts.create_from_award(actor=SYSTEM, award_id=lot.award.id, tender_id=t.id,
                                                    lot_id=lot.lot_id, supplier_org_id=a.org_id,
                                                    value_cents=lot.award.value.amount, currency="PEN")
            ids.append(row.id)
        for cid, value in zip(ids, (1_000_000, 2_000_000), strict=False):
            await contracts.add_milestone(actor=officer, contract_id=cid, data=MilestoneCreate(
                deliverable="Entrega única", due_date=date(2027, 2, 1), amount=money(value)))
            await contracts.sign(actor=officer, contract_id=cid, data=ContractSign(
                period_start=date(2026, 12, 1), period_end=date(2027, 3, 1),
                guarantee=GuaranteeCreate(kind="retention", amount=money(value // 10), issuer="Banco de la Nación",
                                          reference="G-1", expires_on=date(2027, 6, 1))))
        await contracts.amend(actor=officer, contract_id=ids[0], data=AmendmentCreate(
            reason="Mayores metrados", value_change=money(250_000)))  # +25%
        await contracts.amend(actor=officer, contract_id=ids[1], data=AmendmentCreate(
            reason="Ajuste", value_change=money(200_000)))  # +10%
    raised = codes(await redflags.compute(settings), "contract_value_raised")
    assert [f.subject_id for f in raised] == [str(ids[0])]
    assert raised[0].evidence["cumulative_change_pct"].startswith("25") and raised[0].tender_id == t.id
    assert not codes(await redflags.compute(with_env(settings, REDFLAG_AMENDMENT_MAX_PCT="30")),
                     "contract_value_raised")

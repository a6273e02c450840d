"""`GET /api/v1/bids`: a supplier lists its own bids with their states, filtered, in keyset pages; never
another supplier's; no price before the opening; an unconfirmed bid the opening left out shows as excluded,
with the reason."""

from __future__ import annotations

from datetime import timedelta

from tests.harness import check_matrix, personas
from tests.suppliers.factories import active_supplier
from tests.tenders import factories as tf
from tests.tenders.test_evaluation_http import draft, hdr, ok, points


def pen(cents: int) -> dict[str, object]:
    return {"amount": cents, "currency": "PEN"}


async def _list(client, settings, who, **params) -> dict:
    return ok(await client.get("/api/v1/bids", params=params, headers=hdr(settings, who)))


def _states(page: dict) -> list[tuple[str, str]]:
    return [(b["id"], b["state"]) for b in page["items"]]


async def test_a_supplier_lists_its_own_bids_and_their_states(client, settings, fixed_clock):
    p = await personas(settings, client)
    andes = await active_supplier(settings, ubigeo="080101", mype=True, name="Andes Servicios S.A.C.")
    lima = await active_supplier(settings, ubigeo="150101", name="Lima Facilities S.A.")
    cheap = await active_supplier(settings, ubigeo="040101", name="Arequipa Barato S.A.")
    first = await draft(client, settings, fixed_clock, p)
    second = await draft(client, settings, fixed_clock, p)
    for s in (first, second):
        ok(await client.post(f"/api/v1/tenders/{s.tender_id}/publish", headers=hdr(settings, p.officer)))
    fixed_clock.advance(days=5)
    start = fixed_clock.now()

    async def bid(s, who, price) -> str:
        fixed_clock.advance(minutes=1)
        return ok(await client.post(f"/api/v1/tenders/{s.tender_id}/bids", headers=hdr(settings, who),
                                    json={"lots": [{"lot_id": s.lot_ids[0], "price": pen(price)}]}), 201)["bid_id"]

    a1, l1, c1 = await bid(first, andes, 11_000_000), await bid(first, lima, 10_000_000), \
        await bid(first, cheap, 9_000_000)
    a2 = await bid(second, andes, 12_000_000)
    l2 = await bid(second, lima, 13_000_000)
    assert (await client.delete(f"/api/v1/bids/{l2}", headers=hdr(settings, lima))).status_code == 204
    first.bids = {(0, 0): a1, (1, 0): l1, (2, 0): c1}

    # Who may list: a supplier's users only; the persona bidder's organisation has no bids.
    await p.refresh(settings)
    await check_matrix(client, "GET", "/api/v1/bids", {
        p.anonymous: 401, p.officer: 403, p.other_officer: 403, p.committee: 403, p.auditor: 403, p.admin: 403,
        p.bidder: 200})
    assert (await _list(client, settings, p.bidder))["items"] == []

    # Each supplier sees its own, newest first, and no price while the bids are sealed.
    mine = await _list(client, settings, andes)
    assert _states(mine) == [(a2, "submitted"), (a1, "submitted")] and mine["next_cursor"] is None
    assert {b["tender_id"] for b in mine["items"]} == {first.tender_id, second.tender_id}
    assert all(lot["price"] is None for b in mine["items"] for lot in b["lots"])
    assert mine["items"][1]["lots"][0]["lot_id"] == first.lot_ids[0] and mine["items"][1]["ocid"].endswith(
        first.tender_id)
    assert _states(await _list(client, settings, lima)) == [(l2, "withdrawn"), (l1, "submitted")]

    # A material amendment to the first tender: the bids there must be reconfirmed; the cheapest is not.
    fixed_clock.advance(hours=1)
    ok(await client.patch(f"/api/v1/tenders/{first.tender_id}", headers=hdr(settings, p.officer),
                          json={"description": "Incluye techos.", "reason": "Se amplía el alcance"}))
    assert _states(await _list(client, settings, cheap)) == [(c1, "to_reconfirm")]
    for who, bid_id in ((andes, a1), (lima, l1)):
        ok(await client.post(f"/api/v1/bids/{bid_id}/confirm", headers=hdr(settings, who)))

    # The opening: the unconfirmed bid is excluded, with the reason; the others opened, with their prices.
    fixed_clock.set(first.deadline + timedelta(minutes=5))
    await tf.open_with_quorum(client, settings, p, first.tender_id)  # the officer and a committee member
    excluded = (await _list(client, settings, cheap))["items"][0]
    assert (excluded["state"], excluded["excluded_reason"], excluded["lots"][0]["price"]) == (
        "excluded", "not_reconfirmed", None)
    opened = (await _list(client, settings, andes, tender_id=first.tender_id))["items"]
    assert [(b["id"], b["state"], b["lots"][0]["price"]) for b in opened] == [
        (a1, "opened", {"amount": 11_000_000, "currency": "PEN"})]

    # The award: the winner's bid is awarded.
    await points(client, settings, p, first, 0, 0, 58, 38)
    await points(client, settings, p, first, 1, 0, 40, 20)
    award = ok(await client.post(f"/api/v1/tenders/{first.tender_id}/awards", headers=hdr(settings, p.officer)),
               201)["lots"][0]["award"]
    got = (await _list(client, settings, andes, state="awarded"))["items"]
    assert [(b["id"], b["award_ids"]) for b in got] == [(a1, [award["id"]])]
    assert _states(await _list(client, settings, lima, state="opened")) == [(l1, "opened")]

    # Dates (received at or after, before) and pages of one, following the cursor.
    assert _states(await _list(client, settings, andes, date_from=(start + timedelta(minutes=4)).isoformat())) == [
        (a2, "submitted")]
    assert _states(await _list(client, settings, andes, date_to=(start + timedelta(minutes=4)).isoformat())) == [
        (a1, "awarded")]
    seen, cursor = [], None
    while True:
        page = await _list(client, settings, andes, limit=1, **({"cursor": cursor} if cursor else {}))
        seen += [b["id"] for b in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [a2, a1]

    # Bad input: named field and rule, nothing else.
    for params, field, rule in (({"state": "won"}, "query.state", "choice"),
                                ({"cursor": "bm9wZQ"}, "query.cursor", "cursor"),
                                ({"date_from": "2026-12-01T10:00:00"}, "query.date_from", "timezone"),
                                ({"date_from": "2026-12-02T00:00:00Z", "date_to": "2026-12-01T00:00:00Z"},
                                 "query.date_to", "range")):
        r = await client.get("/api/v1/bids", params=params, headers=hdr(settings, andes))
        assert r.status_code == 422 and (r.json()["field"], r.json()["rule"]) == (field, rule), r.text
    r = await client.get("/api/v1/bids", params={"state": "won"}, headers={**hdr(settings, andes),
                                                                          "Accept-Language": "qu"})
    assert r.status_code == 422 and r.headers["content-language"].startswith("qu")
    assert r.json()["detail"] == "Mana riqsisqa oferta kay: won"

"""Issue 17, point 8: a price comparison ("comparación de precios") is by invitation. Once its officer has
invited suppliers, only they may bid (403 naming the rule); one without invitees stays open; the list is
closed when bids may start, and other methods take none."""

from __future__ import annotations

import pytest

from marketplace.core import db
from tests.tenders import factories as tf


async def _invite(client, officer, tender, supplier, **kw):
    return await client.post(f"/api/v1/tenders/{tender['id']}/invitations",
                             json={"supplier_id": str(supplier.org_id)}, headers=officer.headers, **kw)


@pytest.mark.parametrize(("lang", "words"), [("es", "invitados"), ("en", "invited"), ("qu", "invitasqa")])
async def test_only_invitees_bid_in_a_price_comparison_with_invitees(client, settings, fixed_clock, lang, words):
    officer = await tf.officer(settings)
    invited, outsider = await tf.supplier(settings), await tf.supplier(settings)
    t = await tf.published(client, officer, method="price_comparison")
    r = await _invite(client, officer, t, invited)
    assert r.status_code == 201, r.text
    assert (await _invite(client, officer, t, invited)).status_code == 201  # again: a no-op
    url = f"/api/v1/tenders/{t['id']}/invitations"
    assert [i["supplier_id"] for i in (await client.get(url, headers=officer.headers)).json()] == [
        str(invited.org_id)]
    assert (await client.get(url, headers=outsider.headers)).json() == []  # not told who else is invited
    assert (await client.get(url, headers=invited.headers)).json()[0]["supplier_id"] == str(invited.org_id)

    tf.to_tendering(fixed_clock, t)
    r = await client.post(f"/api/v1/tenders/{t['id']}/bids", json=tf.bid_payload(t, [100_000_00]),
                          headers={**outsider.headers, "Accept-Language": lang})
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert (body["field"], body["rule"]) == ("tender_id", "invitation") and words in body["detail"], body
    assert await db.fetchrow("SELECT 1 FROM bid WHERE supplier_id = $1", outsider.org_id) is None
    await tf.bid(client, invited, t, [100_000_00])

    # The list is closed once bids may start.
    r = await _invite(client, officer, t, outsider)
    assert r.status_code == 409 and r.json()["rule"] == "invitation_period_over", r.text


async def test_a_price_comparison_without_invitees_is_open_and_other_methods_take_none(client, settings,
                                                                                      fixed_clock):
    officer = await tf.officer(settings)
    anyone = await tf.supplier(settings)
    t = await tf.published(client, officer, method="price_comparison")
    other = await tf.published(client, officer)
    r = await _invite(client, officer, other, anyone)
    assert r.status_code == 409 and (r.json()["field"], r.json()["rule"]) == ("method", "method"), r.text
    r = await client.post(f"/api/v1/tenders/{t['id']}/invitations", json={"supplier_id": str(officer.org_id)},
                          headers=officer.headers)
    assert r.status_code in (400, 422) and (r.json()["field"], r.json()["rule"]) == ("supplier_id", "exists"), r.text
    assert (await _invite(client, tf.colleague(officer), t, anyone)).status_code == 403  # committee: not its role
    r = await _invite(client, officer, t, anyone)
    assert r.status_code == 201, r.text
    r = await _invite(client, anyone, t, anyone)
    assert r.status_code == 403, r.text
    assert (await db.fetchrow("SELECT count(*) AS n FROM tender_invitation"))["n"] == 1

    open_one = await tf.published(client, officer, method="price_comparison")
    tf.to_tendering(fixed_clock, open_one)
    await tf.bid(client, anyone, open_one, [100_000_00])

"""The opening takes a quorum (issue 17, finding 5): at least OPENING_QUORUM (2) distinct authorised people
of the buying agency confirm within OPENING_WINDOW_MINUTES (30); only then are the bids decrypted. One
confirmation, or one person confirming twice, opens nothing; confirmations that arrive together open the bids
exactly once. Time moves with the clock seam, concurrency is real concurrent requests."""

from __future__ import annotations

import asyncio
from uuid import UUID

from marketplace.core import db
from tests import factories
from tests.tenders import factories as tf


async def sealed_state(tender_id: str) -> tuple[int, int, int]:
    """(bids decrypted, opening entries, opening records) of a tender, read from the database."""
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM bid WHERE tender_id = $1 AND opened_content IS NOT NULL) AS decrypted,"
        " (SELECT count(*) FROM opening_entry WHERE tender_id = $1) AS entries,"
        " (SELECT count(*) FROM tender_opening WHERE tender_id = $1) AS records", UUID(tender_id))
    return row["decrypted"], row["entries"], row["records"]


async def ready(client, settings, fixed_clock, bidders: int = 2):
    officer = await tf.officer(settings)
    t = await tf.published(client, officer)
    tf.to_tendering(fixed_clock, t)
    for i in range(bidders):
        await tf.bid(client, await tf.supplier(settings), t, [100_000_00 + i])
    tf.at_opening_time(fixed_clock, t)
    return officer, tf.colleague(officer), t


async def test_one_confirmation_opens_nothing_the_quorum_opens_the_bids(client, settings, fixed_clock):
    officer, colleague, t = await ready(client, settings, fixed_clock)
    url = f"/api/v1/tenders/{t['id']}/opening"
    first = await client.post(url, headers=officer.headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["opened"], body["quorum"], body["window_minutes"], body["state"]) == (False, 2, 30, "opening")
    assert [c["user_id"] for c in body["confirmations"]] == [str(officer.user_id)]
    assert body["opening"] is None
    # the same person confirming again is still one person
    again = (await client.post(url, headers=officer.headers)).json()
    assert again["opened"] is False and len(again["confirmations"]) == 1
    assert await sealed_state(t["id"]) == (0, 0, 0)
    r = await client.get(url)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    progress = await client.get(f"{url}/confirmations", headers=colleague.headers)
    assert [c["user_id"] for c in progress.json()["confirmations"]] == [str(officer.user_id)]
    assert (await client.get(f"{url}/confirmations")).status_code == 401  # not public before the opening

    second = (await client.post(url, headers=colleague.headers)).json()
    assert second["opened"] is True and second["state"] == "evaluation"
    assert await sealed_state(t["id"]) == (2, 2, 1)
    published = (await client.get(url)).json()
    assert published == second["opening"] and published["bid_count"] == 2
    assert {c["user_id"] for c in published["confirmations"]} == {str(officer.user_id), str(colleague.user_id)}
    assert (await client.get(f"{url}/confirmations")).json()["opened"] is True  # public once opened
    events = await db.fetch("SELECT action, actor_user_id FROM audit_event WHERE entity_id = $1"
                            " AND action IN ('tender.opening_confirmed', 'tender.opened') ORDER BY id", t["id"])
    assert [e["action"] for e in events] == ["tender.opening_confirmed"] * 3 + ["tender.opened"]
    assert [e["actor_user_id"] for e in events] == [officer.user_id, officer.user_id, colleague.user_id,
                                                    colleague.user_id]


async def test_a_confirmation_lapses_after_the_window(client, settings, fixed_clock):
    officer, colleague, t = await ready(client, settings, fixed_clock)
    url = f"/api/v1/tenders/{t['id']}/opening"
    assert (await client.post(url, headers=officer.headers)).json()["opened"] is False
    fixed_clock.advance(minutes=settings.opening_window_minutes, seconds=1)
    late = (await client.post(url, headers=colleague.headers)).json()
    assert late["opened"] is False and [c["user_id"] for c in late["confirmations"]] == [str(colleague.user_id)]
    assert await sealed_state(t["id"]) == (0, 0, 0)
    fixed_clock.advance(minutes=settings.opening_window_minutes - 1)  # the colleague's still counts
    assert (await client.post(url, headers=officer.headers)).json()["opened"] is True


async def test_who_may_confirm(client, settings, fixed_clock):
    officer, colleague, t = await ready(client, settings, fixed_clock, bidders=1)
    url = f"/api/v1/tenders/{t['id']}/opening"
    other = await tf.officer(settings)
    supplier = await tf.supplier(settings)
    auditor = await factories.login(settings, "oversight", "auditor")
    for who, status in ((None, 401), (other, 403), (supplier, 403), (auditor, 403)):
        r = await client.post(url, headers=who.headers if who else {}, params={"lang": "qu"})
        assert r.status_code == status, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    assert await db.fetchrow("SELECT 1 FROM tender_opening_confirmation") is None


async def test_confirmations_arriving_together_open_the_bids_exactly_once(client, settings, fixed_clock):
    for _ in range(3):
        officer, colleague, t = await ready(client, settings, fixed_clock)
        admin = tf.long_lived(settings, await factories.login(settings, "agency", "agency_admin",
                                                              org_id=officer.org_id))
        url = f"/api/v1/tenders/{t['id']}/opening"
        # still 'tendering' (no sweep): the first to take the row lock also closes the tender
        responses = await asyncio.gather(*(client.post(url, headers=who.headers)
                                           for who in (officer, colleague, admin)))
        statuses = sorted((r.status_code, r.json().get("opened")) for r in responses)
        assert statuses == [(200, False), (200, True), (409, None)], [r.text for r in responses]
        refused = next(r for r in responses if r.status_code == 409).json()
        assert (refused["field"], refused["rule"]) == ("state", "not_allowed")
        assert await sealed_state(t["id"]) == (2, 2, 1)
        opening = (await client.get(url)).json()
        assert len(opening["confirmations"]) == 2 and opening["bid_count"] == 2
        fixed_clock.advance(days=1)


async def test_the_opening_waits_for_the_announced_opening_time(client, settings, fixed_clock):
    officer, colleague, t = await ready(client, settings, fixed_clock, bidders=1)
    url = f"/api/v1/tenders/{t['id']}/opening"
    tf.past_deadline(fixed_clock, t, minutes=1)  # the deadline passed; the opening is announced an hour later
    for lang, language in (("es", "es"), ("en", "en"), ("qu", "qu")):
        r = await client.post(url, headers=officer.headers, params={"lang": lang})
        assert r.status_code == 409 and r.headers["content-language"].startswith(language), r.text
        body = r.json()
        assert (body["field"], body["rule"]) == ("opening_time", "opening_time_not_reached")
    assert await db.fetchrow("SELECT 1 FROM tender_opening_confirmation") is None
    tf.at_opening_time(fixed_clock, t, seconds=-1)
    assert (await client.post(url, headers=officer.headers)).status_code == 409
    tf.at_opening_time(fixed_clock, t, seconds=0)
    assert (await client.post(url, headers=officer.headers)).json()["opened"] is False
    assert (await client.post(url, headers=colleague.headers)).json()["opened"] is True

"""Issue 17, point 8: an enquiry's published answer is never rewritten. Answering again publishes a
correction: a new, dated answer that names the one it corrects, shown with the whole history, and notified
to the asker (and bidders) through the existing notices. The database refuses to rewrite an answer."""

from __future__ import annotations

import asyncpg
import pytest

from marketplace.core import db
from tenders import notices
from tests.tenders import factories as tf
from tests.tenders.test_bidder_notices import _notices, drain


async def test_a_second_answer_is_a_dated_correction_with_the_first_kept(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    asker = await tf.supplier(settings)
    t = await tf.published(client, officer)
    url = f"/api/v1/tenders/{t['id']}/enquiries"
    q = (await client.post(url, json={"question": "¿Plazo de entrega?"}, headers=asker.headers)).json()
    r = await client.post(f"{url}/{q['id']}/answer", json={"answer": "30 días."}, headers=officer.headers)
    assert r.status_code == 200, r.text
    assert [(a["number"], a["answer"], a["corrects"]) for a in r.json()["answers"]] == [(1, "30 días.", None)]
    fixed_clock.advance(hours=2)
    r = await client.post(f"{url}/{q['id']}/answer", json={"answer": "45 días calendario."}, headers=officer.headers)
    assert r.status_code == 200, r.text

    shown = (await client.get(url)).json()[0]  # anyone, signed in or not, sees the history
    assert shown["answer"] == "45 días calendario."
    assert [(a["number"], a["answer"], a["corrects"]) for a in shown["answers"]] == [
        (1, "30 días.", None), (2, "45 días calendario.", 1)]
    first, second = shown["answers"]
    assert first["answered_at"] < second["answered_at"]
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit_event WHERE entity_id = $1"
                                                   " ORDER BY id", t["id"])]
    assert actions.count("tender.enquiry_answered") == 1 and actions.count("tender.enquiry_answer_corrected") == 1

    await drain(notices.CONSUMER)
    told = [n for n in await _notices(client, settings, asker) if n["kind"] == "enquiry_answered"]
    assert sorted((n["data"]["answer"], n["data"]["corrects"]) for n in told) == [
        ("30 días.", None), ("45 días calendario.", 1)]

    with pytest.raises(asyncpg.RaiseError):
        async with db.unit_of_work():
            await db.execute("UPDATE tender_enquiry_answer SET answer = 'reescrita'")
    assert [a["answer"] for a in (await client.get(url)).json()[0]["answers"]] == ["30 días.", "45 días calendario."]

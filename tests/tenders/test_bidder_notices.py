"""Bidder notices: suppliers hear what concerns their bids (an answer, an amendment with the date to reconfirm
by, the opening with their bid opened or excluded and why, the award, an appeal), once each, in the API and by
mail through a real SMTP server (aiosmtpd, in process)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from marketplace.core import db, outbox
from suppliers.alerts import service as alerts
from tenders import notices
from tests import waiting
from tests.harness import personas
from tests.suppliers.factories import active_supplier
from tests.suppliers.test_alerts import smtp  # noqa: F401  (the SMTP server fixture)
from tests.tenders import factories as tf
from tests.tenders.test_evaluation_http import Setup, draft, hdr, ok, points


def pen(cents: int) -> dict[str, object]:
    return {"amount": cents, "currency": "PEN"}


async def drain(name: str) -> None:
    async def drained() -> bool:
        result = await outbox.drain(name)
        assert not result.failed
        return not (result.held_back or result.busy)

    await waiting.until(drained, f"the {name} consumer to be drained")


async def _notices(client, settings, who) -> list[dict]:
    page = ok(await client.get(f"/api/v1/suppliers/{who.org_id}/notifications", params={"limit": 200},
                               headers=hdr(settings, who)))
    return page["items"]


def _kinds(items: list[dict]) -> list[str]:
    return sorted(n["kind"] for n in items)


async def test_bidders_hear_answers_amendments_opening_award_and_appeal(client, settings, fixed_clock,
                                                                      smtp):  # noqa: F811
    inbox, mail_settings = smtp
    p = await personas(settings, client)
    andes = await active_supplier(settings, ubigeo="080101", mype=True, name="Andes Servicios S.A.C.")
    lima = await active_supplier(settings, ubigeo="150101", name="Lima Facilities S.A.")
    cheap = await active_supplier(settings, ubigeo="040101", name="Arequipa Barato S.A.")
    watcher = await active_supplier(settings, ubigeo="080101", name="Cusco Observa E.I.R.L.")
    ok(await client.post(f"/api/v1/suppliers/{watcher.org_id}/alerts", json={"classification_prefixes": ["7210"]},
                         headers=watcher.headers), 201)

    s: Setup = await draft(client, settings, fixed_clock, p)
    ok(await client.post(f"/api/v1/tenders/{s.tender_id}/publish", headers=hdr(settings, p.officer)))
    await drain(alerts.CONSUMER)  # the watcher's tender alert

    # A question and its answer: the asker and the suppliers alerted of the tender hear it (nobody bid yet).
    fixed_clock.advance(days=1)
    q = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/enquiries", headers=hdr(settings, andes),
                             json={"question": "¿Se incluyen los materiales?"}), 201)
    ok(await client.post(f"/api/v1/tenders/{s.tender_id}/enquiries/{q['id']}/answer",
                         headers=hdr(settings, p.officer), json={"answer": "Sí, todos."}))
    await drain(notices.CONSUMER)  # (the worker drains as each change commits)

    # Three bids; a material amendment; two bidders reconfirm, the cheapest does not.
    fixed_clock.advance(days=4)
    bids = {}
    for i, (who, price) in enumerate(((andes, 11_000_000), (lima, 10_000_000), (cheap, 9_000_000))):
        receipt = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/bids", headers=hdr(settings, who),
                                       json={"lots": [{"lot_id": s.lot_ids[0], "price": pen(price)}]}), 201)
        bids[who.org_id] = receipt["bid_id"]
        s.bids[(i, 0)] = receipt["bid_id"]
    fixed_clock.advance(days=1)
    amended = ok(await client.patch(f"/api/v1/tenders/{s.tender_id}", headers=hdr(settings, p.officer), json={
        "description": "Incluye el mantenimiento de los techos.", "reason": "Se amplía el alcance"}))
    deadline = amended["submission_deadline"]
    for who in (andes, lima):
        ok(await client.post(f"/api/v1/bids/{bids[who.org_id]}/confirm", headers=hdr(settings, who)))

    # Opening: the unconfirmed bid is excluded; evaluation and award; the loser appeals.
    fixed_clock.set(s.deadline + timedelta(minutes=5))
    opening = await tf.open_with_quorum(client, settings, p, s.tender_id)  # the officer and a committee member
    assert [(e["supplier_id"], e["reason"]) for e in opening["excluded"]] == [(str(cheap.org_id), "not_reconfirmed")]
    await points(client, settings, p, s, 0, 0, 58, 38)
    await points(client, settings, p, s, 1, 0, 40, 20)
    award = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/awards", headers=hdr(settings, p.officer)),
               201)["lots"][0]["award"]
    assert award["supplier_id"] == str(andes.org_id)
    fixed_clock.advance(hours=2)
    ok(await client.post(f"/api/v1/awards/{award['id']}/appeals", headers=hdr(settings, lima),
                         json={"grounds": "El ganador no acreditó la experiencia exigida."}), 201)

    await drain(notices.CONSUMER)
    got = {who.org_id: await _notices(client, settings, who) for who in (andes, lima, cheap, watcher)}
    bidder_kinds = ["tender_amended", "tender_opened", "award_made", "appeal_filed"]
    assert _kinds(got[andes.org_id]) == sorted(["enquiry_answered", *bidder_kinds])
    assert _kinds(got[lima.org_id]) == sorted(bidder_kinds)
    assert _kinds(got[cheap.org_id]) == sorted(bidder_kinds)
    assert _kinds(got[watcher.org_id]) == ["enquiry_answered", "tender_published"]

    amendment = next(n for n in got[cheap.org_id] if n["kind"] == "tender_amended")
    assert amendment["subscription_id"] is None and amendment["data"]["material"] is True
    assert datetime.fromisoformat(amendment["data"]["reconfirm_by"]) == datetime.fromisoformat(deadline)
    openings = {who: next(n for n in got[who.org_id] if n["kind"] == "tender_opened")["data"]
                for who in (andes, lima, cheap)}
    assert (openings[cheap]["outcome"], openings[cheap]["reason"], openings[cheap]["bid_id"]) == (
        "excluded", "not_reconfirmed", bids[cheap.org_id])
    assert (openings[andes]["outcome"], openings[lima]["outcome"]) == ("opened", "opened")
    awards = {who: next(n for n in got[who.org_id] if n["kind"] == "award_made")["data"] for who in (andes, lima)}
    assert (awards[andes]["won"], awards[lima]["won"]) == (True, False)
    assert awards[lima]["supplier_name"] == "Andes Servicios S.A.C." and awards[lima]["value"] == 11_000_000

    # A redelivered event tells nobody twice. (Who is concerned is judged when the event is handled: the
    # answer, handled again now, would also reach the two bidders who bid after it.)
    rows = await db.fetch("SELECT id, topic, aggregate_type, aggregate_id, payload, created_at FROM outbox"
                          " WHERE topic = ANY($1::text[]) AND topic <> 'tender.enquiry_answered' ORDER BY id",
                          list(notices.TOPICS))
    assert {r["topic"] for r in rows} == set(notices.TOPICS) - {"appeal.decided", "tender.enquiry_answered"}
    async with db.unit_of_work():
        for r in rows:
            payload = r["payload"] if isinstance(r["payload"], dict) else json.loads(r["payload"])
            assert await notices.notify(outbox.OutboxEvent(id=r["id"], topic=r["topic"],
                                                           aggregate_type=r["aggregate_type"],
                                                           aggregate_id=r["aggregate_id"], payload=payload,
                                                           created_at=r["created_at"])) == 0

    # The mails: one per notice, in Spanish, to each supplier's address.
    sent = await alerts.send_pending_emails(mail_settings)
    assert sent == 15 == len(inbox.messages)
    to_cheap = [m for m in inbox.messages if m["To"] == cheap.email]
    subjects = sorted(str(m["Subject"]).strip() for m in to_cheap)
    assert subjects == sorted([
        "Modificación de un procedimiento en el que ofertó: Servicio de mantenimiento de locales escolares",
        "Se abrieron las ofertas: Servicio de mantenimiento de locales escolares",
        "Buena pro otorgada: Servicio de mantenimiento de locales escolares",
        "Se presentó una apelación: Servicio de mantenimiento de locales escolares"]), subjects
    bodies = {m["X-Notice-Kind"]: m.get_content() for m in to_cheap}
    assert "confirme o reemplace su oferta hasta el" in bodies["tender_amended"]
    assert "no fue reconfirmada después de una modificación sustancial" in bodies["tender_opened"]
    assert "Andes Servicios S.A.C." in bodies["award_made"] and "110,000.00" in bodies["award_made"]

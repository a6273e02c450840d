"""Enquiries (askers hidden from competitors and the public) and amendments (diff, who, why, extension,
reconfirmation of bids)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from marketplace.core import db
from tests.tenders import factories as tf


async def test_enquiries_hide_the_asker(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    other_officer = await tf.officer(settings)
    a = await tf.supplier(settings)
    b = await tf.supplier(settings)
    t = await tf.published(client, officer)
    url = f"/api/v1/tenders/{t['id']}/enquiries"
    assert (await client.post(url, json={"question": "¿Se acepta cemento tipo IP?"})).status_code == 401
    r = await client.post(url, json={"question": "¿Pregunta del comprador?"}, headers=officer.headers)
    assert r.status_code == 403
    r = await client.post(url, json={"question": "¿Se acepta cemento tipo IP?", "lot_id": t["lots"][0]["id"]},
                          headers=a.headers)
    assert r.status_code == 201, r.text
    q = r.json()
    assert q["number"] == 1 and q["mine"] is True
    r = await client.post(url, json={"question": "¿Plazo de entrega?"}, headers=b.headers)
    assert r.json()["number"] == 2

    public = (await client.get(url)).json()
    assert [e["question"] for e in public] == ["¿Se acepta cemento tipo IP?", "¿Plazo de entrega?"]
    assert all(e["asker_org_id"] is None and e["mine"] is False for e in public)
    as_b = (await client.get(url, headers=b.headers)).json()
    assert [e["mine"] for e in as_b] == [False, True] and all(e["asker_org_id"] is None for e in as_b)
    as_owner = (await client.get(url, headers=officer.headers)).json()
    assert as_owner[0]["asker_org_id"] == str(a.org_id)
    # nothing in the public answer names the asker
    assert str(a.org_id) not in (await client.get(url)).text

    answer_url = f"{url}/{q['id']}/answer"
    assert (await client.post(answer_url, json={"answer": "Sí"}, headers=other_officer.headers)).status_code == 403
    assert (await client.post(answer_url, json={"answer": "Sí"}, headers=a.headers)).status_code == 403
    r = await client.post(answer_url, json={"answer": "Sí, tipo IP o I."}, headers=officer.headers)
    assert r.status_code == 200 and r.json()["answer"] == "Sí, tipo IP o I."
    assert (await client.get(url)).json()[0]["answer"] == "Sí, tipo IP o I."

    # after the enquiry period: no more questions (answers still allowed before the deadline)
    tf.to_tendering(fixed_clock, t)
    r = await client.post(url, json={"question": "¿Tarde?"}, headers=a.headers)
    assert r.status_code == 409 and r.json()["type"].endswith("/deadline-passed")
    # draft tenders take no questions (hidden)
    d = await tf.draft(client, officer)
    r = await client.post(f"/api/v1/tenders/{d['id']}/enquiries", json={"question": "¿Hola?"}, headers=a.headers)
    assert r.status_code == 404


async def test_draft_edit_is_free_and_records_no_amendment(client, settings):
    officer = await tf.officer(settings)
    t = await tf.draft(client, officer)
    r = await client.patch(f"/api/v1/tenders/{t['id']}", headers=officer.headers,
                           json={"title": "Cemento y fierro", "method": "price_comparison",
                                 "lots": [tf.lot(title="Fierro", classification_code="30102200"), tf.lot()]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["title"] == "Cemento y fierro" and body["procurement_method"] == "selective"
    assert [x["title"] for x in body["lots"]] == ["Fierro", "Cemento Portland tipo I"]
    assert body["amendments"] == [] and body["amendment_count"] == 0


async def test_amendment_refusals(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    t = await tf.published(client, officer)
    url = f"/api/v1/tenders/{t['id']}"
    r = await client.patch(url, json={"title": "Otro"}, headers=officer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = await client.patch(url, json={"method": "direct_contracting", "reason": "cambio"}, headers=officer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "method"
    r = await client.patch(url, json={"lots": [tf.lot()], "reason": "cambio"}, headers=officer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lots"
    r = await client.patch(url, json={"lot_changes": [{"id": t["id"], "quantity": "5"}], "reason": "cambio"},
                           headers=officer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lot_changes[0].id"
    tf.past_deadline(fixed_clock, t)
    r = await client.patch(url, json={"title": "Tarde", "reason": "cambio"}, headers=officer.headers)
    assert r.status_code == 409


async def test_material_amendment_near_deadline_extends_it_and_bids_must_be_reconfirmed(client, settings,
                                                                                       fixed_clock):
    officer = await tf.officer(settings)
    a = await tf.supplier(settings)
    b = await tf.supplier(settings)
    t = await tf.published(client, officer)
    tf.to_tendering(fixed_clock, t)
    rec_a = await tf.bid(client, a, t, [100_00])
    rec_b = await tf.bid(client, b, t, [90_00])

    # a non-material change: nobody has to reconfirm
    r = await client.patch(f"/api/v1/tenders/{t['id']}", json={"title": "Cemento (corrección)", "reason": "Errata"},
                           headers=officer.headers)
    assert r.status_code == 200, r.text
    assert r.json()["amendments"][0]["material"] is False
    assert (await client.get(f"/api/v1/bids/{rec_a['bid_id']}", headers=a.headers)).json()[
        "needs_reconfirmation"] is False

    # one day before the deadline, the quantity changes: material, the deadline moves to now + 3 days
    deadline = datetime.fromisoformat(t["submission_deadline"])
    fixed_clock.set(deadline - timedelta(days=1))
    lot_id = t["lots"][0]["id"]
    r = await client.patch(f"/api/v1/tenders/{t['id']}", headers=officer.headers,
                           json={"lot_changes": [{"id": lot_id, "quantity": "1500"}],
                                 "reason": "Se amplía la meta física"})
    assert r.status_code == 200, r.text
    body = r.json()
    amendment = body["amendments"][1]
    assert amendment["material"] is True and amendment["reason"] == "Se amplía la meta física"
    assert amendment["changes"]["lots"][lot_id]["quantity"] == {"from": "1200.000", "to": "1500"}
    new_deadline = datetime.fromisoformat(body["submission_deadline"])
    assert new_deadline == fixed_clock.now() + timedelta(days=3)
    assert datetime.fromisoformat(body["opening_time"]) >= new_deadline
    assert body["lots"][0]["quantity"] == "1500.000"
    row = await db.fetchrow("SELECT actor_user_id FROM tender_amendment WHERE number = 2")
    assert row["actor_user_id"] == officer.user_id
    topics = [r["topic"] for r in await db.fetch("SELECT topic FROM outbox WHERE topic = 'tender.amended'")]
    assert len(topics) == 2

    for rec, who in ((rec_a, a), (rec_b, b)):
        bid = (await client.get(f"/api/v1/bids/{rec['bid_id']}", headers=who.headers)).json()
        assert bid["needs_reconfirmation"] is True
    # a competitor cannot confirm another's bid
    assert (await client.post(f"/api/v1/bids/{rec_a['bid_id']}/confirm", headers=b.headers)).status_code == 404
    r = await client.post(f"/api/v1/bids/{rec_a['bid_id']}/confirm", headers=a.headers)
    assert r.status_code == 200 and r.json()["needs_reconfirmation"] is False

    # the old deadline has passed but the new one has not: bids still come in
    fixed_clock.set(deadline + timedelta(hours=1))
    c = await tf.supplier(settings)
    await tf.bid(client, c, t, [95_00])
    t = (await client.get(f"/api/v1/tenders/{t['id']}")).json()
    opening = await tf.opened(client, fixed_clock, officer, t)
    assert {x["supplier_id"] for x in opening["lots"][0]["bids"]} == {str(a.org_id), str(c.org_id)}
    assert opening["excluded"] == [{"bid_id": rec_b["bid_id"], "supplier_id": str(b.org_id),
                                    "reason": "not_reconfirmed"}]
    # confirming after the deadline is refused
    r = await client.post(f"/api/v1/bids/{rec_b['bid_id']}/confirm", headers=b.headers)
    assert r.status_code == 409


async def test_documents_are_versioned_with_sha256(client, settings, fixed_clock):
    import hashlib

    officer = await tf.officer(settings)
    t = await tf.draft(client, officer)
    url = f"/api/v1/tenders/{t['id']}/documents"
    v1 = b"%PDF-1.4 bases v1"
    r = await client.post(url, files={"file": ("bases.pdf", v1, "application/pdf")}, data={"title": "Bases"},
                          headers=officer.headers)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["version"] == 1 and doc["sha256"] == hashlib.sha256(v1).hexdigest()
    # not visible before publication
    assert (await client.get(url)).status_code == 404
    r = await client.post(url, files={"file": ("x.pdf", b"x", "application/pdf")}, data={"title": "X"})
    assert r.status_code == 404
    t = (await client.post(f"/api/v1/tenders/{t['id']}/publish", headers=officer.headers)).json()
    assert [d["title"] for d in t["documents"]] == ["Bases"]

    # a new version after publication is a material amendment and needs a reason
    v2 = b"%PDF-1.4 bases v2"
    r = await client.post(url, files={"file": ("bases.pdf", v2, "application/pdf")},
                          data={"title": "Bases integradas", "document_id": doc["document_id"]},
                          headers=officer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = await client.post(url, files={"file": ("bases.pdf", v2, "application/pdf")},
                          data={"title": "Bases integradas", "document_id": doc["document_id"],
                                "reason": "Integración de consultas"}, headers=officer.headers)
    assert r.status_code == 201 and r.json()["version"] == 2
    listing = (await client.get(url)).json()
    assert [(d["version"], d["sha256"]) for d in listing] == [(1, hashlib.sha256(v1).hexdigest()),
                                                              (2, hashlib.sha256(v2).hexdigest())]
    latest = await client.get(f"{url}/{doc['document_id']}")
    assert latest.content == v2 and latest.headers["x-content-sha256"] == hashlib.sha256(v2).hexdigest()
    first = await client.get(f"{url}/{doc['document_id']}", params={"version": 1})
    assert first.content == v1
    t = (await client.get(f"/api/v1/tenders/{t['id']}")).json()
    assert t["amendment_count"] == 1 and t["amendments"][0]["material"] is True
    assert [d["version"] for d in t["documents"]] == [2]
    r = await client.post(url, files={"file": ("e.pdf", b"", "application/pdf")},
                          data={"title": "E", "reason": "x y z"},
                          headers=officer.headers)
    assert r.status_code == 422


async def test_amendment_matrix_and_a_later_deadline_is_not_material(client, settings, fixed_clock):
    from tests.harness import check_matrix, personas

    p = await personas(settings, client)
    t = await tf.published(client, p.officer)
    later = (datetime.fromisoformat(t["submission_deadline"]) + timedelta(days=2)).isoformat()
    opening = (datetime.fromisoformat(t["opening_time"]) + timedelta(days=2)).isoformat()
    body = {"submission_deadline": later, "opening_time": opening, "reason": "Más tiempo para ofertar"}
    await check_matrix(client, "PATCH", f"/api/v1/tenders/{t['id']}", {
        p.anonymous: 401, p.other_officer: 403, p.committee: 403, p.bidder: 403, p.auditor: 403, p.admin: 403,
        p.officer: 200,
    }, json=body)
    t = (await client.get(f"/api/v1/tenders/{t['id']}")).json()
    assert t["submission_deadline"] == later.replace("+00:00", "Z") or \
        datetime.fromisoformat(t["submission_deadline"]) == datetime.fromisoformat(later)
    assert t["amendments"][0]["material"] is False and t["amendment_count"] == 1


async def test_document_upload_refuses_odd_multipart_fields_with_422(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    other = await tf.officer(settings)
    t = await tf.published(client, officer)
    url = f"/api/v1/tenders/{t['id']}/documents"
    pdf = ("bases.pdf", b"%PDF-1.4 bases", "application/pdf")
    # `reason` given twice, or as a file: a clear 422 naming the field, not a 500.
    r = await client.post(url, files=[("file", pdf), ("reason", (None, "Primera razón")),
                                      ("reason", (None, "Segunda razón"))], data={"title": "Bases"},
                          headers=officer.headers)
    assert r.status_code == 422, r.text
    assert (r.json()["errors"][0]["field"], r.json()["errors"][0]["rule"]) == ("reason", "type")
    r = await client.post(url, files=[("file", pdf), ("reason", ("r.txt", b"Integracion", "text/plain"))],
                          data={"title": "Bases"}, headers=officer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason", r.text
    r = await client.post(url, files=[("file", pdf), ("title", (None, "A")), ("title", (None, "B"))],
                          data={"reason": "Integración de consultas"}, headers=officer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "title", r.text
    r = await client.post(url, files={"file": pdf}, data={"title": "Bases", "reason": "x" * 2001},
                          headers=officer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "length", r.text
    # Authorisation comes first: another agency's officer is refused even with a malformed form.
    r = await client.post(url, files=[("file", pdf), ("reason", (None, "a")), ("reason", (None, "b"))],
                          headers=other.headers)
    assert r.status_code == 403, r.text
    row = await db.fetchrow("SELECT count(*) AS n FROM tender_amendment WHERE tender_id = $1::uuid", t["id"])
    assert row["n"] == 0  # nothing was written


async def test_document_version_out_of_range_is_a_422_naming_it(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    t = await tf.draft(client, officer)
    url = f"/api/v1/tenders/{t['id']}/documents"
    r = await client.post(url, files={"file": ("bases.pdf", b"%PDF-1.4", "application/pdf")},
                          data={"title": "Bases"}, headers=officer.headers)
    doc = r.json()
    for bad in ("99999999999", "0", "-1"):
        r = await client.get(f"{url}/{doc['document_id']}", params={"version": bad}, headers=officer.headers)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["errors"][0]["field"] == "query.version", r.text
    r = await client.get(f"{url}/{doc['document_id']}", params={"version": 2**31 - 1}, headers=officer.headers)
    assert r.status_code == 404


async def suspend(org_id) -> None:
    """A registry decision (as the oversight body would take it over HTTP)."""
    from marketplace.core import clock
    from marketplace.core.actor import SYSTEM
    from suppliers import service as suppliers

    async with db.unit_of_work():
        await suppliers.change_status(actor=SYSTEM, org_id=org_id, status="suspended", reason="Sanción del tribunal",
                                      until=clock.now() + timedelta(days=30))


async def test_a_suspended_supplier_cannot_ask_questions(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    a = await tf.supplier(settings)
    t = await tf.published(client, officer)
    await suspend(a.org_id)
    r = await client.post(f"/api/v1/tenders/{t['id']}/enquiries", json={"question": "¿Se acepta cemento tipo IP?"},
                          headers=a.headers)
    assert r.status_code == 403 and r.json()["type"].endswith("supplier-suspended"), r.text
    assert (await client.get(f"/api/v1/tenders/{t['id']}/enquiries")).json() == []


async def test_a_document_amendment_is_recorded_like_any_material_amendment(client, settings, fixed_clock):
    officer = await tf.officer(settings)
    a = await tf.supplier(settings)
    t = await tf.published(client, officer)
    tf.to_tendering(fixed_clock, t)
    rec = await tf.bid(client, a, t, [100_00])
    deadline = datetime.fromisoformat(t["submission_deadline"])
    fixed_clock.set(deadline - timedelta(days=1))
    r = await client.post(f"/api/v1/tenders/{t['id']}/documents", headers=officer.headers,
                          files={"file": ("anexo.pdf", b"%PDF-1.4 anexo", "application/pdf")},
                          data={"title": "Anexo de especificaciones", "reason": "Se precisan especificaciones"})
    assert r.status_code == 201, r.text
    body = (await client.get(f"/api/v1/tenders/{t['id']}")).json()
    assert body["amendment_count"] == 1
    amendment = body["amendments"][0]
    assert amendment["material"] is True and amendment["reason"] == "Se precisan especificaciones"
    assert datetime.fromisoformat(body["submission_deadline"]) == fixed_clock.now() + timedelta(days=3)
    assert (await client.get(f"/api/v1/bids/{rec['bid_id']}", headers=a.headers)).json()["needs_reconfirmation"]
    row = await db.fetchrow("SELECT data FROM audit_event WHERE action = 'tender.amended'")
    data = row["data"] if isinstance(row["data"], dict) else json.loads(row["data"])
    assert data["bids_to_reconfirm"] == 1 and data["number"] == 1

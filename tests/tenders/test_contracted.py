"""A signed contract closes the procedure: its lot and tender move to contracted and can no longer be cancelled."""

from __future__ import annotations

from datetime import datetime, timedelta

import marketplace.contracts.jobs  # noqa: F401  (registers the contracts consumers)
import tenders.jobs  # noqa: F401  (registers the tenders consumers)
from marketplace.core import db
from tests.contracts.test_contracts_http import _drain
from tests.harness import personas
from tests.tenders.test_award_http import awarded, consent_job, lot_states, tender_state
from tests.tenders.test_evaluation_http import hdr, ok


async def test_a_signed_contract_moves_the_lot_and_tender_to_contracted(client, settings, fixed_clock):
    p = await personas(settings, client)
    s, award, a, b = await awarded(client, settings, fixed_clock, p)
    fixed_clock.set(datetime.fromisoformat(award["standstill_ends_at"]) + timedelta(seconds=1))
    assert await consent_job() == 1
    assert (await _drain("contracts.sources")).delivered == 1
    c = ok(await client.get("/api/v1/contracts", headers=hdr(settings, p.officer)))[0]
    ok(await client.post(f"/api/v1/contracts/{c['id']}/milestones", headers=hdr(settings, p.officer), json={
        "deliverable": "Servicio completo", "due_date": "2027-03-15", "amount": c["value"]}), 201)
    # Signing alone does not move the lot yet: the consumer does, after commit.
    ok(await client.post(f"/api/v1/contracts/{c['id']}/sign", headers=hdr(settings, p.officer), json={
        "period_start": "2026-12-01", "period_end": "2027-05-31",
        "guarantee": {"kind": "bank_letter", "amount": {"amount": c["value"]["amount"] // 10, "currency": "PEN"},
                      "issuer": "Banco de la Nación", "reference": "CF-2026-0001", "expires_on": "2027-06-30"}}))
    assert (await _drain("tenders.contracts")).delivered == 1
    assert await lot_states(s.tender_id) == ["contracted"]
    assert await tender_state(s.tender_id) == "contracted"
    got = ok(await client.get(f"/api/v1/tenders/{s.tender_id}", headers=hdr(settings, p.officer)))
    assert got["state"] == "contracted"
    # Delivered again (at least once): nothing changes, nothing fails.
    async with db.unit_of_work():
        await db.execute("UPDATE outbox_cursor SET last_txid = '0'::xid8, last_id = 0 WHERE consumer = $1",
                         "tenders.contracts")
    assert not (await _drain("tenders.contracts")).failed
    assert await lot_states(s.tender_id) == ["contracted"]
    # The procedure is closed: neither the tender nor its lot can be cancelled, so the consented award stands.
    for body in ({"reason": "Ya no se requiere"}, {"reason": "Ya no se requiere", "lot_id": award["lot_id"]}):
        r = await client.post(f"/api/v1/tenders/{s.tender_id}/cancel", headers=hdr(settings, p.officer), json=body)
        assert r.status_code == 409, r.text
    await consent_job()
    assert ok(await client.get(f"/api/v1/awards/{award['id']}"))["state"] == "consented"

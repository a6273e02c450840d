"""Tender alerts: a published tender reaches the matching subscribers once, as a notification in the API
and as one e-mail through a real SMTP server (aiosmtpd, in process)."""

from __future__ import annotations

import dataclasses
import email
import socket
import uuid
from email import policy

import pytest
from aiosmtpd.controller import Controller

from marketplace.core import db, outbox
from marketplace.core.auth import service as auth
from suppliers import jobs  # noqa: F401  (registers the 'suppliers.alerts' outbox consumer)
from suppliers.alerts import service as alerts
from tests import waiting
from tests.factories import PASSWORD
from tests.suppliers.factories import active_supplier, registered_supplier


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=port,
                                         mail_from="alertas@mercado-abierto.pe")
    finally:
        controller.stop()


async def publish(tender_id: uuid.UUID, *, title: str, lots: list[tuple[str, str]]) -> None:
    """A 'tender.published' event shaped as tenders.service emits it."""
    async with db.unit_of_work():
        await outbox.emit(topic="tender.published", aggregate_type="tender", aggregate_id=tender_id, payload={
            "tender_id": str(tender_id), "title": title, "agency_id": str(uuid.uuid4()),
            "submission_deadline": "2026-12-15T22:00:00+00:00",
            "lots": [{"id": str(uuid.uuid4()), "number": i + 1, "classification_code": code,
                      "delivery_ubigeo": ubigeo} for i, (code, ubigeo) in enumerate(lots)]})


async def drain() -> int:
    """Deliver the alert consumer's events. Transactions of other test processes on the same server hold
    the outbox watermark back for a moment, so drain until nothing is held back."""
    delivered = 0

    async def drained() -> bool:
        nonlocal delivered
        result = await outbox.drain(alerts.CONSUMER)
        assert not result.failed
        delivered += result.delivered
        return not (result.held_back or result.busy)

    await waiting.until(drained, "the alerts consumer to be drained")
    return delivered


async def _subscribe(client, sup, **body):
    r = await client.post(f"/api/v1/suppliers/{sup.org_id}/alerts", json=body, headers=sup.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_published_tender_alerts_matching_suppliers_once(client, settings, smtp):
    inbox, mail_settings = smtp
    cusco_it = await active_supplier(settings, ubigeo="080101", name="Cusco Sistemas E.I.R.L.")
    anywhere = await active_supplier(settings, ubigeo="150101")
    lima_only = await active_supplier(settings, ubigeo="150101")
    other_goods = await active_supplier(settings, ubigeo="080101")
    suspended = await registered_supplier(settings, status="suspended")
    lapsed = await registered_supplier(settings, status="suspended")  # its suspension ended: alerted again
    async with db.unit_of_work():
        await db.execute("UPDATE supplier SET suspended_until = now() - interval '1 day'"
                         " WHERE organisation_id = $1", lapsed.org_id)
        # the address of a user of the supplier (not its contact address)
        await auth.create_user(organisation_id=cusco_it.org_id, email="licitaciones@cuscosistemas.pe",
                               password=PASSWORD, roles=["bidder"])
    sub = await _subscribe(client, cusco_it, name="cómputo en Cusco", classification_prefixes=["4321"],
                           region_codes=["08", "03"], email="licitaciones@cuscosistemas.pe")
    await _subscribe(client, anywhere, classification_prefixes=["43"])
    await _subscribe(client, lima_only, classification_prefixes=["4321"], region_codes=["15"])
    await _subscribe(client, other_goods, classification_prefixes=["30"], region_codes=["08"])
    await _subscribe(client, suspended, classification_prefixes=["4321"])
    await _subscribe(client, lapsed, classification_prefixes=["4321"], region_codes=["08"])

    tender_id = uuid.uuid4()
    await publish(tender_id, title="Adquisición de computadoras para colegios",
                  lots=[("43211503", "080108"), ("44121600", "080101")])
    assert await drain() == 1

    assert await alerts.send_pending_emails(mail_settings) == 3
    recipients = sorted(rcpt for _, rcpts in inbox.envelopes for rcpt in rcpts)
    assert recipients == sorted(["licitaciones@cuscosistemas.pe", anywhere.email, lapsed.email])
    mail = next(m for m in inbox.messages if m["To"] == "licitaciones@cuscosistemas.pe")
    assert mail["Subject"] == "Nueva convocatoria: Adquisición de computadoras para colegios"
    assert mail["From"] == "alertas@mercado-abierto.pe"
    body = mail.get_content()
    assert "Wanchaq, Cusco, Cusco" in body and "43211503" in body
    assert "15 de diciembre de 2026, 17:00" in body  # the deadline in Lima time
    assert str(tender_id) in body

    # the same event delivered again, or the tender published again: nothing new, no second mail
    await publish(tender_id, title="Adquisición de computadoras para colegios", lots=[("43211503", "080108")])
    await drain()
    assert await alerts.send_pending_emails(mail_settings) == 0
    assert len(inbox.messages) == 3
    assert (await db.fetchrow("SELECT count(*) AS n FROM alert_notification"))["n"] == 3

    # listed in the API for the supplier, and only for it
    page = (await client.get(f"/api/v1/suppliers/{cusco_it.org_id}/notifications",
                             headers=cusco_it.headers)).json()
    assert page["total"] == 1 and page["unread"] == 1
    note = page["items"][0]
    assert note["tender_id"] == str(tender_id) and note["subscription_id"] == sub["id"]
    assert note["email_status"] == "sent" and note["emailed_at"]
    r = await client.post(f"/api/v1/suppliers/{cusco_it.org_id}/notifications/{note['id']}/read",
                          headers=cusco_it.headers)
    assert r.status_code == 200 and r.json()["read_at"]
    assert (await client.get(f"/api/v1/suppliers/{cusco_it.org_id}/notifications?unread=true",
                             headers=cusco_it.headers)).json()["total"] == 0
    r = await client.get(f"/api/v1/suppliers/{cusco_it.org_id}/notifications", headers=anywhere.headers)
    assert r.status_code == 403
    assert (await client.get(f"/api/v1/suppliers/{lima_only.org_id}/notifications",
                             headers=lima_only.headers)).json()["total"] == 0


async def test_refused_mail_is_retried_not_duplicated(client, settings, smtp):
    inbox, mail_settings = smtp
    sup = await active_supplier(settings)
    await _subscribe(client, sup, classification_prefixes=["72"])
    await publish(uuid.uuid4(), title="Obra de saneamiento", lots=[("72141100", "210101")])
    await drain()
    closed = dataclasses.replace(mail_settings, smtp_port=_free_port())  # nobody listens there
    assert await alerts.send_pending_emails(closed) == 0
    row = await db.fetchrow("SELECT email_status, email_attempts FROM alert_notification")
    assert row == {"email_status": "pending", "email_attempts": 1}
    assert await alerts.send_pending_emails(mail_settings) == 1
    assert await alerts.send_pending_emails(mail_settings) == 0
    assert len(inbox.messages) == 1
    # without SMTP configured nothing is claimed
    assert await alerts.send_pending_emails(settings) == 0


async def test_subscription_rules(client, settings):
    sup = await active_supplier(settings)
    other = await active_supplier(settings)
    url = f"/api/v1/suppliers/{sup.org_id}/alerts"
    r = await client.post(url, json={"region_codes": ["99"]}, headers=sup.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "region_codes[0]"
    r = await client.post(url, json={"classification_prefixes": ["computadoras"]}, headers=sup.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "classification_prefixes[0]"
    assert (await client.post(url, json={}, headers=other.headers)).status_code == 403
    created = await _subscribe(client, sup, region_codes=["08"])
    assert [s["id"] for s in (await client.get(url, headers=sup.headers)).json()] == [created["id"]]
    assert (await client.delete(f"{url}/{created['id']}", headers=sup.headers)).status_code == 204
    assert (await client.get(url, headers=sup.headers)).json() == []


async def test_a_title_with_line_breaks_does_not_jam_the_batch(client, settings, smtp):
    inbox, mail_settings = smtp
    sup = await active_supplier(settings)
    await _subscribe(client, sup, classification_prefixes=["72"])
    await publish(uuid.uuid4(), title="Obra de saneamiento\r\nBcc: otro@example.com", lots=[("72141100", "210101")])
    await publish(uuid.uuid4(), title="Mejoramiento de pistas", lots=[("72141100", "210101")])
    await drain()
    assert await alerts.send_pending_emails(mail_settings) == 2
    subjects = sorted(m["Subject"] for m in inbox.messages)
    assert subjects == ["Nueva convocatoria: Mejoramiento de pistas",
                        "Nueva convocatoria: Obra de saneamiento Bcc: otro@example.com"]
    assert all(m["Bcc"] is None for m in inbox.messages)
    assert [rcpts for _, rcpts in inbox.envelopes] == [[sup.email], [sup.email]]
    assert (await db.fetchrow("SELECT count(*) AS n FROM alert_notification WHERE email_status = 'sent'"))["n"] == 2


async def test_a_mail_claimed_by_a_killed_worker_is_sent_later(client, settings, smtp, fixed_clock):
    inbox, mail_settings = smtp
    sup = await active_supplier(settings)
    await _subscribe(client, sup, classification_prefixes=["72"])
    await publish(uuid.uuid4(), title="Obra de saneamiento", lots=[("72141100", "210101")])
    await drain()
    # a worker claimed the mail and died before talking to the SMTP server
    async with db.unit_of_work():
        await db.execute("UPDATE alert_notification SET email_status = 'sending', email_attempts = 1,"
                         " claimed_at = $1", fixed_clock.now())
    assert await alerts.send_pending_emails(mail_settings) == 0  # a fresh claim may be a live worker's
    fixed_clock.advance(seconds=alerts.STALE_CLAIM.total_seconds() + 1)
    assert await alerts.send_pending_emails(mail_settings) == 1
    assert len(inbox.messages) == 1
    row = await db.fetchrow("SELECT email_status, email_attempts FROM alert_notification")
    assert row == {"email_status": "sent", "email_attempts": 2}


async def test_alerts_go_only_to_the_suppliers_own_addresses(client, settings):
    sup = await active_supplier(settings)
    other = await active_supplier(settings)
    url = f"/api/v1/suppliers/{sup.org_id}/alerts"
    for stranger in ("victima@example.com", other.email):
        r = await client.post(url, json={"email": stranger}, headers=sup.headers)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "email" and r.json()["errors"][0]["rule"] == "own_address"
    assert (await db.fetchrow("SELECT count(*) AS n FROM alert_subscription"))["n"] == 0
    assert (await _subscribe(client, sup, email=sup.email.upper()))["email"] == sup.email.upper()
    async with db.unit_of_work():
        await auth.create_user(organisation_id=sup.org_id, email="compras@proveedor.pe", password=PASSWORD,
                               roles=["bidder"])
    assert (await _subscribe(client, sup, email="compras@proveedor.pe"))["email"] == "compras@proveedor.pe"

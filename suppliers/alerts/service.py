"""Tender alerts: suppliers subscribe to classification prefixes and regions; a published tender that
matches becomes one notification per subscription (listed in the API) and one e-mail.

Delivery, never twice:
1. The outbox consumer 'suppliers.alerts' (topic 'tender.published') inserts the notifications in the
   drain's transaction with ON CONFLICT (subscription_id, tender_id) DO NOTHING: a redelivered event, or a
   tender published twice, adds nothing.
2. `send_pending_emails` claims pending notifications (status 'sending', committed) before it talks to
   the SMTP server, then marks each 'sent'. A live claim is never taken by another sender, so no mail goes
   out twice; a refused delivery goes back to 'pending' for another attempt (up to MAX_ATTEMPTS, then
   'failed'). Only a claim left by a killed worker (older than STALE_CLAIM) is taken again: that mail may
   go out twice if the worker died after the SMTP server accepted it, which beats losing it.
   It runs as a job kicked after the consumer commits, and as a cron sweeper every minute.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from uuid import UUID

import msgspec
from babel.dates import format_datetime

from marketplace.core import audit, clock, db, geo, outbox, queue
from marketplace.core.actor import Actor, require, require_member
from marketplace.core.errors import InvalidInput, NotFound
from marketplace.core.i18n import N_, gettext
from suppliers.alerts.schemas import SubscriptionCreate
from suppliers.domain import good_standing_sql

log = logging.getLogger(__name__)

CONSUMER = "suppliers.alerts"
SEND_JOB = "send_alert_emails"
MAX_ATTEMPTS = 5
STALE_CLAIM = timedelta(minutes=15)   # a 'sending' claim this old belongs to a dead worker
RELEASE_AFTER = timedelta(minutes=5)  # a worker hands back the rest of its batch after this long
_encoder = msgspec.json.Encoder(order="sorted")


# ---------------------------------------------------------------------------------------------- subscriptions

def _member(actor: Actor, supplier_id: UUID) -> None:
    require(actor, "supplier", "supplier_admin", "bidder")
    require_member(actor, supplier_id)


async def subscribe(*, actor: Actor, supplier_id: UUID, data: SubscriptionCreate) -> dict[str, Any]:
    _member(actor, supplier_id)
    sup = await db.fetchrow("SELECT contact_email FROM supplier WHERE organisation_id = $1", supplier_id)
    if sup is None:
        raise NotFound(N_("Supplier not found"))
    for i, code in enumerate(data.region_codes):
        if geo.region(code) is None:
            raise InvalidInput(N_("{code} is not a Peruvian region code"), field=f"region_codes[{i}]",
                               rule="region", params={"code": code})
    email = data.email or sup["contact_email"]
    if not email:
        raise InvalidInput(N_("Give an e-mail address for the alerts"), field="email", rule="required")
    # Alerts go only to the supplier's own addresses: the platform must not be a way to mail third parties.
    if data.email and not (
            (sup["contact_email"] or "").lower() == data.email.lower()
            or await db.fetchrow("SELECT 1 FROM app_user WHERE organisation_id = $1 AND active"
                                 " AND lower(email) = lower($2)", supplier_id, data.email)):
        raise InvalidInput(N_("Alerts go to the supplier's contact address or one of its users' addresses"),
                           field="email", rule="own_address")
    row = await db.fetchrow(
        "INSERT INTO alert_subscription (supplier_id, name, classification_prefixes, region_codes, email,"
        " created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *", supplier_id, data.name,
        sorted(set(data.classification_prefixes)), sorted(set(data.region_codes)), email, clock.now())
    assert row is not None
    await audit.record(actor=actor, action="alert.subscribed", entity_type="alert_subscription",
                       entity_id=row["id"], data={"classification_prefixes": row["classification_prefixes"],
                                                  "region_codes": row["region_codes"]})
    return row


async def list_subscriptions(*, actor: Actor, supplier_id: UUID) -> list[dict[str, Any]]:
    _member(actor, supplier_id)
    return await db.fetch("SELECT * FROM alert_subscription WHERE supplier_id = $1 AND active"
                          " ORDER BY created_at", supplier_id)


async def unsubscribe(*, actor: Actor, supplier_id: UUID, subscription_id: UUID) -> None:
    _member(actor, supplier_id)
    status = await db.execute("UPDATE alert_subscription SET active = false WHERE id = $1 AND supplier_id = $2"
                              " AND active", subscription_id, supplier_id)
    if status.endswith(" 0"):
        raise NotFound(N_("Alert subscription not found"))
    await audit.record(actor=actor, action="alert.unsubscribed", entity_type="alert_subscription",
                       entity_id=subscription_id)


async def list_notifications(*, actor: Actor, supplier_id: UUID, unread: bool = False, limit: int = 50,
                             offset: int = 0) -> tuple[list[dict[str, Any]], int, int]:
    _member(actor, supplier_id)
    filt = " AND read_at IS NULL" if unread else ""
    counts = await db.fetchrow(
        "SELECT count(*) AS total, count(*) FILTER (WHERE read_at IS NULL) AS unread FROM alert_notification"
        " WHERE supplier_id = $1", supplier_id)
    rows = await db.fetch(f"SELECT * FROM alert_notification WHERE supplier_id = $1{filt}"
                          f" ORDER BY created_at DESC, id LIMIT {int(limit)} OFFSET {int(offset)}", supplier_id)
    total = counts["unread"] if unread else counts["total"]
    return rows, total, counts["unread"]


async def mark_read(*, actor: Actor, supplier_id: UUID, notification_id: UUID) -> dict[str, Any]:
    _member(actor, supplier_id)
    row = await db.fetchrow(
        "UPDATE alert_notification SET read_at = coalesce(read_at, $3) WHERE id = $1 AND supplier_id = $2"
        " RETURNING *", notification_id, supplier_id, clock.now())
    if row is None:
        raise NotFound(N_("Notification not found"))
    return row


# ---------------------------------------------------------------------------------------------- matching

def tender_terms(payload: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The classification codes and delivery ubigeos of a 'tender.published' payload: its lots', or the flat
    `classification_codes` / `delivery_ubigeos` lists."""
    codes = list(payload.get("classification_codes") or [])
    ubigeos = list(payload.get("delivery_ubigeos") or [])
    for lot in payload.get("lots") or []:
        if lot.get("classification_code"):
            codes.append(lot["classification_code"])
        if lot.get("delivery_ubigeo"):
            ubigeos.append(lot["delivery_ubigeo"])
    return sorted(set(codes)), sorted(set(ubigeos))


# Subscriptions of active suppliers whose prefixes and regions (empty: any) meet the tender's terms.
_MATCH = f"""
INSERT INTO alert_notification (subscription_id, supplier_id, tender_id, title, data, email, created_at)
SELECT a.id, a.supplier_id, $1, $2, $3::jsonb, a.email, $6
FROM alert_subscription a JOIN supplier s ON s.organisation_id = a.supplier_id
WHERE a.active
  AND {good_standing_sql("s", "$6")}
  AND (cardinality(a.classification_prefixes) = 0 OR EXISTS (
        SELECT 1 FROM unnest(a.classification_prefixes) p, unnest($4::text[]) c WHERE starts_with(c, p)))
  AND (cardinality(a.region_codes) = 0 OR a.region_codes && $5::text[])
ON CONFLICT (subscription_id, tender_id) DO NOTHING
RETURNING id
"""


async def notify_tender(payload: dict[str, Any]) -> int:
    """Create the notifications for one published tender; returns how many are new."""
    codes, ubigeos = tender_terms(payload)
    regions = sorted({u[:2] for u in ubigeos if isinstance(u, str) and len(u) >= 2})
    data = {"submission_deadline": payload.get("submission_deadline"), "classification_codes": codes,
            "delivery_ubigeos": ubigeos, "agency_id": payload.get("agency_id"), "ocid": payload.get("ocid")}
    rows = await db.fetch(_MATCH, UUID(str(payload["tender_id"])), str(payload.get("title") or ""),
                          _encoder.encode(data).decode(), codes, regions, clock.now())
    return len(rows)


@outbox.consumer(CONSUMER, topics=["tender.published"])
async def handle(events: list[outbox.OutboxEvent]) -> None:
    created = 0
    for ev in events:
        if "tender_id" not in ev.payload:
            log.warning("tender.published event %s has no tender_id; skipped", ev.id)
            continue
        created += await notify_tender(ev.payload)
    if created:
        queue.enqueue_after_commit(SEND_JOB)


# ---------------------------------------------------------------------------------------------- e-mail

def _header(value: str) -> str:
    """A header value on one line: a title with line breaks (or other control characters) would make
    EmailMessage refuse the header."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())


def _message(row: dict[str, Any], mail_from: str, base_url: str) -> EmailMessage:
    data = row["data"]
    if isinstance(data, str):
        data = msgspec.json.decode(data)
    deadline = ""
    if data.get("submission_deadline"):
        try:
            when = datetime.fromisoformat(data["submission_deadline"])
            deadline = format_datetime(when, "d 'de' MMMM 'de' y, HH:mm", tzinfo="America/Lima", locale="es_PE")
        except (ValueError, TypeError):
            deadline = str(data["submission_deadline"])
    places = ", ".join(geo.display_name(u) for u in data.get("delivery_ubigeos", []) if geo.is_valid_ubigeo(u))
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = _header(row["email"])
    msg["Subject"] = gettext("New tender: {title}", "es", title=_header(row["title"]))
    msg["Message-ID"] = make_msgid(idstring=f"alert-{row['id']}", domain=mail_from.rpartition("@")[2] or None)
    msg["X-Alert-Id"] = str(row["id"])
    lines = [
        gettext("A tender matching your alert has been published.", "es"),
        "",
        row["title"],
        gettext("Classification: {codes}", "es", codes=", ".join(data.get("classification_codes", []))),
    ]
    if places:
        lines.append(gettext("Place of delivery: {places}", "es", places=places))
    if deadline:
        lines.append(gettext("Bids until: {deadline} (Lima time)", "es", deadline=deadline))
    lines += ["", f"{base_url.rstrip('/')}/api/v1/tenders/{row['tender_id']}"]
    msg.set_content("\n".join(lines))
    return msg


def _deliver(host: str, port: int, message: EmailMessage) -> None:
    with smtplib.SMTP(host, port, timeout=15) as smtp:
        smtp.send_message(message)


async def send_pending_emails(settings: Any, *, limit: int = 100) -> int:
    """Send pending alert e-mails; returns how many were sent. Nothing happens without SMTP_HOST.

    Each mail is claimed ('sending', claimed_at) and the claim committed before the SMTP conversation. A claim
    older than STALE_CLAIM was left by a worker that died mid-batch: it is taken again (counting an attempt),
    so a killed worker delays mails but never loses them. A worker releases what is left of its own batch
    once it has worked on it for RELEASE_AFTER, so a live worker's claims never look stale. Any failure to
    build or deliver one mail is that mail's: it goes back to 'pending' (or 'failed' after MAX_ATTEMPTS)
    and the rest of the batch is still sent.
    """
    if not settings.smtp_host:
        return 0
    started = clock.now()
    async with db.unit_of_work():  # claim first, and commit the claim: a claimed mail is not resent
        await db.execute(
            "UPDATE alert_notification SET email_status = 'failed' WHERE email_status = 'sending'"
            " AND (claimed_at IS NULL OR claimed_at < $1) AND email_attempts >= $2", started - STALE_CLAIM,
            MAX_ATTEMPTS)
        rows = await db.fetch(
            "UPDATE alert_notification SET email_status = 'sending', email_attempts = email_attempts + 1,"
            " claimed_at = $2"
            " WHERE id IN (SELECT id FROM alert_notification WHERE email_status = 'pending'"
            "                 OR (email_status = 'sending' AND (claimed_at IS NULL OR claimed_at < $3))"
            "              ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING *",
            limit, started, started - STALE_CLAIM)
    sent = 0
    for i, row in enumerate(rows):
        if clock.now() - started > RELEASE_AFTER:
            rest = [r["id"] for r in rows[i:]]
            async with db.unit_of_work():
                await db.execute(
                    "UPDATE alert_notification SET email_status = 'pending', email_attempts = email_attempts - 1"
                    " WHERE id = ANY($1::uuid[]) AND email_status = 'sending'", rest)
            break
        try:
            message = _message(row, settings.mail_from, settings.public_base_url)
            await asyncio.to_thread(_deliver, settings.smtp_host, settings.smtp_port, message)
        except Exception as exc:  # noqa: BLE001  (one bad mail must not strand the rest of the batch)
            status = "pending" if row["email_attempts"] < MAX_ATTEMPTS else "failed"
            log.warning("alert mail %s to %s not delivered (%r); now %s", row["id"], row["email"], exc, status)
            async with db.unit_of_work():
                await db.execute("UPDATE alert_notification SET email_status = $2 WHERE id = $1", row["id"], status)
            continue
        async with db.unit_of_work():
            await db.execute("UPDATE alert_notification SET email_status = 'sent', emailed_at = $2 WHERE id = $1",
                             row["id"], clock.now())
        sent += 1
    return sent

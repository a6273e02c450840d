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

Bidder notices go the same way: what concerns a supplier's bids (an amendment, with the date to reconfirm by
when it is material; an answer to an enquiry; the opening, with its bid opened or excluded and why; the award;
an appeal and its decision) becomes a notification of its `kind` (NOTICE_KINDS), one per supplier and source
event (`event_key`), listed with the alerts and mailed by the same sender to the supplier's contact address.
Tenders decide who is told and what (tenders/notices.py, an outbox consumer); this module stores and mails.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from uuid import UUID

import msgspec
from babel.dates import format_datetime, get_timezone
from babel.numbers import format_currency
from piccolo.columns.combination import WhereRaw

from marketplace.core import audit, clock, db, geo, outbox, queue
from marketplace.core.actor import Actor, require, require_member
from marketplace.core.errors import InvalidInput, NotFound
from marketplace.core.i18n import N_, gettext
from marketplace.core.tables import User
from suppliers.alerts import queries
from suppliers.alerts.schemas import NotificationPage, NotificationRead, SubscriptionCreate, SubscriptionRead
from suppliers.alerts.tables import AlertNotification, AlertSubscription
from suppliers.tables import Supplier

log = logging.getLogger(__name__)

CONSUMER = "suppliers.alerts"
SEND_JOB = "send_alert_emails"
MAX_ATTEMPTS = 5
STALE_CLAIM = timedelta(minutes=15)   # a 'sending' claim this old belongs to a dead worker
RELEASE_AFTER = timedelta(minutes=5)  # a worker hands back the rest of its batch after this long
_encoder = msgspec.json.Encoder(order="sorted")
_data = msgspec.json.Decoder(dict[str, Any])
LIMA = get_timezone("America/Lima")


# ---------------------------------------------------------------------------------------------- subscriptions

def _member(actor: Actor, supplier_id: UUID) -> None:
    require(actor, "supplier", "supplier_admin", "bidder")
    require_member(actor, supplier_id)


def _subscription(row: dict[str, Any]) -> SubscriptionRead:
    return SubscriptionRead(id=row["id"], supplier_id=row["supplier_id"], name=row["name"],
                            classification_prefixes=list(row["classification_prefixes"]),
                            region_codes=list(row["region_codes"]), email=row["email"], active=row["active"],
                            created_at=row["created_at"])


def _notification(row: dict[str, Any]) -> NotificationRead:
    return NotificationRead(id=row["id"], subscription_id=row["subscription_id"], tender_id=row["tender_id"],
                            title=row["title"], data=_data.decode(row["data"]), email_status=row["email_status"],
                            emailed_at=row["emailed_at"], read_at=row["read_at"], created_at=row["created_at"],
                            kind=row["kind"])


async def subscribe(*, actor: Actor, supplier_id: UUID, data: SubscriptionCreate) -> SubscriptionRead:
    _member(actor, supplier_id)
    sup = await Supplier.select(Supplier.contact_email).where(Supplier.organisation_id == supplier_id).first()
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
            or await User.exists().where((User.organisation == supplier_id) & User.active.eq(True)
                                         & WhereRaw('lower("app_user"."email") = lower({})', data.email))):
        raise InvalidInput(N_("Alerts go to the supplier's contact address or one of its users' addresses"),
                           field="email", rule="own_address")
    (row,) = await AlertSubscription.insert(AlertSubscription(
        supplier_id=supplier_id, name=data.name, classification_prefixes=sorted(set(data.classification_prefixes)),
        region_codes=sorted(set(data.region_codes)), email=email, created_at=clock.now(),
    )).returning(*AlertSubscription.all_columns())
    await audit.record(actor=actor, action="alert.subscribed", entity_type="alert_subscription",
                       entity_id=row["id"], data={"classification_prefixes": row["classification_prefixes"],
                                                  "region_codes": row["region_codes"]})
    return _subscription(row)


async def list_subscriptions(*, actor: Actor, supplier_id: UUID) -> list[SubscriptionRead]:
    _member(actor, supplier_id)
    rows = await AlertSubscription.select().where(
        (AlertSubscription.supplier_id == supplier_id) & AlertSubscription.active.eq(True),
    ).order_by(AlertSubscription.created_at)
    return [_subscription(r) for r in rows]


async def unsubscribe(*, actor: Actor, supplier_id: UUID, subscription_id: UUID) -> None:
    _member(actor, supplier_id)
    ended = await AlertSubscription.update({AlertSubscription.active: False}).where(
        (AlertSubscription.id == subscription_id) & (AlertSubscription.supplier_id == supplier_id)
        & AlertSubscription.active.eq(True),
    ).returning(AlertSubscription.id)
    if not ended:
        raise NotFound(N_("Alert subscription not found"))
    await audit.record(actor=actor, action="alert.unsubscribed", entity_type="alert_subscription",
                       entity_id=subscription_id)


async def list_notifications(*, actor: Actor, supplier_id: UUID, unread: bool = False, limit: int = 50,
                             offset: int = 0) -> NotificationPage:
    _member(actor, supplier_id)
    mine = AlertNotification.supplier_id == supplier_id
    not_read = AlertNotification.read_at.is_null()
    unread_count = await AlertNotification.count().where(mine & not_read)
    total = unread_count if unread else await AlertNotification.count().where(mine)
    rows = await AlertNotification.select().where(mine & not_read if unread else mine).order_by(
        AlertNotification.created_at, ascending=False).order_by(AlertNotification.id).limit(limit).offset(offset)
    return NotificationPage(items=[_notification(r) for r in rows], total=total, unread=unread_count, limit=limit,
                            offset=offset)


async def mark_read(*, actor: Actor, supplier_id: UUID, notification_id: UUID) -> NotificationRead:
    _member(actor, supplier_id)
    mine = (AlertNotification.id == notification_id) & (AlertNotification.supplier_id == supplier_id)
    await AlertNotification.update({AlertNotification.read_at: clock.now()}).where(
        mine & AlertNotification.read_at.is_null())  # the first reading is kept
    row = await AlertNotification.select().where(mine).first()
    if row is None:
        raise NotFound(N_("Notification not found"))
    return _notification(row)


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


async def notify_tender(payload: dict[str, Any]) -> int:
    """Create the notifications for one published tender; returns how many are new."""
    codes, ubigeos = tender_terms(payload)
    regions = sorted({u[:2] for u in ubigeos if isinstance(u, str) and len(u) >= 2})
    data = {"submission_deadline": payload.get("submission_deadline"), "classification_codes": codes,
            "delivery_ubigeos": ubigeos, "agency_id": payload.get("agency_id"), "ocid": payload.get("ocid")}
    return await queries.notify_matching(
        tender_id=UUID(str(payload["tender_id"])), title=str(payload.get("title") or ""),
        data=_encoder.encode(data).decode(), codes=codes, regions=regions, now=clock.now())


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


# ---------------------------------------------------------------------------------------------- bidder notices

TENDER_PUBLISHED = "tender_published"  # a tender alert (a subscription matched)
NOTICE_KINDS = ("tender_amended", "enquiry_answered", "tender_opened", "award_made", "appeal_filed",
                "appeal_decided")


async def notify_suppliers(*, kind: str, tender_id: UUID, title: str, event_key: str,
                           notices: dict[UUID, dict[str, Any]]) -> int:
    """Tell each supplier of `notices` (supplier id -> what its notice says) about `kind`, once per
    `event_key` (the source event: a redelivered event adds nothing); returns how many notices are new and
    kicks the mail job after the commit when there are."""
    if kind not in NOTICE_KINDS:
        raise ValueError(kind)
    if not notices:
        return 0
    created = await queries.notify_suppliers(
        tender_id=tender_id, title=title, kind=kind, event_key=event_key, now=clock.now(),
        notices={sid: _encoder.encode(data).decode() for sid, data in notices.items()})
    if created:
        queue.enqueue_after_commit(SEND_JOB)
    return created


async def alerted_suppliers(*, tender_id: UUID) -> set[UUID]:
    """The suppliers a tender alert told of this tender (they may be preparing a bid)."""
    rows = await AlertNotification.select(AlertNotification.supplier_id).where(
        (AlertNotification.tender_id == tender_id) & (AlertNotification.kind == TENDER_PUBLISHED))
    return {r["supplier_id"] for r in rows}


# ---------------------------------------------------------------------------------------------- e-mail

def _header(value: str) -> str:
    """A header value on one line: a title with line breaks (or other control characters) would make
    EmailMessage refuse the header."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())


def _lima(value: Any) -> str:
    """An RFC 3339 time as a Lima reader writes it (the text itself when it is not one)."""
    try:
        return format_datetime(datetime.fromisoformat(str(value)), "d 'de' MMMM 'de' y, HH:mm", tzinfo=LIMA,
                               locale="es_PE")
    except (ValueError, TypeError):
        return str(value)


_SUBJECTS = {
    "tender_amended": N_("Amendment to a tender you bid on: {title}"),
    "enquiry_answered": N_("A question was answered: {title}"),
    "tender_opened": N_("The bids were opened: {title}"),
    "award_made": N_("Award made: {title}"),
    "appeal_filed": N_("An appeal was filed: {title}"),
    "appeal_decided": N_("An appeal was decided: {title}"),
}
_EXCLUSIONS = {
    "not_reconfirmed": N_("it was not reconfirmed after a material amendment"),
    "corrupt": N_("its sealed content could not be read"),
}
_DECISIONS = {"upheld": N_("upheld"), "dismissed": N_("dismissed")}


def _notice_lines(kind: str, data: dict[str, Any], lang: str) -> list[str]:
    """The body of a bidder notice, in `lang`."""
    def t(msgid: str, **params: Any) -> str:
        return gettext(msgid, lang, **params)

    lot = data.get("lot_number", "?")
    if kind == "tender_amended":
        lines = [t(N_("Amendment {number}: {reason}"), number=data.get("number", "?"), reason=data.get("reason", ""))]
        if data.get("reconfirm_by"):
            lines.append(t(N_("The amendment is material: confirm or replace your bid by {deadline} (Lima time), or"
                              " it will be excluded at the opening."), deadline=_lima(data["reconfirm_by"])))
        else:
            lines.append(t(N_("Your bid stands; nothing needs doing.")))
        return lines
    if kind == "enquiry_answered":
        return [t(N_("Question {number}: {question}"), number=data.get("number", "?"),
                  question=data.get("question", "")),
                t(N_("Answer: {answer}"), answer=data.get("answer", ""))]
    if kind == "tender_opened":
        if data.get("outcome") == "excluded":
            reason = str(data.get("reason", ""))
            return [t(N_("Your bid was excluded at the opening: {reason}."),
                      reason=t(_EXCLUSIONS[reason]) if reason in _EXCLUSIONS else reason)]
        return [t(N_("Your bid was opened and goes to the evaluation."))]
    if kind == "award_made":
        value = format_currency(int(data.get("value") or 0) / 100, "PEN", locale="es_PE")
        lines = [t(N_("Your bid won lot {number}."), number=lot) if data.get("won") else
                 t(N_("Lot {number} was awarded to {supplier} for {value}."), number=lot,
                   supplier=data.get("supplier_name", ""), value=value)]
        if data.get("standstill_ends_at"):
            lines.append(t(N_("The period to appeal ends on {ends} (Lima time)."),
                           ends=_lima(data["standstill_ends_at"])))
        return lines
    if kind == "appeal_filed":
        return [t(N_("An appeal was filed against the award of lot {number}."), number=lot)]
    if kind == "appeal_decided":
        decision = str(data.get("decision", ""))
        return [t(N_("The appeal against the award of lot {number} was {decision}."), number=lot,
                  decision=t(_DECISIONS[decision]) if decision in _DECISIONS else decision)]
    return []


def _message(mail: queries.ClaimedMail, mail_from: str, base_url: str) -> EmailMessage:
    if mail.kind != TENDER_PUBLISHED:
        return _notice_message(mail, mail_from, base_url)
    data = mail.data
    deadline = _lima(data["submission_deadline"]) if data.get("submission_deadline") else ""
    places = ", ".join(geo.display_name(u) for u in data.get("delivery_ubigeos", []) if geo.is_valid_ubigeo(u))
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = _header(mail.email)
    msg["Subject"] = gettext("New tender: {title}", "es", title=_header(mail.title))
    msg["Message-ID"] = make_msgid(idstring=f"alert-{mail.id}", domain=mail_from.rpartition("@")[2] or None)
    msg["X-Alert-Id"] = str(mail.id)
    lines = [
        gettext("A tender matching your alert has been published.", "es"),
        "",
        mail.title,
        gettext("Classification: {codes}", "es", codes=", ".join(data.get("classification_codes", []))),
    ]
    if places:
        lines.append(gettext("Place of delivery: {places}", "es", places=places))
    if deadline:
        lines.append(gettext("Bids until: {deadline} (Lima time)", "es", deadline=deadline))
    lines += ["", f"{base_url.rstrip('/')}/api/v1/tenders/{mail.tender_id}"]
    msg.set_content("\n".join(lines))
    return msg


def _notice_message(mail: queries.ClaimedMail, mail_from: str, base_url: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = _header(mail.email)
    msg["Subject"] = gettext(_SUBJECTS[mail.kind], "es", title=_header(mail.title))
    msg["Message-ID"] = make_msgid(idstring=f"notice-{mail.id}", domain=mail_from.rpartition("@")[2] or None)
    msg["X-Alert-Id"] = str(mail.id)
    msg["X-Notice-Kind"] = mail.kind
    lines = [mail.title, "", *_notice_lines(mail.kind, mail.data, "es"), "",
             f"{base_url.rstrip('/')}/api/v1/tenders/{mail.tender_id}"]
    msg.set_content("\n".join(lines))
    return msg


def _deliver(settings: Any, message: EmailMessage) -> None:
    """One message to SMTP_HOST: over TLS from the start (SMTP_SECURITY=tls) or upgraded (starttls), the
    server's certificate checked against the system's CAs; signed in when SMTP_USERNAME is set."""
    host, port, security = settings.smtp_host, settings.smtp_port, settings.smtp_security
    context = ssl.create_default_context() if security != "none" else None
    smtp = (smtplib.SMTP_SSL(host, port, timeout=15, context=context) if security == "tls"
            else smtplib.SMTP(host, port, timeout=15))
    with smtp:
        if security == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
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
        await AlertNotification.update({AlertNotification.email_status: "failed"}).where(
            (AlertNotification.email_status == "sending")
            & (AlertNotification.claimed_at.is_null() | (AlertNotification.claimed_at < started - STALE_CLAIM))
            & (AlertNotification.email_attempts >= MAX_ATTEMPTS))
        mails = await queries.claim_pending_mails(limit=limit, now=started, stale_before=started - STALE_CLAIM)
    sent = 0
    for i, mail in enumerate(mails):
        if clock.now() - started > RELEASE_AFTER:
            async with db.unit_of_work():  # hand the rest back, uncounted
                await AlertNotification.update({
                    AlertNotification.email_status: "pending",
                    AlertNotification.email_attempts: AlertNotification.email_attempts - 1,
                }).where(AlertNotification.id.is_in([m.id for m in mails[i:]])
                         & (AlertNotification.email_status == "sending"))
            break
        try:
            message = _message(mail, settings.mail_from, settings.public_base_url)
            await asyncio.to_thread(_deliver, settings, message)
        except Exception as exc:  # noqa: BLE001  (one bad mail must not strand the rest of the batch)
            status = "pending" if mail.email_attempts < MAX_ATTEMPTS else "failed"
            log.warning("alert mail %s to %s not delivered (%r); now %s", mail.id, mail.email, exc, status)
            async with db.unit_of_work():
                await AlertNotification.update({AlertNotification.email_status: status}).where(
                    AlertNotification.id == mail.id)
            continue
        async with db.unit_of_work():
            await AlertNotification.update({
                AlertNotification.email_status: "sent", AlertNotification.emailed_at: clock.now(),
            }).where(AlertNotification.id == mail.id)
        sent += 1
    return sent

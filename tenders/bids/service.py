"""Sealed bids: submit, replace, withdraw, reconfirm; the opening.

The hot path (`submit_bid`) is ONE statement, so one round trip and its own transaction: in memory first,
the content sealed (AES-256-GCM under the tender's data key) and the receipt signed, with the clock read
just before; then a statement that share-locks the tender row (bids do not queue behind each other; every
state change takes FOR UPDATE, so a closing sweep or an opening waits for the bids in flight, and a bid that
comes after it finds the new state: PostgreSQL re-reads a row it had to wait for) and the supplier row,
decides against that clock under those locks (tender accepting bids, enquiry period over, before the
deadline, the lots open, the supplier in good standing), and writes the bid, its lots, the audit event, the
outbox event and the Idempotency-Key's stored answer, or nothing. When it writes nothing, the state it read
says why (the same checks, in Python, raise the error). The receipt leaves only after the commit.
Bids a worker holds at the same moment share one such statement (tenders/bids/batch.py); a bid the shared
statement did not store comes back here and is judged alone.

Nothing readable about a bid's content is stored before the opening: prices, documents and notes are
inside `bid.sealed` (AES-256-GCM with the tender's data key, bound to tender, bid and supplier ids).
`bid_lot` records which lots a bid covers (the one-live-bid rule needs it), never a price.

For evaluation: the opening writes `opening_entry` (tender_id, lot_id, bid_id, supplier_id, price,
received_at) and `bid.opened_content`; read them with `opening_entries(tender_id=...)`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from marketplace.core import audit, clock, db, idempotency, ids, outbox, sealing
from marketplace.core.actor import Actor, own_org, require
from marketplace.core.errors import Conflict, DeadlinePassed, Forbidden, InvalidInput, NotFound
from marketplace.core.i18n import N_
from marketplace.core.money import pen_cents
from marketplace.settings import Settings
from suppliers import service as suppliers
from tenders import service as tenders
from tenders.bids import batch
from tenders.bids.schemas import BidCreate, BidRead, Receipt
from tenders.domain import MACHINE, Action, IllegalTransition, Method, State, rfc3339
from tenders.schemas import OpeningConfirmation, OpeningExcluded, OpeningProgress, OpeningRead

TOPIC_BID_RECEIVED = "bid.received"
TOPIC_BID_WITHDRAWN = "bid.withdrawn"
BIDDER_ROLES = ("bidder", "supplier_admin")
_json = msgspec.json.Encoder(order="sorted")
_OPEN_LOT_STATES = ("published", "tendering")


def _aad(tender_id: UUID, bid_id: UUID, supplier_id: UUID) -> bytes:
    return f"bid:{tender_id}:{bid_id}:{supplier_id}".encode()


def _data_key(settings: Settings, tender_id: UUID, wrapped: bytes) -> bytes:
    return _unwrapped(settings.keys.sealing_key_bytes(), bytes(wrapped), tender_id)


@functools.lru_cache(maxsize=1024)
def _unwrapped(kek: bytes, wrapped: bytes, tender_id: UUID) -> bytes:
    """A tender's data key, unwrapped once per process (every bid of a rush seals with it)."""
    return sealing.unwrap_key(kek, wrapped, context=str(tender_id).encode())


def _unique_lots(data: BidCreate) -> list[UUID]:
    seen: set[UUID] = set()
    for i, item in enumerate(data.lots):
        if item.lot_id in seen:
            raise InvalidInput(N_("Each lot may appear once in a bid"), field=f"lots[{i}].lot_id", rule="unique")
        seen.add(item.lot_id)
    return [item.lot_id for item in data.lots]


def _lot_ids(data: BidCreate, open_lots: list[UUID]) -> list[UUID]:
    lots = _unique_lots(data)
    allowed = set(open_lots)
    for i, lot_id in enumerate(lots):
        if lot_id not in allowed:
            raise InvalidInput(N_("No such lot open for bids in this tender"), field=f"lots[{i}].lot_id",
                               rule="lot")
    return lots


def _plaintext(data: BidCreate, *, bid_id: UUID, tender_id: UUID, supplier_id: UUID, version: int) -> bytes:
    documents = []
    for i, doc in enumerate(data.documents):
        try:
            raw = base64.b64decode(doc.content, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(N_("The document content must be base64"), field=f"documents[{i}].content",
                               rule="base64") from None
        documents.append({"title": doc.title, "filename": doc.filename, "media_type": doc.media_type,
                          "size": len(raw), "sha256": hashlib.sha256(raw).hexdigest(), "content": doc.content})
    return _json.encode({
        "bid_id": str(bid_id), "tender_id": str(tender_id), "supplier_id": str(supplier_id), "version": version,
        # sealed as céntimos (the opening reads every sealed version alike); the API takes Money in soles
        "lots": [{"lot_id": str(x.lot_id), "price": pen_cents(x.price, f"lots[{i}].price")}
                 for i, x in enumerate(data.lots)],
        "documents": documents, "notes": data.notes,
    })


def make_receipt(settings: Settings, *, bid_id: UUID, ocid: str, lots: list[UUID], sha256: str,
                 received_at: datetime) -> Receipt:
    fields: dict[str, Any] = {"bid_id": str(bid_id), "ocid": ocid, "lots": sorted(str(x) for x in lots),
                              "sha256": sha256, "received_at": rfc3339(received_at),
                              "key_id": settings.signing_key_id}
    return Receipt(**fields, signature=sealing.sign(settings.keys.signing_private_key(), fields))


def verify_receipt(public_key_b64: str, receipt: dict[str, Any]) -> bool:
    fields = {k: v for k, v in receipt.items() if k != "signature"}
    return sealing.verify(public_key_b64, fields, receipt.get("signature", ""))


async def _lock_tender_shared(tender_id: UUID) -> dict[str, Any]:
    t = await db.fetchrow(
        "SELECT t.id, t.ocid, t.agency_id, t.state, t.enquiry_end, t.submission_deadline, t.wrapped_key,"
        " ARRAY(SELECT l.id FROM tender_lot l WHERE l.tender_id = t.id AND l.state IN ('published', 'tendering'))"
        " AS open_lots FROM tender t WHERE t.id = $1 FOR SHARE OF t", tender_id)
    if t is None or t["state"] == State.DRAFT:
        raise NotFound(N_("Tender not found"))
    return t


def _check_open(t: dict[str, Any], now: datetime) -> None:
    """Bids are received from the end of the enquiry period until the deadline (clock read after the lock)."""
    state = t["state"]
    if state in (State.PUBLISHED, State.TENDERING) and now >= t["submission_deadline"]:
        raise DeadlinePassed(N_("The submission deadline has passed"), field="submission_deadline",
                             rule="deadline_passed")
    if state not in (State.PUBLISHED, State.TENDERING):
        if state == State.OPENING or (state not in (State.CANCELLED,) and now >= t["submission_deadline"]):
            raise DeadlinePassed(N_("The submission deadline has passed"), field="submission_deadline",
                                 rule="deadline_passed")
        raise Conflict(N_("This action is not allowed while the tender is {state}"), field="state",
                       rule="not_allowed", params={"state": state})
    if now < t["enquiry_end"]:
        raise Conflict(N_("Bids are received once the enquiry period has ended"), field="enquiry_end",
                       rule="enquiry_period_running")


# What a published tender's bids are sealed and receipted with: its ocid and wrapped data key, set at
# publication and never changed (and whether invitations apply: its method is a price comparison). Cached per
# process, so the hot path needs no read before its statement.
_SEALING_CACHE_SIZE = 4096
_sealing: dict[UUID, tuple[str, bytes, bool]] = {}


def _judged(tender: str, supplier: str) -> str:
    """The CTEs t and s: the tender and supplier rows a submission is judged on, share-locked (as they are
    after any wait). `tender` and `supplier` end the WHERE on their ids: `= $2`, or `IN (SELECT ...)` for a
    group of bids (tenders/bids/batch.py)."""
    states = ", ".join(f"'{x}'" for x in _OPEN_LOT_STATES)
    return (
        "t AS (SELECT t.id, t.state, t.enquiry_end, t.submission_deadline, ARRAY(SELECT l.id FROM tender_lot l"
        f"   WHERE l.tender_id = t.id AND l.state IN ({states})) AS open_lots"
        f"   FROM tender t WHERE t.id {tender} FOR SHARE OF t),"
        " s AS (SELECT s.organisation_id, s.status, s.suspended_until, s.mype, s.ubigeo FROM supplier s"
        f"   WHERE s.organisation_id {supplier} FOR SHARE)"
    )


# The head of a submission's bid insert (both statements: this module's and tenders/bids/batch.py's).
BID_INSERT = ("INSERT INTO bid (id, tender_id, supplier_id, submitted_by, sealed, sha256, key_id, received_at,"
              " signature, confirmed_at, is_mype, domicile_ubigeo)")


def _accepted(now: str, lots: str) -> str:
    """SQL true when the judged rows t and s accept a bid read at `now` for `lots` (a uuid[]): the rule both
    statements decide by; `_refusal` says in Python why one did not."""

    states = ", ".join(f"'{x}'" for x in (State.PUBLISHED, State.TENDERING))
    return (f"t.state IN ({states}) AND {now} >= t.enquiry_end AND {now} < t.submission_deadline"
            f" AND {lots} <@ t.open_lots AND {suppliers.good_standing_sql('s', now)}")


_VERDICT = (
    " SELECT t.state, t.enquiry_end, t.submission_deadline, t.open_lots, s.status, s.suspended_until"
    " FROM (SELECT 1) AS one LEFT JOIN t ON true LEFT JOIN s ON true"
)


@functools.cache
def _submit_sql() -> str:
    """$1 bid id, $2 tender, $3 supplier, $4 user, $5 sealed, $6 sha256, $7 key id, $8 received_at (the clock),
    $9 signature, $10 lots, $11 event payload, $12 Idempotency-Key scope, $13 key (NULL: none), $14 request
    fingerprint, $15 receipt (the stored answer)."""
    return (
        "WITH " + _judged("= $2", "= $3") + ","
        f" ok AS (SELECT s.mype, s.ubigeo FROM t, s WHERE {_accepted('$8', '$10::uuid[]')}),"
        " ik AS (INSERT INTO idempotency_key (scope, key, request_hash, status, response)"
        "   SELECT $12, $13, $14, 201, $15::jsonb FROM ok WHERE $13::text IS NOT NULL"
        "   ON CONFLICT DO NOTHING RETURNING 1),"
        f" b AS ({BID_INSERT}"
        "   SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $8, ok.mype, ok.ubigeo FROM ok"
        "   WHERE $13::text IS NULL OR EXISTS (SELECT 1 FROM ik) RETURNING id),"
        " bl AS (INSERT INTO bid_lot (bid_id, tender_id, lot_id, supplier_id)"
        "   SELECT b.id, $2, l, $3 FROM b, unnest($10::uuid[]) AS l),"
        f" ev AS ({audit.INSERT} SELECT $8, $4, $3, '{TOPIC_BID_RECEIVED}', 'bid', b.id::text, $11::jsonb FROM b),"
        f" ob AS ({outbox.INSERT} SELECT '{TOPIC_BID_RECEIVED}', 'bid', b.id::text, $11::jsonb FROM b)"
        " SELECT n.stored, v.state, v.enquiry_end, v.submission_deadline, v.status, v.suspended_until,"
        "   CASE WHEN n.stored = 0 THEN v.open_lots END AS open_lots"  # the error's detail: not decoded on success
        " FROM (SELECT count(*) AS stored FROM b) AS n, (" + _VERDICT + ") AS v"
    )


async def _sealing_of(tender_id: UUID) -> tuple[str, bytes, bool] | None:
    """(ocid, wrapped data key, whether invitations apply) of a published tender; None for one without a key
    (never published)."""
    got = _sealing.get(tender_id)
    if got is None:
        row = await db.fetchrow("SELECT ocid, wrapped_key, method FROM tender WHERE id = $1", tender_id)
        if row is None or row["wrapped_key"] is None:
            return None
        if len(_sealing) >= _SEALING_CACHE_SIZE:
            _sealing.pop(next(iter(_sealing)))
        got = _sealing[tender_id] = (row["ocid"], bytes(row["wrapped_key"]),
                                     row["method"] == Method.PRICE_COMPARISON)
    return got


async def _require_invitation(tender_id: UUID, supplier_id: UUID | None) -> None:
    """A price comparison with invitees takes bids from them only (tenders/invitations.py). The list is closed
    before bids may start, so this read needs no lock."""
    row = await db.fetchrow(
        "SELECT EXISTS (SELECT 1 FROM tender_invitation WHERE tender_id = $1) AS invited_only,"
        " EXISTS (SELECT 1 FROM tender_invitation WHERE tender_id = $1 AND supplier_id = $2) AS invited",
        tender_id, supplier_id)
    if row is not None and row["invited_only"] and not row["invited"]:
        raise Forbidden(N_("Only the suppliers invited to this price comparison may bid"), field="tender_id",
                        rule="invitation")


def _refusal(verdict: dict[str, Any], data: BidCreate, now: datetime) -> Exception:
    """Why a submission judged on `verdict` (the locked rows as the statement saw them) was not stored."""

    suppliers.check_standing(verdict if verdict["status"] is not None else None, now)
    if verdict["state"] is None or verdict["state"] == State.DRAFT:
        raise NotFound(N_("Tender not found"))
    _check_open(verdict, now)
    _lot_ids(data, verdict["open_lots"])
    return RuntimeError(f"a bid refused by its statement passed every check in Python: {verdict!r}")


async def submit_bid(*, actor: Actor, settings: Settings, tender_id: UUID, data: BidCreate,
                     claim: idempotency.Claim | None = None) -> Receipt | idempotency.Stored:
    """Seal and store a supplier's bid, in one statement (see the module docstring); returns the signed
    receipt, or with a `claim` (Idempotency-Key) already answered, the stored answer to replay.

    Outside a unit of work the statement is its own transaction, and has committed when this returns; inside
    one it joins it (seeders), and the caller's commit publishes it."""
    require(actor, "supplier", *BIDDER_ROLES)
    lots = _unique_lots(data)
    supplier_id = own_org(actor)
    facts = await _sealing_of(tender_id)
    now = clock.now()
    if facts is None:  # no such tender, or never published: say why, as a refused statement would
        verdict = await db.fetchrow("WITH " + _judged("= $1", "= $2") + _VERDICT, tender_id, supplier_id)
        assert verdict is not None
        raise _refusal(verdict, data, now)
    ocid, wrapped_key, invitations = facts
    if invitations:
        await _require_invitation(tender_id, supplier_id)
    bid_id = ids.new_id()
    sealed = sealing.seal(_data_key(settings, tender_id, wrapped_key),
                          _plaintext(data, bid_id=bid_id, tender_id=tender_id, supplier_id=supplier_id, version=1),
                          aad=_aad(tender_id, bid_id, supplier_id))
    digest = hashlib.sha256(sealed).hexdigest()
    receipt = make_receipt(settings, bid_id=bid_id, ocid=ocid, lots=lots, sha256=digest, received_at=now)
    payload = {"bid_id": str(bid_id), "tender_id": str(tender_id), "ocid": ocid,
               "supplier_id": str(supplier_id), "lots": receipt.lots, "sha256": digest,
               "received_at": receipt.received_at, "version": 1}
    key = claim.key if claim is not None else None
    response = idempotency.encode(receipt) if key else None
    encoded = audit.encode(payload)
    if not db.in_unit_of_work():  # with other bids in flight, stored by one statement (tenders/bids/batch.py)
        pending = batch.Bid(bid_id, tender_id, supplier_id, actor.user_id, sealed, digest, settings.signing_key_id,
                            now, receipt.signature, encoded, claim.scope if claim else None, key,
                            claim.fingerprint if claim else None, response, lots)
        if await batch.batcher().store(pending):
            outbox.kick_after_commit()
            return receipt
    try:
        verdict = (await db.fetch_autocommit(
            _submit_sql(), bid_id, tender_id, supplier_id, actor.user_id, sealed, digest, settings.signing_key_id,
            now, receipt.signature, lots, encoded, claim.scope if claim else None, key,
            claim.fingerprint if claim else None, response))[0]
    except asyncpg.UniqueViolationError:
        raise Conflict(N_("You already have a live bid for this lot: replace or withdraw it"), field="lots",
                       rule="one_live_bid") from None
    assert verdict is not None
    if verdict["stored"]:
        outbox.kick_after_commit()
        return receipt
    if claim is not None and (replay := await claim.stored()) is not None:
        return replay
    raise _refusal(verdict, data, now)


async def _own_bid_for_update(actor: Actor, bid_id: UUID) -> tuple[dict[str, Any], dict[str, Any]]:
    require(actor, "supplier", *BIDDER_ROLES)
    head = await db.fetchrow("SELECT tender_id, supplier_id FROM bid WHERE id = $1", bid_id)
    if head is None or head["supplier_id"] != actor.org_id:
        raise NotFound(N_("Bid not found"))  # a competitor learns nothing, not even that it exists
    t = await _lock_tender_shared(head["tender_id"])
    bid = await db.fetchrow("SELECT id, tender_id, supplier_id, status, version, needs_reconfirmation FROM bid"
                            " WHERE id = $1 FOR UPDATE", bid_id)
    assert bid is not None
    return t, bid


async def replace_bid(*, actor: Actor, settings: Settings, bid_id: UUID, data: BidCreate) -> Receipt:
    """A new content for a live bid, before the deadline: a new sealed version and a new receipt."""
    t, bid = await _own_bid_for_update(actor, bid_id)
    now = clock.now()
    _check_open(t, now)
    if bid["status"] != "live":
        raise Conflict(N_("This bid was withdrawn"), field="status", rule="withdrawn")

    standing = await suppliers.require_good_standing(org_id=own_org(actor))
    lots = _lot_ids(data, t["open_lots"])
    version = bid["version"] + 1
    tender_id, supplier_id = t["id"], bid["supplier_id"]
    sealed = sealing.seal(_data_key(settings, tender_id, t["wrapped_key"]),
                          _plaintext(data, bid_id=bid_id, tender_id=tender_id, supplier_id=supplier_id,
                                     version=version), aad=_aad(tender_id, bid_id, supplier_id))
    digest = hashlib.sha256(sealed).hexdigest()
    receipt = make_receipt(settings, bid_id=bid_id, ocid=t["ocid"], lots=lots, sha256=digest, received_at=now)
    await db.execute(
        "UPDATE bid SET sealed = $2, sha256 = $3, received_at = $4, signature = $5, version = $6,"
        " needs_reconfirmation = false, confirmed_at = $4, key_id = $7, is_mype = $8, domicile_ubigeo = $9"
        " WHERE id = $1",
        bid_id, sealed, digest, now, receipt.signature, version, settings.signing_key_id, standing.mype,
        standing.ubigeo)
    await db.execute("DELETE FROM bid_lot WHERE bid_id = $1", bid_id)
    try:
        await db.execute("INSERT INTO bid_lot (bid_id, tender_id, lot_id, supplier_id)"
                         " SELECT $1, $2, l, $3 FROM unnest($4::uuid[]) AS l", bid_id, tender_id, supplier_id, lots)
    except asyncpg.UniqueViolationError:
        raise Conflict(N_("You already have a live bid for this lot: replace or withdraw it"), field="lots",
                       rule="one_live_bid") from None
    payload = {"bid_id": str(bid_id), "tender_id": str(tender_id), "ocid": t["ocid"],
               "supplier_id": str(supplier_id), "lots": receipt.lots, "sha256": digest,
               "received_at": receipt.received_at, "version": version}
    await audit.record(actor=actor, action="bid.replaced", entity_type="bid", entity_id=bid_id, data=payload)
    await outbox.emit(topic=TOPIC_BID_RECEIVED, aggregate_type="bid", aggregate_id=bid_id, payload=payload)
    return receipt


async def withdraw_bid(*, actor: Actor, bid_id: UUID) -> None:
    t, bid = await _own_bid_for_update(actor, bid_id)
    now = clock.now()
    _check_open(t, now)
    if bid["status"] != "live":
        raise Conflict(N_("This bid was withdrawn"), field="status", rule="withdrawn")
    await db.execute("UPDATE bid SET status = 'withdrawn', withdrawn_at = $2 WHERE id = $1", bid_id, now)
    await db.execute("UPDATE bid_lot SET live = false WHERE bid_id = $1", bid_id)
    payload = {"bid_id": str(bid_id), "tender_id": str(t["id"]), "ocid": t["ocid"],
               "supplier_id": str(bid["supplier_id"]), "at": rfc3339(now)}
    await audit.record(actor=actor, action="bid.withdrawn", entity_type="bid", entity_id=bid_id, data=payload)
    await outbox.emit(topic=TOPIC_BID_WITHDRAWN, aggregate_type="bid", aggregate_id=bid_id, payload=payload)


async def confirm_bid(*, actor: Actor, settings: Settings, bid_id: UUID) -> BidRead:
    """The supplier confirms its bid stands after a material amendment (before the deadline)."""
    t, bid = await _own_bid_for_update(actor, bid_id)
    now = clock.now()
    _check_open(t, now)
    if bid["status"] != "live":
        raise Conflict(N_("This bid was withdrawn"), field="status", rule="withdrawn")
    # A supplier suspended or disqualified after bidding cannot keep its bid alive by reconfirming it.
    await suppliers.require_good_standing(org_id=own_org(actor))
    await db.execute("UPDATE bid SET needs_reconfirmation = false, confirmed_at = $2 WHERE id = $1", bid_id, now)
    await audit.record(actor=actor, action="bid.confirmed", entity_type="bid", entity_id=bid_id,
                       data={"tender_id": str(t["id"]), "at": rfc3339(now)})
    return await get_bid(actor=actor, settings=settings, bid_id=bid_id)


async def get_bid(*, actor: Actor, settings: Settings, bid_id: UUID) -> BidRead:
    """The supplier sees its own bid (receipt, status); its content only after the opening. After the opening
    the owning agency sees it too."""
    row = await db.fetchrow(
        "SELECT b.id, b.tender_id, b.supplier_id, b.status, b.version, b.needs_reconfirmation, b.confirmed_at,"
        " b.withdrawn_at, b.opened_at, b.opened_content, b.sha256, b.received_at, b.key_id, b.signature,"
        " t.ocid, t.agency_id, ARRAY(SELECT lot_id FROM bid_lot WHERE bid_id = b.id) AS lots"
        " FROM bid b JOIN tender t ON t.id = b.tender_id WHERE b.id = $1", bid_id)
    if row is None:
        raise NotFound(N_("Bid not found"))
    own = actor.org_id is not None and actor.org_id == row["supplier_id"]
    agency_after_opening = row["opened_at"] is not None and actor.member_of(row["agency_id"])
    if not (own or agency_after_opening or actor.via == "system"):
        raise NotFound(N_("Bid not found"))
    content = row["opened_content"]
    if isinstance(content, str):
        content = msgspec.json.decode(content)
    if isinstance(content, dict) and "lots" in content:  # sealed in céntimos; the API gives money as Money
        content = {**content, "lots": [{**lot, "price": {"amount": lot["price"], "currency": "PEN"}}
                                       if isinstance(lot.get("price"), int) else lot
                                       for lot in content["lots"]]}
    receipt = Receipt(bid_id=str(row["id"]), ocid=row["ocid"], lots=sorted(str(x) for x in row["lots"]),
                      sha256=row["sha256"].strip(), received_at=rfc3339(row["received_at"]), key_id=row["key_id"],
                      signature=row["signature"])
    return BidRead(id=row["id"], tender_id=row["tender_id"], supplier_id=row["supplier_id"], status=row["status"],
                   version=row["version"], needs_reconfirmation=row["needs_reconfirmation"], receipt=receipt,
                   confirmed_at=row["confirmed_at"], withdrawn_at=row["withdrawn_at"], opened_at=row["opened_at"],
                   content=content)


# ------------------------------------------------------------------------------------------------ opening

OPENING_ROLES = ("officer", "agency_admin", "committee")


def require_opening_member(actor: Actor, t: dict[str, Any]) -> None:
    """The actor is a person (not a job) of the owning agency authorised to confirm its openings: an officer,
    an agency administrator or a committee member."""
    if not tenders.can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    require(actor, "agency", *OPENING_ROLES)
    if actor.user_id is None or not actor.member_of(t["agency_id"]):
        raise Forbidden(N_("This tender belongs to another agency"))


async def _require_confirmer(actor: Actor, t: dict[str, Any]) -> None:
    """`require_opening_member`, and when the tender has a designated committee, one of its members: then the
    committee opens (tenders/evaluation/committee.py)."""
    require_opening_member(actor, t)
    designated = {r["user_id"] for r in await db.fetch(
        "SELECT user_id FROM tender_committee_member WHERE tender_id = $1", t["id"])}
    if designated and actor.user_id not in designated:
        raise Forbidden(N_("Only a member of this tender's evaluation committee may do this"), field="committee",
                        rule="committee_member")


async def _confirmations(tender_id: UUID, since: datetime) -> list[dict[str, Any]]:
    """The confirmations of the opening in force (given at or after `since`), oldest first, with names."""
    return await db.fetch(
        "SELECT c.user_id, coalesce(nullif(u.full_name, ''), u.email) AS name, c.confirmed_at"
        " FROM tender_opening_confirmation c JOIN app_user u ON u.id = c.user_id"
        " WHERE c.tender_id = $1 AND c.confirmed_at >= $2 ORDER BY c.confirmed_at, c.user_id", tender_id, since)


def quorum_of(t: dict[str, Any], settings: Settings) -> int:
    """The tender's own opening quorum (set with its committee), else the OPENING_QUORUM setting."""
    return t.get("opening_quorum") or settings.opening_quorum


def _progress(t: dict[str, Any], settings: Settings, confirmations: list[dict[str, Any]],
              opening: OpeningRead | None = None) -> OpeningProgress:
    return OpeningProgress(
        tender_id=t["id"], state=t["state"], quorum=quorum_of(t, settings),
        window_minutes=settings.opening_window_minutes,
        confirmations=[OpeningConfirmation(**c) for c in confirmations], opened=opening is not None,
        opening=opening)


async def open_tender(*, actor: Actor, settings: Settings, tender_id: UUID) -> OpeningProgress:
    """An authorised person of the owning agency (a member of the tender's committee when one was designated)
    confirms the opening, at the announced opening time (after the submission deadline).

    The bids are decrypted only when OPENING_QUORUM distinct people have confirmed within the last
    OPENING_WINDOW_MINUTES (EU Directive 2014/24 Annex IV (f): the opening by the simultaneous action of
    authorised persons); until then the confirmation is recorded and the tender waits. The tender row is
    locked FOR UPDATE first, so confirmations arriving together are counted one after the other and exactly
    one of them opens the bids."""
    t = await tenders.lock_tender(tender_id=tender_id)
    await _require_confirmer(actor, t)
    now = clock.now()
    state = State(t["state"])
    if state in (State.PUBLISHED, State.TENDERING):
        if now < t["submission_deadline"]:
            raise Conflict(N_("The submission deadline has not passed yet"), field="submission_deadline",
                           rule="deadline_not_passed")
        # the sweeper has not run yet: make the moves it would have made
        if state == State.PUBLISHED:
            t = await tenders._move(actor=actor, t=t, action=Action.START_TENDERING, now=now)
        t = await tenders._move(actor=actor, t=t, action=Action.CLOSE, now=now)
    if State(t["state"]) != State.OPENING:
        raise Conflict(N_("This action is not allowed while the tender is {state}"), field="state",
                       rule="not_allowed", params={"state": t["state"]})
    if t["opening_time"] is not None and now < t["opening_time"]:
        # The announced opening time binds the committee too: bids are not opened early, even after the deadline.
        raise Conflict(N_("The bids are opened at the announced opening time ({at}), not before"),
                       field="opening_time", rule="opening_time_not_reached",
                       params={"at": t["opening_time"].isoformat()})
    await db.execute(
        "INSERT INTO tender_opening_confirmation (tender_id, user_id, confirmed_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (tender_id, user_id) DO UPDATE SET confirmed_at = EXCLUDED.confirmed_at",
        tender_id, actor.user_id, now)
    confirmations = await _confirmations(tender_id, now - timedelta(minutes=settings.opening_window_minutes))
    await audit.record(actor=actor, action="tender.opening_confirmed", entity_type="tender", entity_id=tender_id,
                       data={"confirmations": len(confirmations), "quorum": quorum_of(t, settings)})
    if len(confirmations) < quorum_of(t, settings):
        return _progress(t, settings, confirmations)
    await open_locked(actor=actor, settings=settings, t=t, now=now, confirmations=confirmations)
    opened = await tenders.load_tender(tender_id=tender_id)
    return _progress(opened, settings, confirmations, await get_opening(actor=actor, tender_id=tender_id))


async def opening_progress(*, actor: Actor, settings: Settings, tender_id: UUID) -> OpeningProgress:
    """Who has confirmed the opening so far: the owning agency's authorised people before the opening, everyone
    once it is published (the confirmations that made the quorum are part of the record)."""
    t = await tenders.load_tender(tender_id=tender_id)
    if t["opened_at"] is not None:
        opening = await get_opening(actor=actor, tender_id=tender_id)
        return _progress(t, settings, [msgspec.structs.asdict(c) for c in opening.confirmations], opening)
    await _require_confirmer(actor, t)
    since = clock.now() - timedelta(minutes=settings.opening_window_minutes)
    return _progress(t, settings, await _confirmations(tender_id, since))


async def open_locked(*, actor: Actor, settings: Settings, t: dict[str, Any], now: datetime,
                      confirmations: list[dict[str, Any]]) -> None:
    """Decrypt the live bids of a tender in `opening` (row locked FOR UPDATE by the caller) once the quorum's
    `confirmations` are in, record and publish the opening with them, move the tender to evaluation (lots with
    no bid: unsuccessful)."""
    try:
        MACHINE.apply(t["state"], Action.OPEN, tenders._facts(t, now))
    except IllegalTransition as exc:
        raise tenders._illegal(exc) from None
    tender_id = t["id"]
    data_key = _data_key(settings, tender_id, t["wrapped_key"])
    bids = await db.fetch(
        "SELECT id, supplier_id, sealed, sha256, received_at, needs_reconfirmation FROM bid"
        " WHERE tender_id = $1 AND status = 'live' ORDER BY received_at, id", tender_id)
    lots = await tenders.load_lots(tender_id=tender_id)
    open_lots = {lot["id"]: lot for lot in lots if lot["state"] == State.OPENING}
    entries: list[tuple[UUID, UUID, UUID, int, datetime]] = []
    excluded: list[dict[str, Any]] = []
    opened_ids: list[UUID] = []
    contents: list[str] = []
    # A supplier suspended or disqualified since it bid: its bid is not opened, and the record says why.
    out_of_standing = await suppliers.standing_reasons(org_ids=list({b["supplier_id"] for b in bids}))
    for b in bids:
        if b["supplier_id"] in out_of_standing:
            excluded.append({"bid_id": str(b["id"]), "supplier_id": str(b["supplier_id"]),
                             "reason": out_of_standing[b["supplier_id"]]})
            continue
        if b["needs_reconfirmation"]:
            excluded.append({"bid_id": str(b["id"]), "supplier_id": str(b["supplier_id"]),
                             "reason": "not_reconfirmed"})
            continue
        if hashlib.sha256(b["sealed"]).hexdigest() != b["sha256"].strip():
            excluded.append({"bid_id": str(b["id"]), "supplier_id": str(b["supplier_id"]), "reason": "corrupt"})
            continue
        try:
            plain = sealing.unseal(data_key, b["sealed"], aad=_aad(tender_id, b["id"], b["supplier_id"]))
        except sealing.SealError:
            excluded.append({"bid_id": str(b["id"]), "supplier_id": str(b["supplier_id"]), "reason": "corrupt"})
            continue
        content = msgspec.json.decode(plain)
        opened_ids.append(b["id"])
        contents.append(plain.decode())
        for item in content["lots"]:
            lot_id = UUID(item["lot_id"])
            if lot_id in open_lots:
                entries.append((lot_id, b["id"], b["supplier_id"], int(item["price"]), b["received_at"]))
    if opened_ids:
        await db.execute(
            "UPDATE bid SET opened_at = $2, opened_content = x.c::jsonb FROM unnest($1::uuid[], $3::text[]) AS x(i, c)"
            " WHERE bid.id = x.i", opened_ids, now, contents)
    if entries:
        await db.execute(
            "INSERT INTO opening_entry (tender_id, lot_id, bid_id, supplier_id, price, received_at)"
            " SELECT $1, l, b, s, p, r FROM unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[],"
            " $6::timestamptz[]) AS x(l, b, s, p, r)",
            tender_id, [e[0] for e in entries], [e[1] for e in entries], [e[2] for e in entries],
            [e[3] for e in entries], [e[4] for e in entries])
    names = {r["id"]: r for r in await db.fetch(
        "SELECT id, name, ruc FROM organisation WHERE id = ANY($1::uuid[])", list({e[2] for e in entries}))}
    record = {
        "tender_id": str(tender_id), "ocid": t["ocid"], "opened_at": now.isoformat(), "bid_count": len(opened_ids),
        "lots": [{
            "lot_id": str(lot_id), "number": lot["number"], "title": lot["title"],
            "state": "evaluation" if any(e[0] == lot_id for e in entries) else "unsuccessful",
            "bids": [{"bid_id": str(e[1]), "supplier_id": str(e[2]), "supplier_name": names[e[2]]["name"],
                      "supplier_ruc": names[e[2]]["ruc"], "price": e[3], "received_at": e[4].isoformat()}
                     for e in sorted((e for e in entries if e[0] == lot_id), key=lambda e: (e[3], e[4]))],
        } for lot_id, lot in sorted(open_lots.items(), key=lambda kv: kv[1]["number"])],
        "excluded": excluded,
        "confirmations": [{"user_id": str(c["user_id"]), "name": c["name"],
                           "confirmed_at": c["confirmed_at"].isoformat()} for c in confirmations],
    }
    await db.execute(
        "INSERT INTO tender_opening (tender_id, opened_at, opened_by, bid_count, record) VALUES ($1, $2, $3, $4,"
        " $5::jsonb)", tender_id, now, actor.user_id, len(opened_ids), _json.encode(record).decode())
    t = await tenders._move(actor=actor, t=t, action=Action.OPEN, now=now, extra_sets=", opened_at = $3")
    await audit.record(actor=actor, action="tender.opened", entity_type="tender", entity_id=tender_id,
                       data={"bid_count": len(opened_ids), "excluded": len(excluded)})
    await outbox.emit(topic=tenders.TOPIC_OPENED, aggregate_type="tender", aggregate_id=tender_id, payload={
        "tender_id": str(tender_id), "ocid": t["ocid"], "opened_at": now.isoformat(), "bid_count": len(opened_ids),
        "lots": [{"lot_id": lot["lot_id"], "bids": len(lot["bids"]), "state": lot["state"]}
                 for lot in record["lots"]]})
    for lot in record["lots"]:
        if lot["state"] == "unsuccessful":
            t = {**t, "state": (await tenders.load_tender(tender_id=tender_id))["state"]}
            await tenders.apply_lot_action(actor=actor, tender_id=tender_id, lot_id=UUID(lot["lot_id"]),
                                           action=Action.DECLARE_UNSUCCESSFUL, reason="no bids", locked=t)


async def get_opening(*, actor: Actor, tender_id: UUID) -> OpeningRead:
    """The published opening record (public once the bids are opened)."""
    row = await db.fetchrow("SELECT record FROM tender_opening WHERE tender_id = $1", tender_id)
    if row is None:
        t = await tenders.load_tender(tender_id=tender_id)
        if not tenders.can_see(actor, t):
            raise NotFound(N_("Tender not found"))
        raise NotFound(N_("The bids have not been opened yet"))
    record = row["record"]
    if isinstance(record, str):
        record = msgspec.json.decode(record)
    # The published record keeps prices in céntimos (its hash seeds the draw); the API gives Money objects.
    currency = record.get("currency", "PEN")
    lots = [{**lot, "bids": [{**b, "price": {"amount": b["price"], "currency": currency}} for b in lot["bids"]]}
            for lot in record["lots"]]
    return msgspec.convert({**record, "lots": lots}, OpeningRead)


async def opening_entries(*, tender_id: UUID, lot_id: UUID | None = None) -> list[dict[str, Any]]:
    """Opened prices per lot and bid (for evaluation): lot_id, bid_id, supplier_id, price, received_at."""
    return await db.fetch(
        "SELECT lot_id, bid_id, supplier_id, price, received_at FROM opening_entry WHERE tender_id = $1"
        " AND ($2::uuid IS NULL OR lot_id = $2) ORDER BY lot_id, price, received_at", tender_id, lot_id)


__all__ = [
    "Forbidden",
    "OpeningExcluded",
    "confirm_bid",
    "get_bid",
    "get_opening",
    "make_receipt",
    "open_locked",
    "open_tender",
    "opening_entries",
    "opening_progress",
    "require_opening_member",
    "replace_bid",
    "submit_bid",
    "verify_receipt",
    "withdraw_bid",
]

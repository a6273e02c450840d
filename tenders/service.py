"""Tender use cases: draft, edit and amend, publish, cancel, enquiries, documents, clock-driven moves.

Functions other domains (evaluation, awards, appeals, search, oversight) call:

- `lock_tender(tender_id=...) -> dict` : the tender row, locked FOR UPDATE in the current transaction.
- `load_tender(tender_id=...) -> dict` / `load_lots(tender_id=...) -> list[dict]` : rows, no lock, no authz.
- `get_tender(actor=..., tender_id=...) -> TenderRead` : as the API shows it to `actor`.
- `require_tender_officer(actor, tender_row)` : the actor is an officer (or agency admin) of the owning agency.
- `apply_lot_action(actor=..., tender_id=..., lot_id=..., action=Action.AWARD|..., reason=None)` : moves one
  lot through the state machine and the tender to the state derived from its lots (audit + outbox).
- `apply_tender_action(actor=..., tender_id=..., action=..., reason=None)` : same for the whole tender.
- `advance_by_clock(actor=SYSTEM, settings=..., tender_id=...)` : what the sweeper does for one tender.

Every state change writes an audit event and a 'tender.state_changed' outbox event in the same transaction.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec

from marketplace.core import audit, clock, db, geo, ids, outbox, sealing
from marketplace.core.actor import SYSTEM, Actor, own_org, require, require_authenticated
from marketplace.core.errors import Conflict, DeadlinePassed, Forbidden, InvalidInput, NotFound
from marketplace.core.i18n import N_, N_plural, Plural
from marketplace.core.money import Money, pen_cents
from marketplace.settings import Settings
from suppliers import service as suppliers
from tenders import domain
from tenders.domain import Action, Facts, IllegalTransition, State
from tenders.schemas import (
    AmendmentRead,
    DocumentRead,
    EnquiryAnswerRead,
    EnquiryCreate,
    EnquiryRead,
    LotCreate,
    LotRead,
    TenderCreate,
    TenderRead,
    TenderUpdate,
)

TOPIC_PUBLISHED = "tender.published"
TOPIC_AMENDED = "tender.amended"
TOPIC_CANCELLED = "tender.cancelled"
TOPIC_STATE_CHANGED = "tender.state_changed"
TOPIC_OPENED = "tender.opened"
TOPIC_ENQUIRY_ANSWERED = "tender.enquiry_answered"

OFFICER_ROLES = ("officer", "agency_admin")
MAX_DOCUMENT_BYTES = 15 * 1024 * 1024

_policy: domain.TimelinePolicy = domain.DEFAULT_POLICY


def policy(settings: Settings | None = None) -> domain.TimelinePolicy:
    """The timeline policy in force (minimum periods per method, amendment extension); in training mode
    (MODE=training) each of its days lasts TRAINING_DAY_SECONDS."""
    if settings is not None and settings.training:
        return domain.training_policy(settings.training_day_seconds, _policy)
    return _policy


def configure_policy(new: domain.TimelinePolicy) -> domain.TimelinePolicy:
    """Install another timeline policy (a deployment's rules, or a test's); returns the previous one."""
    global _policy
    old, _policy = _policy, new
    return old


# ------------------------------------------------------------------------------------------------ loading

_TENDER_COLUMNS = (
    "id, ocid, agency_id, created_by, title, description, method, procurement_method, category, consultancy,"
    " currency, state, enquiry_end, submission_deadline, opening_time, standstill_days, published_at, opened_at,"
    " state_changed_at, cancel_reason, amendment_count, key_id, wrapped_key, version, created_at, updated_at,"
    " opening_quorum"
)
_LOT_COLUMNS = (
    "id, tender_id, number, title, description, estimated_value, classification_scheme, classification_code,"
    " quantity, unit, delivery_ubigeo, state, state_changed_at, cancel_reason"
)


async def load_tender(*, tender_id: UUID) -> dict[str, Any]:
    row = await db.fetchrow(f"SELECT {_TENDER_COLUMNS} FROM tender WHERE id = $1", tender_id)
    if row is None:
        raise NotFound(N_("Tender not found"))
    return row


async def lock_tender(*, tender_id: UUID) -> dict[str, Any]:
    """The tender row locked FOR UPDATE (state changes; bids hold FOR SHARE, so they are ordered by it)."""
    row = await db.fetchrow(f"SELECT {_TENDER_COLUMNS} FROM tender WHERE id = $1 FOR UPDATE", tender_id)
    if row is None:
        raise NotFound(N_("Tender not found"))
    return row


async def load_lots(*, tender_id: UUID) -> list[dict[str, Any]]:
    return await db.fetch(f"SELECT {_LOT_COLUMNS} FROM tender_lot WHERE tender_id = $1 ORDER BY number", tender_id)


async def load_many(*, tender_ids: list[UUID]) -> dict[UUID, tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Several tenders with their lots (in number order), in two round trips: the readers of many tenders at
    once (the search consumer). Ids with no tender are left out."""
    tenders = await db.fetch(f"SELECT {_TENDER_COLUMNS} FROM tender WHERE id = ANY($1::uuid[])", tender_ids)
    out: dict[UUID, tuple[dict[str, Any], list[dict[str, Any]]]] = {t["id"]: (t, []) for t in tenders}
    for lot in await db.fetch(f"SELECT {_LOT_COLUMNS} FROM tender_lot WHERE tender_id = ANY($1::uuid[])"
                              " ORDER BY tender_id, number", list(out)):
        out[lot["tender_id"]][1].append(lot)
    return out


def can_see(actor: Actor, t: dict[str, Any]) -> bool:
    """Published tenders are public; drafts only for the owning agency (and system jobs)."""
    if t["state"] != State.DRAFT:
        return True
    return actor.via == "system" or actor.member_of(t["agency_id"])


def require_tender_officer(actor: Actor, t: dict[str, Any]) -> None:
    if not can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    require(actor, "agency", *OFFICER_ROLES)
    if actor.via != "system" and not actor.member_of(t["agency_id"]):
        raise Forbidden(N_("This tender belongs to another agency"))


# ------------------------------------------------------------------------------------------------ validation

def _check_lot(lot: LotCreate | dict[str, Any], field: str) -> None:
    def get(key: str) -> Any:
        return lot.get(key) if isinstance(lot, dict) else getattr(lot, key)

    ubigeo = get("delivery_ubigeo")
    if not geo.is_valid_ubigeo(ubigeo) or ubigeo.endswith("00"):
        raise InvalidInput(N_("{code} is not the ubigeo of a Peruvian district"), field=f"{field}.delivery_ubigeo",
                           rule="ubigeo", params={"code": ubigeo})
    quantity = Decimal(get("quantity"))
    if (not quantity.is_finite() or quantity <= 0 or quantity > 10**12
            or quantity != quantity.quantize(Decimal("0.001"))):
        raise InvalidInput(N_("The quantity must be positive, with at most 3 decimals"), field=f"{field}.quantity",
                           rule="range")
    scheme, code = get("classification_scheme"), get("classification_code")
    if scheme == "UNSPSC" and not (len(code) == 8 and code.isdigit()):
        raise InvalidInput(N_("A UNSPSC code has 8 digits"), field=f"{field}.classification_code",
                           rule="classification")
    if scheme == "CPV" and not (len(code) == 10 and code[:8].isdigit() and code[8] == "-" and code[9].isdigit()):
        raise InvalidInput(N_("A CPV code has 8 digits, a dash and a check digit"),
                           field=f"{field}.classification_code", rule="classification")


def _check_basic_timeline(enquiry_end: datetime | None, deadline: datetime | None, opening: datetime | None) -> None:
    for name, value in (("enquiry_end", enquiry_end), ("submission_deadline", deadline), ("opening_time", opening)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(N_("Give a time zone (RFC 3339), e.g. 2026-12-01T17:00:00-05:00"), field=name,
                               rule="timezone")
    if enquiry_end and deadline and enquiry_end > deadline:
        raise InvalidInput(N_("The enquiry period must end before the submission deadline"), field="enquiry_end",
                           rule="enquiry_before_deadline")
    if opening and deadline and opening < deadline:
        raise InvalidInput(N_("The opening cannot be before the submission deadline"), field="opening_time",
                           rule="opening_after_deadline")


_TIMELINE_MESSAGES: dict[str, str | Plural] = {
    "required": N_("The timeline needs this date before publication"),
    "min_submission_period": N_plural("This method needs at least {days} day between publication and the deadline",
                                      "This method needs at least {days} days between publication and the deadline",
                                      "days"),
    "min_enquiry_period": N_plural("This method needs an enquiry period of at least {days} day",
                                   "This method needs an enquiry period of at least {days} days", "days"),
    "enquiry_before_deadline": N_plural("The enquiry period must end at least {days} day before the deadline",
                                        "The enquiry period must end at least {days} days before the deadline",
                                        "days"),
    "opening_after_deadline": N_("The opening cannot be before the submission deadline"),
    "max_opening_delay": N_plural("The opening must be within {days} day of the deadline",
                                  "The opening must be within {days} days of the deadline", "days"),
}


def _check_policy(t: dict[str, Any], *, published_at: datetime, settings: Settings | None) -> None:
    problems = domain.check_timeline(
        method=t["method"], published_at=published_at, enquiry_end=t["enquiry_end"],
        submission_deadline=t["submission_deadline"], opening_time=t["opening_time"], policy=policy(settings))
    if problems:
        p = problems[0]
        raise InvalidInput(_TIMELINE_MESSAGES[p.rule], field=p.field, rule=p.rule, params=p.params)


# ------------------------------------------------------------------------------------------------ drafts

async def _insert_lots(tender_id: UUID, lots: list[LotCreate], state: str, now: datetime) -> None:
    values = []
    for i, lot in enumerate(lots):
        _check_lot(lot, f"lots[{i}]")
        values.append(pen_cents(lot.estimated_value, f"lots[{i}].estimated_value"))
    await db.execute(
        "INSERT INTO tender_lot (tender_id, number, title, description, estimated_value, classification_scheme,"
        " classification_code, quantity, unit, delivery_ubigeo, state, state_changed_at)"
        " SELECT $1, n, t, d, v, s, c, q, u, g, $11, $12 FROM unnest($2::int[], $3::text[], $4::text[],"
        " $5::bigint[], $6::text[], $7::text[], $8::numeric[], $9::text[], $10::text[])"
        " AS x(n, t, d, v, s, c, q, u, g)",
        tender_id, list(range(1, len(lots) + 1)), [lot.title for lot in lots], [lot.description for lot in lots],
        values, [lot.classification_scheme for lot in lots],
        [lot.classification_code for lot in lots], [lot.quantity for lot in lots], [lot.unit for lot in lots],
        [lot.delivery_ubigeo for lot in lots], state, now,
    )


async def create_tender(*, actor: Actor, settings: Settings, data: TenderCreate) -> UUID:
    """A new draft tender of the actor's agency."""
    require(actor, "agency", *OFFICER_ROLES)
    if actor.org_id is None:
        raise Forbidden(N_("Your role does not allow this action"))
    if data.consultancy and data.category != "services":
        raise InvalidInput(N_("Consultancies are services"), field="consultancy", rule="consultancy_is_service")
    _check_basic_timeline(data.enquiry_end, data.submission_deadline, data.opening_time)
    now = clock.now()
    tender_id = ids.new_id()
    method = domain.Method(data.method)
    await db.execute(
        "INSERT INTO tender (id, ocid, agency_id, created_by, title, description, method, procurement_method,"
        " category, consultancy, enquiry_end, submission_deadline, opening_time, standstill_days, state_changed_at,"
        " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $15)",
        tender_id, settings.process_ocid_prefix + str(tender_id), actor.org_id, actor.user_id, data.title,
        data.description,
        method.value, domain.OCDS_PROCUREMENT_METHOD[method], data.category, data.consultancy, data.enquiry_end,
        data.submission_deadline, data.opening_time, policy().for_method(method).standstill_business_days, now,
    )
    await _insert_lots(tender_id, data.lots, State.DRAFT, now)
    await audit.record(actor=actor, action="tender.created", entity_type="tender", entity_id=tender_id,
                       data={"title": data.title, "method": method.value, "lots": len(data.lots)})
    return tender_id


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (Decimal, UUID)):
        return str(value)
    return value


_TENDER_FIELDS = ("title", "description", "method", "category", "consultancy", "enquiry_end", "submission_deadline",
                  "opening_time")
_LOT_FIELDS = ("title", "estimated_value", "classification_scheme", "classification_code", "quantity", "unit",
               "delivery_ubigeo", "description")


async def update_tender(*, actor: Actor, tender_id: UUID, data: TenderUpdate, settings: Settings | None = None) -> None:
    """Edit a draft; after publication (enquiries or tendering), record an amendment with its reason."""
    t = await lock_tender(tender_id=tender_id)
    require_tender_officer(actor, t)
    state = State(t["state"])
    draft = state == State.DRAFT
    if not draft and state not in (State.PUBLISHED, State.TENDERING):
        raise Conflict(N_("A tender cannot be changed in state {state}"), field="state", rule="not_amendable",
                       params={"state": state.value})
    now = clock.now()
    if not draft:
        if data.reason is msgspec.UNSET:
            raise InvalidInput(N_("An amendment needs a reason"), field="reason", rule="required")
        if data.method is not msgspec.UNSET and data.method != t["method"]:
            raise InvalidInput(N_("The method cannot change after publication"), field="method",
                               rule="not_amendable")
        if data.lots is not msgspec.UNSET:
            raise InvalidInput(N_("Lots cannot be replaced after publication: change them with lot_changes or "
                                  "cancel a lot"), field="lots", rule="not_amendable")
        if t["submission_deadline"] <= now:
            raise DeadlinePassed(N_("The submission deadline has passed"), field="submission_deadline",
                                 rule="deadline_passed")

    changes: dict[str, Any] = {}
    new = dict(t)
    for name in _TENDER_FIELDS:
        value = getattr(data, name)
        if value is msgspec.UNSET or value == t[name]:
            continue
        changes[name] = {"from": _jsonable(t[name]), "to": _jsonable(value)}
        new[name] = value
    if (new["consultancy"] and new["category"] != "services"):
        raise InvalidInput(N_("Consultancies are services"), field="consultancy", rule="consultancy_is_service")
    _check_basic_timeline(new["enquiry_end"], new["submission_deadline"], new["opening_time"])

    lots = await load_lots(tender_id=tender_id)
    by_id = {lot["id"]: lot for lot in lots}
    lot_changes: list[tuple[UUID, dict[str, Any]]] = []
    if data.lot_changes is not msgspec.UNSET:
        for i, change in enumerate(data.lot_changes):
            lot = by_id.get(change.id)
            if lot is None:
                raise InvalidInput(N_("No such lot in this tender"), field=f"lot_changes[{i}].id", rule="lot")
            if lot["state"] in domain.FINAL:
                raise Conflict(N_("A cancelled lot cannot be changed"), field=f"lot_changes[{i}].id",
                               rule="not_amendable")
            diff = {}
            merged = dict(lot)
            for name in _LOT_FIELDS:
                value = getattr(change, name)
                if isinstance(value, Money):
                    value = pen_cents(value, f"lot_changes[{i}].{name}")
                if value is msgspec.UNSET or value == lot[name]:
                    continue
                diff[name] = {"from": _jsonable(lot[name]), "to": _jsonable(value)}
                merged[name] = value
            if diff:
                _check_lot(merged, f"lot_changes[{i}]")
                lot_changes.append((lot["id"], {k: merged[k] for k in diff}))
                changes.setdefault("lots", {})[str(lot["id"])] = diff
    if data.lots is not msgspec.UNSET:
        changes["lots_replaced"] = {"from": len(lots), "to": len(data.lots)}

    if not changes:
        return

    material = False
    deadline_before = t["submission_deadline"]
    if not draft:
        material = bool(domain.MATERIAL_TENDER_FIELDS.intersection(changes)) or any(
            domain.MATERIAL_LOT_FIELDS.intersection(diff) for diff in changes.get("lots", {}).values())
        if "submission_deadline" in changes and new["submission_deadline"] > deadline_before:
            # A later deadline alone is not material: nobody's offer has to change.
            material = bool(domain.MATERIAL_TENDER_FIELDS.intersection(set(changes) - {"submission_deadline"})) or \
                any(domain.MATERIAL_LOT_FIELDS.intersection(d) for d in changes.get("lots", {}).values())
        if new["submission_deadline"] <= now:
            raise InvalidInput(N_("The deadline must be in the future"), field="submission_deadline",
                               rule="deadline_in_past")
        if material:
            extended = domain.extended_deadline(now=now, deadline=new["submission_deadline"],
                                                policy=policy(settings))
            if extended != new["submission_deadline"]:
                shift = extended - new["submission_deadline"]
                new["submission_deadline"] = extended
                if new["opening_time"] < extended:
                    new["opening_time"] = new["opening_time"] + shift
                changes["submission_deadline"] = {"from": _jsonable(deadline_before), "to": _jsonable(extended),
                                                  "extended_by_policy": True}
                changes.setdefault("opening_time", {"from": _jsonable(t["opening_time"]),
                                                    "to": _jsonable(new["opening_time"])})
        _check_policy(new, published_at=t["published_at"], settings=settings)

    await db.execute(
        "UPDATE tender SET title = $2, description = $3, method = $4, procurement_method = $5, category = $6,"
        " consultancy = $7, enquiry_end = $8, submission_deadline = $9, opening_time = $10, standstill_days = $11,"
        " updated_at = $12, version = version + 1, amendment_count = amendment_count + $13 WHERE id = $1",
        tender_id, new["title"], new["description"], new["method"],
        domain.OCDS_PROCUREMENT_METHOD[domain.Method(new["method"])], new["category"], new["consultancy"],
        new["enquiry_end"], new["submission_deadline"], new["opening_time"],
        policy().for_method(new["method"]).standstill_business_days, now, 0 if draft else 1,
    )
    for lot_id, values in lot_changes:
        sets = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(values))
        await db.execute(f"UPDATE tender_lot SET {sets} WHERE id = $1", lot_id, *values.values())
    if data.lots is not msgspec.UNSET:
        await db.execute("DELETE FROM tender_lot WHERE tender_id = $1", tender_id)
        await _insert_lots(tender_id, data.lots, State.DRAFT, now)

    if draft:
        await audit.record(actor=actor, action="tender.edited", entity_type="tender", entity_id=tender_id,
                           data={"changes": changes})
        return

    await _record_amendment(actor=actor, t=t, now=now, reason=data.reason or "", changes=changes, material=material,
                            deadline_before=deadline_before, deadline_after=new["submission_deadline"],
                            title=new["title"])


async def _record_amendment(*, actor: Actor, t: dict[str, Any], now: datetime, reason: str,
                            changes: dict[str, Any], material: bool, deadline_before: datetime,
                            deadline_after: datetime, title: str) -> None:
    """The amendment record of a published tender (the caller has already counted it in
    tender.amendment_count): the numbered row, live bids to reconfirm when it is material, audit, outbox."""
    number = t["amendment_count"] + 1
    await db.execute(
        "INSERT INTO tender_amendment (tender_id, number, reason, changes, material, deadline_before, deadline_after,"
        " actor_user_id, actor_org_id, amended_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10)",
        t["id"], number, reason, msgspec.json.encode(changes).decode(), material, deadline_before,
        deadline_after, actor.user_id, actor.org_id, now,
    )
    reconfirm = 0
    if material:
        status = await db.execute(
            "UPDATE bid SET needs_reconfirmation = true WHERE tender_id = $1 AND status = 'live'", t["id"])
        reconfirm = int(status.split()[-1])
    await audit.record(actor=actor, action="tender.amended", entity_type="tender", entity_id=t["id"],
                       data={"number": number, "reason": reason, "changes": changes, "material": material,
                             "bids_to_reconfirm": reconfirm})
    await outbox.emit(topic=TOPIC_AMENDED, aggregate_type="tender", aggregate_id=t["id"], payload={
        "tender_id": str(t["id"]), "ocid": t["ocid"], "number": number, "material": material,
        "changed": sorted(changes), "reason": reason, "submission_deadline": _jsonable(deadline_after),
        "title": title,
    })


# ------------------------------------------------------------------------------------------------ states

async def _move(*, actor: Actor, t: dict[str, Any], action: Action, now: datetime, reason: str | None = None,
                lot_count: int = 1, extra_sets: str = "", extra_args: tuple[Any, ...] = (),
                target: State | None = None) -> dict[str, Any]:
    """Apply a tender-level action (domain.TenderStates): the tender row, the lots that go with it, audit and
    outbox. Raises Conflict naming the broken rule when the state machine refuses."""
    source = State(t["state"])
    lots = await load_lots(tender_id=t["id"])
    before = domain.TenderStates(source, tuple(State(x["state"]) for x in lots))
    try:
        after = before.apply(action, _facts(t, now, lot_count=lot_count, reason=reason))
    except IllegalTransition as exc:
        raise _illegal(exc) from None
    assert target is None or after.tender == target
    args: list[Any] = [t["id"], after.tender.value, now, *extra_args]
    await db.execute(
        f"UPDATE tender SET state = $2, state_changed_at = $3, updated_at = $3{extra_sets} WHERE id = $1", *args)
    await _write_lot_states(lots, after.lots, now, reason if action == Action.CANCEL else None)
    await audit.record(actor=actor, action=f"tender.{action.value}", entity_type="tender", entity_id=t["id"],
                       data={"from": source.value, "to": after.tender.value, "reason": reason})
    await outbox.emit(topic=TOPIC_STATE_CHANGED, aggregate_type="tender", aggregate_id=t["id"], payload={
        "tender_id": str(t["id"]), "ocid": t["ocid"], "from": source.value, "to": after.tender.value,
        "action": action.value, "at": now.isoformat(), "lot_id": None,
    })
    return {**t, "state": after.tender.value, "state_changed_at": now}


async def _write_lot_states(lots: list[dict[str, Any]], states: tuple[State, ...], now: datetime,
                            cancel_reason: str | None) -> None:
    changed = [(x["id"], s.value) for x, s in zip(lots, states, strict=False) if x["state"] != s]
    if changed:
        await db.execute(
            "UPDATE tender_lot SET state = x.s, state_changed_at = $3,"
            " cancel_reason = CASE WHEN x.s = 'cancelled' THEN coalesce($4::text, cancel_reason) ELSE cancel_reason END"
            " FROM unnest($1::uuid[], $2::text[]) AS x(i, s) WHERE tender_lot.id = x.i",
            [c[0] for c in changed], [c[1] for c in changed], now, cancel_reason)


def _facts(t: dict[str, Any], now: datetime, *, lot_count: int = 1, reason: str | None = None) -> Facts:
    return Facts(now=now, enquiry_end=t["enquiry_end"], submission_deadline=t["submission_deadline"],
                 opening_time=t["opening_time"], lot_count=lot_count, reason=reason)


_RULE_MESSAGES = {
    "not_allowed": N_("This action is not allowed while the tender is {state}"),
    "lots_required": N_("A tender needs at least one lot"),
    "timeline_required": N_("The timeline needs this date before publication"),
    "deadline_in_past": N_("The deadline must be in the future"),
    "enquiry_period_running": N_("The enquiry period has not ended"),
    "deadline_not_passed": N_("The submission deadline has not passed yet"),
    "reason_required": N_("A reason is required"),
}


def _illegal(exc: IllegalTransition) -> Conflict:
    return Conflict(_RULE_MESSAGES.get(exc.rule, _RULE_MESSAGES["not_allowed"]), field="state", rule=exc.rule,
                    params={"state": exc.state.value})


async def publish(*, actor: Actor, settings: Settings, tender_id: UUID) -> None:
    t = await lock_tender(tender_id=tender_id)
    require_tender_officer(actor, t)
    now = clock.now()
    lots = [lot for lot in await load_lots(tender_id=tender_id) if lot["state"] != State.CANCELLED]
    if t["state"] == State.DRAFT:
        _check_policy(t, published_at=now, settings=settings)
    # The tender's own data key for sealed bids, stored only wrapped by the key-encryption key.
    kek = settings.keys.sealing_key_bytes()
    wrapped = sealing.wrap_key(kek, sealing.new_data_key(), context=str(tender_id).encode())
    t = await _move(actor=actor, t=t, action=Action.PUBLISH, now=now, lot_count=len(lots),
                    extra_sets=", published_at = $3, key_id = $4, wrapped_key = $5",
                    extra_args=(sealing.key_fingerprint(kek), wrapped))
    await outbox.emit(topic=TOPIC_PUBLISHED, aggregate_type="tender", aggregate_id=tender_id, payload={
        "tender_id": str(tender_id), "ocid": t["ocid"], "title": t["title"], "method": t["method"],
        "procurement_method": t["procurement_method"], "category": t["category"], "consultancy": t["consultancy"],
        "agency_id": str(t["agency_id"]), "submission_deadline": t["submission_deadline"].isoformat(),
        "enquiry_end": t["enquiry_end"].isoformat(), "published_at": now.isoformat(),
        "lots": [{"id": str(lot["id"]), "number": lot["number"], "title": lot["title"],
                  "classification_scheme": lot["classification_scheme"],
                  "classification_code": lot["classification_code"], "delivery_ubigeo": lot["delivery_ubigeo"],
                  "estimated_value": lot["estimated_value"]} for lot in lots],
    })
    await advance_by_clock(actor=actor, settings=settings, tender_id=tender_id, locked=t)


async def advance_by_clock(*, actor: Actor, settings: Settings, tender_id: UUID,
                           locked: dict[str, Any] | None = None) -> str:
    """Apply every move the clock makes due (enquiries end, the deadline passes: the tender waits in `opening`
    for its quorum of authorised people, the clock never opens bids).

    Idempotent: under the tender's row lock, judged by the clock read after the lock; a tender with nothing
    due is left alone. Returns the state it leaves the tender in.
    """
    t = locked or await lock_tender(tender_id=tender_id)
    now = clock.now()
    while True:
        state = State(t["state"])
        if state == State.PUBLISHED and t["enquiry_end"] <= now:
            t = await _move(actor=actor, t=t, action=Action.START_TENDERING, now=now)
        elif state == State.TENDERING and t["submission_deadline"] <= now:
            t = await _move(actor=actor, t=t, action=Action.CLOSE, now=now)
        else:  # the opening is never the clock's: it waits for the quorum (tenders.bids.service.open_tender)
            return state.value


async def due_tender_ids(*, limit: int = 200) -> list[UUID]:
    """Tenders a clock move is due for (the sweeper's work list), read without locks."""
    now = clock.now()
    rows = await db.fetch(
        "SELECT id FROM tender WHERE (state = 'published' AND enquiry_end <= $1)"
        " OR (state = 'tendering' AND submission_deadline <= $1)"
        " ORDER BY submission_deadline LIMIT $2", now, limit)
    return [r["id"] for r in rows]


async def cancel(*, actor: Actor, tender_id: UUID, reason: str, lot_id: UUID | None = None) -> None:
    """Cancel the tender, or one lot (the tender follows when no lot is left), before the contract."""
    t = await lock_tender(tender_id=tender_id)
    require_tender_officer(actor, t)
    now = clock.now()
    if lot_id is None:
        await _move(actor=actor, t=t, action=Action.CANCEL, now=now, reason=reason,
                    extra_sets=", cancel_reason = $4", extra_args=(reason,))
        await outbox.emit(topic=TOPIC_CANCELLED, aggregate_type="tender", aggregate_id=tender_id, payload={
            "tender_id": str(tender_id), "ocid": t["ocid"], "lot_id": None, "reason": reason,
            "at": now.isoformat()})
        return
    await apply_lot_action(actor=actor, tender_id=tender_id, lot_id=lot_id, action=Action.CANCEL, reason=reason,
                           locked=t)
    await outbox.emit(topic=TOPIC_CANCELLED, aggregate_type="tender", aggregate_id=tender_id, payload={
        "tender_id": str(tender_id), "ocid": t["ocid"], "lot_id": str(lot_id), "reason": reason,
        "at": now.isoformat()})


async def apply_tender_action(*, actor: Actor, tender_id: UUID, action: Action | str,
                              reason: str | None = None) -> dict[str, Any]:
    """Move the whole tender (and the lots that follow it) by `action`; the caller has authorised."""
    t = await lock_tender(tender_id=tender_id)
    return await _move(actor=actor, t=t, action=Action(action), now=clock.now(), reason=reason)


async def apply_lot_action(*, actor: Actor, tender_id: UUID, lot_id: UUID, action: Action | str,
                           reason: str | None = None, locked: dict[str, Any] | None = None) -> dict[str, Any]:
    """Move one lot by `action` (award, declare_unsuccessful, contract, reopen_evaluation, cancel), then
    the tender to the state its lots decide. The caller has authorised `actor`. Returns the lot row."""
    t = locked or await lock_tender(tender_id=tender_id)
    require_authenticated(actor)
    lots = await load_lots(tender_id=tender_id)
    lot = next((x for x in lots if x["id"] == lot_id), None)
    if lot is None:
        raise NotFound(N_("Lot not found"))
    now = clock.now()
    action = Action(action)
    before = domain.TenderStates(State(t["state"]), tuple(State(x["state"]) for x in lots))
    index = next(i for i, x in enumerate(lots) if x["id"] == lot_id)
    try:
        after = before.apply_lot(index, action, _facts(t, now, reason=reason))
    except IllegalTransition as exc:
        raise _illegal(exc) from None
    target = after.lots[index]
    await _write_lot_states(lots, after.lots, now, reason if action == Action.CANCEL else None)
    await audit.record(actor=actor, action=f"lot.{action.value}", entity_type="tender_lot", entity_id=lot_id,
                       data={"tender_id": str(tender_id), "from": lot["state"], "to": target.value, "reason": reason})
    await outbox.emit(topic=TOPIC_STATE_CHANGED, aggregate_type="tender", aggregate_id=tender_id, payload={
        "tender_id": str(tender_id), "ocid": t["ocid"], "lot_id": str(lot_id), "from": lot["state"],
        "to": target.value, "action": action.value, "at": now.isoformat()})
    if after.tender != before.tender:
        await db.execute(
            "UPDATE tender SET state = $2::text, state_changed_at = $3, updated_at = $3,"
            " cancel_reason = CASE WHEN $2::text = 'cancelled' THEN $4::text ELSE cancel_reason END WHERE id = $1",
            tender_id, after.tender.value, now, reason)
        await audit.record(actor=actor, action="tender.derived_state", entity_type="tender", entity_id=tender_id,
                           data={"from": before.tender.value, "to": after.tender.value})
        await outbox.emit(topic=TOPIC_STATE_CHANGED, aggregate_type="tender", aggregate_id=tender_id, payload={
            "tender_id": str(tender_id), "ocid": t["ocid"], "lot_id": None, "from": before.tender.value,
            "to": after.tender.value, "action": action.value, "at": now.isoformat()})
    return {**lot, "state": target.value}


# ------------------------------------------------------------------------------------------------ reads

async def get_tender(*, actor: Actor, tender_id: UUID) -> TenderRead:
    t = await load_tender(tender_id=tender_id)
    if not can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    lots = await load_lots(tender_id=tender_id)
    docs = await list_documents(actor=actor, tender_id=tender_id, tender=t, latest_only=True)
    amendments = await db.fetch(
        "SELECT number, reason, changes, material, amended_at, deadline_before, deadline_after"
        " FROM tender_amendment WHERE tender_id = $1 ORDER BY number", tender_id)
    return TenderRead(
        id=t["id"], ocid=t["ocid"], agency_id=t["agency_id"], title=t["title"], description=t["description"],
        method=t["method"], procurement_method=t["procurement_method"], category=t["category"],
        consultancy=t["consultancy"], currency=t["currency"].strip(), state=t["state"],
        standstill_days=t["standstill_days"], amendment_count=t["amendment_count"],
        lots=[LotRead(**{k: lot[k] for k in LotRead.__struct_fields__ if k != "estimated_value"},
                      estimated_value=Money(amount=lot["estimated_value"], currency=t["currency"].strip()))
              for lot in lots],
        documents=docs,
        amendments=[AmendmentRead(number=a["number"], reason=a["reason"],
                                  changes=msgspec.json.decode(a["changes"]) if isinstance(a["changes"], str)
                                  else a["changes"], material=a["material"], amended_at=a["amended_at"],
                                  deadline_before=a["deadline_before"], deadline_after=a["deadline_after"])
                    for a in amendments],
        enquiry_end=t["enquiry_end"], submission_deadline=t["submission_deadline"], opening_time=t["opening_time"],
        published_at=t["published_at"], opened_at=t["opened_at"], cancel_reason=t["cancel_reason"],
    )


# ------------------------------------------------------------------------------------------------ documents

async def check_document_uploader(*, actor: Actor, tender_id: UUID) -> None:
    """May `actor` upload documents to this tender at all? (Checked again under the lock by upload_document;
    this lets the API refuse before reading the file.)"""
    require_tender_officer(actor, await load_tender(tender_id=tender_id))


async def upload_document(*, actor: Actor, tender_id: UUID, title: str, filename: str, media_type: str,
                          content: bytes, document_id: UUID | None = None, lot_id: UUID | None = None,
                          reason: str | None = None, settings: Settings | None = None) -> DocumentRead:
    """Store a document (or the next version of `document_id`). After publication it is an amendment."""
    t = await lock_tender(tender_id=tender_id)
    require_tender_officer(actor, t)
    state = State(t["state"])
    if state not in (State.DRAFT, State.PUBLISHED, State.TENDERING):
        raise Conflict(N_("A tender cannot be changed in state {state}"), field="state", rule="not_amendable",
                       params={"state": state.value})
    if not content:
        raise InvalidInput(N_("The file is empty"), field="file", rule="required")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise InvalidInput(N_("The file is larger than {mb} MB"), field="file", rule="size",
                           params={"mb": MAX_DOCUMENT_BYTES // (1024 * 1024)})
    if not title.strip() or len(title) > 300:
        raise InvalidInput(N_("Give the document a title (1 to 300 characters)"), field="title", rule="length")
    now = clock.now()
    if state != State.DRAFT:
        if not reason or len(reason.strip()) < 3:
            raise InvalidInput(N_("An amendment needs a reason"), field="reason", rule="required")
        if t["submission_deadline"] <= now:
            raise DeadlinePassed(N_("The submission deadline has passed"), field="submission_deadline",
                                 rule="deadline_passed")
    if lot_id is not None and not await db.fetchrow(
            "SELECT 1 FROM tender_lot WHERE id = $1 AND tender_id = $2", lot_id, tender_id):
        raise InvalidInput(N_("No such lot in this tender"), field="lot_id", rule="lot")
    version = 1
    if document_id is not None:
        row = await db.fetchrow("SELECT max(version) AS v FROM tender_document WHERE tender_id = $1"
                                " AND document_id = $2", tender_id, document_id)
        if row is None or row["v"] is None:
            raise InvalidInput(N_("No such document in this tender"), field="document_id", rule="document")
        version = row["v"] + 1
    else:
        document_id = ids.new_id()
    digest = hashlib.sha256(content).hexdigest()
    row = await db.fetchone(
        "INSERT INTO tender_document (tender_id, document_id, version, lot_id, title, filename, media_type, size,"
        " sha256, content, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        " RETURNING id", tender_id, document_id, version, lot_id, title.strip(), filename, media_type, len(content),
        digest, content, actor.user_id, now)
    await audit.record(actor=actor, action="tender.document_uploaded", entity_type="tender", entity_id=tender_id,
                       data={"document_id": str(document_id), "version": version, "sha256": digest,
                             "filename": filename})
    if state != State.DRAFT:
        # A new or changed document after publication is a material amendment.
        await _document_amendment(actor=actor, t=t, now=now, reason=reason or "", settings=settings,
                                  change={"document_id": str(document_id), "version": version, "sha256": digest,
                                          "title": title})
    return DocumentRead(id=row["id"], document_id=document_id, version=version, title=title.strip(),
                        filename=filename, media_type=media_type, size=len(content), sha256=digest, uploaded_at=now,
                        lot_id=lot_id)


async def _document_amendment(*, actor: Actor, t: dict[str, Any], now: datetime, reason: str,
                              change: dict[str, Any], settings: Settings | None) -> None:
    deadline = t["submission_deadline"]
    extended = domain.extended_deadline(now=now, deadline=deadline, policy=policy(settings))
    changes: dict[str, Any] = {"documents": change}
    if extended != deadline:
        opening = t["opening_time"] + (extended - deadline) if t["opening_time"] < extended else t["opening_time"]
        changes["submission_deadline"] = {"from": deadline.isoformat(), "to": extended.isoformat(),
                                          "extended_by_policy": True}
        await db.execute("UPDATE tender SET submission_deadline = $2, opening_time = $3 WHERE id = $1",
                         t["id"], extended, opening)
    await db.execute("UPDATE tender SET amendment_count = amendment_count + 1, version = version + 1,"
                     " updated_at = $2 WHERE id = $1", t["id"], now)
    await _record_amendment(actor=actor, t=t, now=now, reason=reason, changes=changes, material=True,
                            deadline_before=deadline, deadline_after=extended, title=t["title"])


async def list_documents(*, actor: Actor, tender_id: UUID, tender: dict[str, Any] | None = None,
                         latest_only: bool = False) -> list[DocumentRead]:
    t = tender or await load_tender(tender_id=tender_id)
    if not can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    distinct = "DISTINCT ON (document_id)" if latest_only else ""
    rows = await db.fetch(
        f"SELECT {distinct} id, document_id, version, title, filename, media_type, size, sha256, uploaded_at, lot_id"
        " FROM tender_document WHERE tender_id = $1 ORDER BY document_id, version DESC", tender_id)
    rows.sort(key=lambda r: (r["uploaded_at"], r["version"]))
    return [DocumentRead(**{**r, "sha256": r["sha256"].strip()}) for r in rows]


async def get_document(*, actor: Actor, tender_id: UUID, document_id: UUID,
                       version: int | None = None) -> dict[str, Any]:
    t = await load_tender(tender_id=tender_id)
    if not can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    row = await db.fetchrow(
        "SELECT document_id, version, title, filename, media_type, size, sha256, content FROM tender_document"
        " WHERE tender_id = $1 AND document_id = $2 AND ($3::int IS NULL OR version = $3)"
        " ORDER BY version DESC LIMIT 1", tender_id, document_id, version)
    if row is None:
        raise NotFound(N_("Document not found"))
    row["sha256"] = row["sha256"].strip()
    return row


# ------------------------------------------------------------------------------------------------ enquiries

async def ask(*, actor: Actor, tender_id: UUID, data: EnquiryCreate) -> EnquiryRead:
    """A supplier's question, during the enquiry period."""
    require(actor, "supplier", "bidder", "supplier_admin")
    await suppliers.require_good_standing(org_id=own_org(actor))
    t = await lock_tender(tender_id=tender_id)  # numbers enquiries one at a time
    if not can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    now = clock.now()
    if t["state"] not in (State.PUBLISHED, State.TENDERING) or now >= t["enquiry_end"]:
        raise DeadlinePassed(N_("The enquiry period has ended"), field="enquiry_end", rule="enquiry_period_over")
    if data.lot_id is not None and not await db.fetchrow(
            "SELECT 1 FROM tender_lot WHERE id = $1 AND tender_id = $2", data.lot_id, tender_id):
        raise InvalidInput(N_("No such lot in this tender"), field="lot_id", rule="lot")
    row = await db.fetchone(
        "INSERT INTO tender_enquiry (tender_id, number, lot_id, question, asker_org_id, asker_user_id, asked_at)"
        " SELECT $1, coalesce(max(number), 0) + 1, $2, $3, $4, $5, $6 FROM tender_enquiry WHERE tender_id = $1"
        " RETURNING id, number", tender_id, data.lot_id, data.question, actor.org_id, actor.user_id, now)
    await audit.record(actor=actor, action="tender.enquiry_asked", entity_type="tender", entity_id=tender_id,
                       data={"enquiry_id": str(row["id"]), "number": row["number"]})
    return EnquiryRead(id=row["id"], number=row["number"], question=data.question, asked_at=now, mine=True,
                       lot_id=data.lot_id)


async def answer(*, actor: Actor, tender_id: UUID, enquiry_id: UUID, text: str) -> EnquiryRead:
    """Publish an answer to an enquiry. A published answer is never rewritten (issue 17, point 8): answering
    again publishes a correction, a new dated answer numbered after the one it corrects; the enquiry shows
    the latest and its whole history, and the correction is notified like the first answer."""
    t = await lock_tender(tender_id=tender_id)
    require_tender_officer(actor, t)
    if t["state"] not in (State.PUBLISHED, State.TENDERING):
        raise Conflict(N_("This action is not allowed while the tender is {state}"), field="state",
                       rule="not_allowed", params={"state": t["state"]})
    now = clock.now()
    row = await db.fetchrow(
        "UPDATE tender_enquiry SET answer = $3, answered_by = $4, answered_at = $5 WHERE id = $1 AND tender_id = $2"
        " RETURNING id, number, question, asked_at, lot_id, answer, answered_at, asker_org_id",
        enquiry_id, tender_id, text, actor.user_id, now)
    if row is None:
        raise NotFound(N_("Enquiry not found"))
    # Numbered under the tender's lock (held above), so two answers at once get 1 and 2, never both 1.
    published = await db.fetchrow(
        "INSERT INTO tender_enquiry_answer (enquiry_id, number, answer, answered_by, answered_at)"
        " SELECT $1, coalesce(max(number), 0) + 1, $2, $3, $4 FROM tender_enquiry_answer WHERE enquiry_id = $1"
        " RETURNING number", enquiry_id, text, actor.user_id, now)
    assert published is not None
    number = published["number"]
    corrects = number - 1 if number > 1 else None
    await audit.record(actor=actor, action="tender.enquiry_answered" if corrects is None
                       else "tender.enquiry_answer_corrected", entity_type="tender", entity_id=tender_id,
                       data={"enquiry_id": str(enquiry_id), "number": row["number"], "answer_number": number})
    await outbox.emit(topic=TOPIC_ENQUIRY_ANSWERED, aggregate_type="tender", aggregate_id=tender_id, payload={
        "tender_id": str(tender_id), "ocid": t["ocid"], "title": t["title"], "enquiry_id": str(enquiry_id),
        "number": row["number"], "lot_id": str(row["lot_id"]) if row["lot_id"] else None,
        "question": row["question"], "answer": text, "asker_org_id": str(row["asker_org_id"]),
        "answered_at": now.isoformat(), "answer_number": number, "corrects": corrects})
    history = await _answers(enquiry_ids=[enquiry_id])
    return EnquiryRead(mine=False, answers=history.get(enquiry_id, []), **row)


async def _answers(*, enquiry_ids: list[UUID]) -> dict[UUID, list[EnquiryAnswerRead]]:
    """Every published answer of these enquiries, oldest first."""
    out: dict[UUID, list[EnquiryAnswerRead]] = {}
    for r in await db.fetch("SELECT enquiry_id, number, answer, answered_at FROM tender_enquiry_answer"
                            " WHERE enquiry_id = ANY($1::uuid[]) ORDER BY enquiry_id, number", enquiry_ids):
        out.setdefault(r["enquiry_id"], []).append(EnquiryAnswerRead(
            number=r["number"], answer=r["answer"], answered_at=r["answered_at"],
            corrects=r["number"] - 1 if r["number"] > 1 else None))
    return out


async def list_enquiries(*, actor: Actor, tender_id: UUID) -> list[EnquiryRead]:
    """Public questions and answers (each with its history of corrections); who asked is shown only to the
    asker and to the owning agency."""
    t = await load_tender(tender_id=tender_id)
    if not can_see(actor, t):
        raise NotFound(N_("Tender not found"))
    owner = actor.member_of(t["agency_id"])
    rows = await db.fetch(
        "SELECT id, number, question, asked_at, lot_id, answer, answered_at, asker_org_id FROM tender_enquiry"
        " WHERE tender_id = $1 ORDER BY number", tender_id)
    history = await _answers(enquiry_ids=[r["id"] for r in rows if r["answer"] is not None])
    out = []
    for r in rows:
        mine = actor.org_id is not None and r["asker_org_id"] == actor.org_id
        out.append(EnquiryRead(id=r["id"], number=r["number"], question=r["question"], asked_at=r["asked_at"],
                               mine=mine, lot_id=r["lot_id"], answer=r["answer"], answered_at=r["answered_at"],
                               asker_org_id=r["asker_org_id"] if owner else None,
                               answers=history.get(r["id"], [])))
    return out


__all__ = [
    "SYSTEM", "advance_by_clock", "answer", "apply_lot_action", "apply_tender_action", "ask", "can_see", "cancel",
    "configure_policy", "create_tender", "due_tender_ids", "get_document", "get_tender", "list_documents",
    "list_enquiries", "load_lots", "load_tender", "lock_tender", "policy", "publish", "require_tender_officer",
    "update_tender", "upload_document",
]

"""The audit trail: an event for every state change, written in the same transaction.

Tamper evidence without a global lock on hot paths
---------------------------------------------------
Writers only INSERT a row (with the id of their transaction, `txid`). They take no lock and read no
shared row, so hundreds of concurrent bids never queue behind each other for the audit trail.

The chain is built afterwards by `chain_pending()` (an arq job, and every `audit verify`): under an
advisory lock it takes the events whose transaction is older than every transaction still running
(`txid < local_xmin()`, the oldest transaction still running in this database: those can no longer change
and no new event can appear among them), in (txid, id) order, gives each the next gap-free `seq`, and sets
`hash = sha256(prev_hash + canonical(event))`. A trigger freezes a chained event. Every so often the
head of the chain is signed with the platform's Ed25519 key (`audit_checkpoint`), and the checkpoints are
published, so a rewrite of history by someone with database access shows as a broken link or a
checkpoint that no longer matches.

Why concurrent writers never serialise here
-------------------------------------------
* `record()` is a plain INSERT. The id comes from an identity sequence (sequences are not
  transactional and never block), `txid` from `pg_current_xact_id()`. No "previous hash" is read at
  write time, so there is no hot row to lock and no ordering to agree on inside the request.
* The chainer's advisory lock is taken only by chainers. Writers never ask for it, and the chainer only
  UPDATEs rows whose transactions have already finished, so no writer ever waits on a row it holds.
* Order is decided after the fact: by the time an event's txid is below the snapshot's xmin, every
  transaction that could still insert a smaller (txid, id) has finished, so the chain is appended to,
  never rewritten, and an event whose transaction commits late is chained after it commits, not
  skipped. (An idle-in-transaction session in this database holds the watermark back and so delays
  chaining; `verify()` reports how many events are still pending. Sessions of other databases on the same
  server do not, when the role may see their transaction ids: see core/migrations, local_xmin.)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from marketplace.core import clock, db
from marketplace.core.actor import Actor

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder(order="sorted")

CHAIN_LOCK = 7_300_002  # advisory lock key: one chainer at a time (writers never take it)
GENESIS_HASH = "0" * 64  # prev_hash of seq 1
CHAIN_BATCH = 1000
DEFAULT_CHECKPOINT_EVERY = 1000  # events
DEFAULT_CHECKPOINT_SECONDS = 300  # seconds
_VERIFY_BATCH = 5000

_EVENT_COLUMNS = ("id, seq, txid::text AS txid, occurred_at, actor_user_id, actor_org_id, action, entity_type,"
                  " entity_id, data::text AS data, prev_hash, hash")


# The head of the INSERT `record()` runs. A hot path that must write its audit event in the same statement
# as its own rows (one round trip: the bid, the auction lance) folds in `INSERT ... SELECT` with this head, in
# this column order, and passes `encode(data)` for the jsonb.
INSERT = "INSERT INTO audit_event (occurred_at, actor_user_id, actor_org_id, action, entity_type, entity_id, data)"


def encode(data: dict[str, Any] | None) -> str:
    """An event's `data` as the jsonb text `record()` stores."""
    return _encoder.encode(data or {}).decode()


async def record(
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: Any,
    data: dict[str, Any] | None = None,
) -> None:
    """Write an audit event in the current transaction. `data` must hold no sealed content.

    An INSERT and nothing else: no lock, no read of the chain head (see the module docstring). Outside a
    unit of work it raises NoTransaction: an event must commit with the change it records."""
    db.require_transaction("audit.record()")
    await db.execute(INSERT + " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
                     clock.now(), actor.user_id, actor.org_id, action, entity_type, str(entity_id), encode(data))


# --- canonical forms -------------------------------------------------------------------------------

def _ts(value: datetime) -> str:
    """RFC 3339 UTC with microseconds, always the same width: what timestamptz stores."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_value(data: Any) -> Any:
    if isinstance(data, (str, bytes)):
        return msgspec.json.decode(data)
    return data


def canonical_event(row: Mapping[str, Any]) -> bytes:
    """The bytes an event's hash covers, built from the row as read back from PostgreSQL (so that
    `verify()` recomputes exactly what `chain_pending()` hashed). Keys sorted, no whitespace."""
    return _encoder.encode({
        "id": row["id"],
        "seq": row["seq"],
        "txid": str(row["txid"]),
        "occurred_at": _ts(row["occurred_at"]),
        "actor_user_id": str(row["actor_user_id"]) if row["actor_user_id"] is not None else None,
        "actor_org_id": str(row["actor_org_id"]) if row["actor_org_id"] is not None else None,
        "action": row["action"],
        "entity_type": row["entity_type"],
        "entity_id": row["entity_id"],
        "data": _json_value(row["data"]),
    })


def event_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """sha256(prev_hash + canonical(event)), hex."""
    return hashlib.sha256(prev_hash.encode() + canonical_event(row)).hexdigest()


def checkpoint_message(*, seq: int, hash: str, signed_at: datetime, key_id: str) -> bytes:
    """The exact bytes a checkpoint's Ed25519 signature covers (published with each checkpoint)."""
    return _encoder.encode({"seq": seq, "hash": hash, "signed_at": _ts(signed_at), "key_id": key_id})


def _b64(raw: bytes) -> str:

    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- chaining --------------------------------------------------------------------------------------

async def _chain_batch(limit: int) -> tuple[int, bool]:
    """Chain up to `limit` finished events in the current transaction. Returns (chained, lock_held)."""
    got = await db.fetchrow("SELECT pg_try_advisory_xact_lock($1) AS ok", CHAIN_LOCK)
    if not got or not got["ok"]:
        return 0, False
    head = await db.fetchrow("SELECT seq, hash FROM audit_event WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1")
    seq, prev = (head["seq"], head["hash"]) if head else (0, GENESIS_HASH)
    # Below the watermark only: these transactions have all finished, so no event can still appear
    # before them in (txid, id) order. Read back from the table, exactly as verify() will read them.
    rows = await db.fetch(
        f"SELECT {_EVENT_COLUMNS} FROM audit_event"
        " WHERE seq IS NULL AND txid < (SELECT local_xmin())"
        " ORDER BY audit_event.txid, audit_event.id LIMIT $1",  # the xid8 column, not the text output column
        limit,
    )
    if not rows:
        return 0, True
    ids, seqs, prevs, hashes = [], [], [], []
    for row in rows:
        seq += 1
        if seq % 100 == 0:
            await asyncio.sleep(0)  # hashing a batch is CPU work: let the worker's drains run meanwhile
        row["seq"] = seq
        h = event_hash(prev, row)
        ids.append(row["id"])
        seqs.append(seq)
        prevs.append(prev)
        hashes.append(h)
        prev = h
    await db.execute(
        "UPDATE audit_event e SET seq = u.seq, prev_hash = u.prev_hash, hash = u.hash"
        " FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[]) AS u(id, seq, prev_hash, hash)"
        " WHERE e.id = u.id AND e.seq IS NULL",
        ids, seqs, prevs, hashes,
    )
    return len(rows), True


async def _maybe_checkpoint(private_key: Ed25519PrivateKey, key_id: str, every: int, seconds: float,
                            force: bool = False) -> bool:
    """Sign the chain head when `every` events or `seconds` have passed since the last checkpoint."""
    head = await db.fetchrow("SELECT seq, hash FROM audit_event WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1")
    if head is None:
        return False
    last = await db.fetchrow("SELECT seq, signed_at FROM audit_checkpoint ORDER BY seq DESC LIMIT 1")
    now = clock.now()
    if last is not None:
        if head["seq"] <= last["seq"]:
            return False
        due = (force or head["seq"] - last["seq"] >= every
               or now - last["signed_at"] >= timedelta(seconds=seconds))
        if not due:
            return False
    signed_at = now
    message = checkpoint_message(seq=head["seq"], hash=head["hash"], signed_at=signed_at, key_id=key_id)
    signature = _b64(private_key.sign(message))
    await db.execute(
        "INSERT INTO audit_checkpoint (seq, hash, signed_at, key_id, signature) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (seq) DO NOTHING",
        head["seq"], head["hash"], signed_at, key_id, signature,
    )
    return True


async def chain_pending(
    settings: Any = None,
    *,
    batch: int = CHAIN_BATCH,
    checkpoint_every: int | None = None,
    checkpoint_seconds: float | None = None,
    force_checkpoint: bool = False,
) -> int:
    """Chain every finished, unchained event; sign checkpoints when due (when `settings` gives a key).

    Runs in its own transactions (one per batch), so call it outside a unit of work. Safe to run
    concurrently: a second chainer finds the advisory lock taken and returns at once. Returns how many
    events were chained."""
    if db.in_unit_of_work():
        raise db.NoTransaction("chain_pending() runs its own transactions; call it outside a unit of work")
    key = settings.keys.signing_private_key() if settings is not None else None
    key_id = settings.signing_key_id if settings is not None else ""
    every = checkpoint_every or getattr(settings, "audit_checkpoint_every", None) or DEFAULT_CHECKPOINT_EVERY
    seconds = (checkpoint_seconds if checkpoint_seconds is not None
               else getattr(settings, "audit_checkpoint_seconds", None) or DEFAULT_CHECKPOINT_SECONDS)
    size = min(batch, every)
    total = 0
    while True:
        async with db.unit_of_work():
            chained, held = await _chain_batch(size)
            if not held:  # another chainer is at work: it will chain what we would have
                return total
            total += chained
            done = chained < size
            if key is not None:
                await _maybe_checkpoint(key, key_id, every, seconds, force=force_checkpoint and done)
        if done:
            return total


# --- verification ----------------------------------------------------------------------------------

class BrokenLink(msgspec.Struct, frozen=True):
    seq: int
    id: int | None
    reason: str


class BadCheckpoint(msgspec.Struct, frozen=True):
    seq: int
    key_id: str
    reason: str


class VerifyReport(msgspec.Struct, frozen=True):
    ok: bool
    events_checked: int
    head_seq: int
    head_hash: str | None
    first_broken: BrokenLink | None
    checkpoints_checked: int
    bad_checkpoints: list[BadCheckpoint]
    pending: int
    verified_at: datetime


def public_keys(settings: Any) -> dict[str, Ed25519PublicKey]:
    """The keys checkpoints may be signed with, by key id."""
    return {settings.signing_key_id: settings.keys.signing_private_key().public_key()}


async def verify(settings: Any, *, chain: bool = False) -> VerifyReport:
    """Walk the whole chain and every checkpoint; report the first broken link and any bad checkpoint.

    `chain=True` first chains what is pending (the CLI does; the public endpoint only reads). The walk
    runs in one REPEATABLE READ, read-only transaction, so a chainer working meanwhile does not confuse it,
    and in batches, so memory stays flat however long the trail."""
    if chain:
        await chain_pending(settings)
    keys = public_keys(settings)
    events = 0
    broken: BrokenLink | None = None
    hashes_at: dict[int, str] = {}
    bad: list[BadCheckpoint] = []
    async with db.pool().acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        checkpoints = [dict(r) for r in await conn.fetch(
            "SELECT seq, hash, signed_at, key_id, signature FROM audit_checkpoint ORDER BY seq")]
        wanted = {c["seq"] for c in checkpoints}
        pending = await conn.fetchval("SELECT count(*) FROM audit_event WHERE seq IS NULL")
        expected_seq, prev = 1, GENESIS_HASH
        head_hash: str | None = None
        last_seq = 0
        while True:
            rows = await conn.fetch(
                f"SELECT {_EVENT_COLUMNS} FROM audit_event WHERE seq > $1 ORDER BY seq LIMIT $2",
                last_seq, _VERIFY_BATCH)
            if not rows:
                break
            for r in rows:
                row = dict(r)
                last_seq = row["seq"]
                events += 1
                head_hash = row["hash"]
                if row["seq"] in wanted:
                    hashes_at[row["seq"]] = row["hash"]
                if broken is not None:
                    continue
                if row["seq"] != expected_seq:
                    broken = BrokenLink(seq=expected_seq, id=None,
                                        reason=f"event seq {expected_seq} is missing (next found: {row['seq']})")
                elif row["prev_hash"] != prev:
                    broken = BrokenLink(seq=row["seq"], id=row["id"],
                                        reason="prev_hash does not match the previous event's hash")
                elif event_hash(prev, row) != row["hash"]:
                    broken = BrokenLink(seq=row["seq"], id=row["id"],
                                        reason="hash does not match the event's content")
                expected_seq = row["seq"] + 1
                prev = row["hash"]
    for c in checkpoints:
        key = keys.get(c["key_id"])
        if key is None:
            bad.append(BadCheckpoint(seq=c["seq"], key_id=c["key_id"], reason="signed with an unknown key"))
            continue
        message = checkpoint_message(seq=c["seq"], hash=c["hash"], signed_at=c["signed_at"], key_id=c["key_id"])
        try:
            key.verify(_unb64(c["signature"]), message)
        except (InvalidSignature, ValueError):
            bad.append(BadCheckpoint(seq=c["seq"], key_id=c["key_id"], reason="bad signature"))
            continue
        if hashes_at.get(c["seq"]) != c["hash"]:
            reason = ("the chain has no event at this seq" if c["seq"] not in hashes_at
                      else "the checkpoint no longer matches the chain")
            bad.append(BadCheckpoint(seq=c["seq"], key_id=c["key_id"], reason=reason))
    return VerifyReport(
        ok=broken is None and not bad,
        events_checked=events,
        head_seq=last_seq,
        head_hash=head_hash,
        first_broken=broken,
        checkpoints_checked=len(checkpoints),
        bad_checkpoints=bad,
        pending=int(pending or 0),
        verified_at=clock.now(),
    )

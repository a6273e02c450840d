"""The audit trail in public: verify the chain, the signed checkpoints, the platform's public key.

GET /api/v1/audit/verify        anyone: walk the hash chain and check every checkpoint's signature
GET /api/v1/audit/checkpoints   anyone: the signed checkpoints (keyset pages), with the public key
GET /api/v1/keys                anyone: the platform's Ed25519 public key and key id (checkpoints, receipts)
GET /api/v1/audit/events        oversight bodies and the platform: one entity's trail
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import get
from litestar.params import QueryParameter

from marketplace.core import audit, db
from marketplace.core.actor import require
from marketplace.core.deps import ActorDep, SettingsDep
from marketplace.core.errors import InvalidInput
from marketplace.core.i18n import N_
from marketplace.settings import Settings


class PublicKey(msgspec.Struct):
    kid: str
    kty: str
    crv: str
    x: str
    alg: str = "EdDSA"
    use: str = "sig"


class KeysRead(msgspec.Struct):
    key_id: str
    algorithm: str
    public_key: str  # raw 32-byte Ed25519 public key, base64url without padding
    keys: list[PublicKey]  # the same as a JWK Set (RFC 8037)


class CheckpointRead(msgspec.Struct):
    seq: int
    hash: str
    signed_at: datetime
    key_id: str
    signature: str  # Ed25519 over `message`, base64url without padding
    message: str  # the exact signed bytes (canonical JSON)


class CheckpointPage(msgspec.Struct):
    items: list[CheckpointRead]
    next_cursor: str | None
    key_id: str
    algorithm: str
    public_key: str


class AuditEventRead(msgspec.Struct):
    id: int
    seq: int | None  # None until the chainer has linked it (seconds)
    occurred_at: datetime
    actor_user_id: UUID | None
    actor_org_id: UUID | None
    action: str
    entity_type: str
    entity_id: str
    data: dict[str, Any]
    prev_hash: str | None
    hash: str | None
    # True: a bid's event before its tender's opening, shown without who acted or what was recorded
    redacted: bool = False


class AuditEventPage(msgspec.Struct):
    items: list[AuditEventRead]
    next_cursor: str | None


def keys_of(settings: Settings) -> KeysRead:
    pub = settings.keys.signing_public_key_b64()
    return KeysRead(key_id=settings.signing_key_id, algorithm="Ed25519", public_key=pub,
                    keys=[PublicKey(kid=settings.signing_key_id, kty="OKP", crv="Ed25519", x=pub)])


@get("/api/v1/keys", tags=["audit"], summary="The platform's Ed25519 public key (audit checkpoints, bid receipts)",
     sync_to_thread=False)
def platform_keys(settings: SettingsDep) -> KeysRead:
    return keys_of(settings)


# One verification at a time per process: concurrent callers share the walk in flight, so the public
# endpoint cannot be made to hash the whole trail once per request.
_inflight: dict[str, asyncio.Future[audit.VerifyReport]] = {}


async def _verify_shared(settings: Settings) -> audit.VerifyReport:
    fut = _inflight.get("verify")
    if fut is not None and not fut.done():
        return await asyncio.shield(fut)
    fut = asyncio.get_running_loop().create_future()
    _inflight["verify"] = fut
    try:
        report = await audit.verify(settings)
        fut.set_result(report)
        return report
    except Exception as exc:
        fut.set_exception(exc)
        fut.exception()  # mark retrieved: waiters re-raise it, nobody else needs to
        raise
    finally:
        if not fut.done():
            fut.cancel()
        _inflight.pop("verify", None)


@get("/api/v1/audit/verify", tags=["audit"], summary="Verify the audit trail's hash chain and signed checkpoints")
async def verify_chain(settings: SettingsDep) -> audit.VerifyReport:
    return await _verify_shared(settings)


@get("/api/v1/audit/checkpoints", tags=["audit"], summary="Signed checkpoints of the audit chain, oldest first")
async def checkpoints(
    settings: SettingsDep,
    limit: Annotated[int, QueryParameter(ge=1, le=500, description="page size")] = 100,
    after: Annotated[str | None, QueryParameter(pattern=r"^[0-9]{1,18}$",
                                           description="`next_cursor` of the previous page")] = None,
) -> CheckpointPage:
    rows = await db.fetch(
        "SELECT seq, hash, signed_at, key_id, signature FROM audit_checkpoint WHERE seq > $1 ORDER BY seq LIMIT $2",
        int(after or 0), limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        CheckpointRead(**r, message=audit.checkpoint_message(
            seq=r["seq"], hash=r["hash"], signed_at=r["signed_at"], key_id=r["key_id"]).decode())
        for r in rows
    ]
    k = keys_of(settings)
    return CheckpointPage(items=items, next_cursor=str(rows[-1]["seq"]) if more and rows else None,
                          key_id=k.key_id, algorithm=k.algorithm, public_key=k.public_key)


@get("/api/v1/audit/events", tags=["audit"], summary="One entity's audit trail (oversight bodies and the platform)")
async def entity_events(
    actor: ActorDep,
    entity_type: Annotated[str | None, QueryParameter(min_length=1, max_length=64,
                                                 description="required; e.g. tender, bid, contract")] = None,
    entity_id: Annotated[str | None, QueryParameter(min_length=1, max_length=200, description="required")] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500, description="page size")] = 100,
    after: Annotated[str | None, QueryParameter(pattern=r"^[0-9]{1,18}$",
                                           description="`next_cursor` of the previous page")] = None,
) -> AuditEventPage:
    require(actor, ("oversight", "platform"))
    # Checked here rather than by the framework so the problem names the field (query.entity_id).
    for name, value in (("entity_type", entity_type), ("entity_id", entity_id)):
        if not value:
            raise InvalidInput(N_("Give the entity's type and id"), field=f"query.{name}", rule="required")
    rows = await db.fetch(_EVENTS, entity_type, entity_id, int(after or 0), limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [_redacted(r) if r["sealed"] else _event(r) for r in rows]
    return AuditEventPage(items=items, next_cursor=str(rows[-1]["id"]) if more and rows else None)


# A bid's events (every one names its tender in data.tender_id) are sealed until that tender's opening: who bid,
# and when, is nobody's business before then, oversight and platform admins included (issue 17, finding 7).
# A tender that cannot be found keeps them sealed.
_EVENTS = (
    "SELECT e.id, e.seq, e.occurred_at, e.actor_user_id, e.actor_org_id, e.action, e.entity_type, e.entity_id,"
    " e.data::text AS data, e.prev_hash, e.hash,"
    " (e.entity_type = 'bid' OR e.action LIKE 'bid.%') AND t.opened_at IS NULL AS sealed"
    " FROM audit_event e LEFT JOIN tender t ON t.id = CASE WHEN e.data->>'tender_id' ~ '^[0-9a-fA-F-]{36}$'"
    "   THEN (e.data->>'tender_id')::uuid END"
    " WHERE e.entity_type = $1 AND e.entity_id = $2 AND e.id > $3 ORDER BY e.id LIMIT $4"
)


def _event(r: dict[str, Any]) -> AuditEventRead:
    return AuditEventRead(id=r["id"], seq=r["seq"], occurred_at=r["occurred_at"], actor_user_id=r["actor_user_id"],
                          actor_org_id=r["actor_org_id"], action=r["action"], entity_type=r["entity_type"],
                          entity_id=r["entity_id"], data=msgspec.json.decode(r["data"]), prev_hash=r["prev_hash"],
                          hash=r["hash"])


def _redacted(r: dict[str, Any]) -> AuditEventRead:
    """The event without its actor and data; its hash stays, so the chain can still be followed."""
    return AuditEventRead(id=r["id"], seq=r["seq"], occurred_at=r["occurred_at"], actor_user_id=None,
                          actor_org_id=None, action=r["action"], entity_type=r["entity_type"],
                          entity_id=r["entity_id"], data={}, prev_hash=r["prev_hash"], hash=r["hash"], redacted=True)


ROUTES = [platform_keys, verify_chain, checkpoints, entity_events]

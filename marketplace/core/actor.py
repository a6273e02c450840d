"""Who is asking: the actor every service function takes, and the guards that check it.

Deny by default: a service calls `require(...)` before it reads or writes; queries are scoped by the
actor's organisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from marketplace.core.errors import Forbidden, Unauthorized
from marketplace.core.i18n import N_

# Organisation kinds and the roles a user of each may hold.
ROLES: dict[str, frozenset[str]] = {
    # agency_head: the agency's head (titular), who decides appeals up to APPEAL_TRIBUNAL_UIT
    "agency": frozenset({"officer", "committee", "agency_admin", "agency_head"}),
    "supplier": frozenset({"bidder", "supplier_admin"}),
    # tribunal: the Tribunal de Contrataciones del Estado, which decides appeals above APPEAL_TRIBUNAL_UIT
    "oversight": frozenset({"auditor", "tribunal"}),
    "platform": frozenset({"admin"}),
}


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: UUID | None = None
    org_id: UUID | None = None
    org_kind: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    via: str = "anonymous"  # anonymous | jwt | api_key | system

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None or self.via == "system"

    def is_(self, kind: str, *roles: str) -> bool:
        """True when the actor belongs to an organisation of `kind` and holds one of `roles` (any if none)."""
        if self.org_kind != kind:
            return False
        return not roles or bool(self.roles.intersection(roles))

    def member_of(self, org_id: UUID | None) -> bool:
        return org_id is not None and self.org_id == org_id


ANONYMOUS = Actor()
SYSTEM = Actor(via="system", org_kind="platform", roles=frozenset({"system"}))


def require_authenticated(actor: Actor) -> None:
    if not actor.authenticated:
        raise Unauthorized(N_("Sign in to do this"))


def require(actor: Actor, kind: str | tuple[str, ...], *roles: str) -> None:
    """The actor must be signed in, in an organisation of `kind`, holding one of `roles`."""
    require_authenticated(actor)
    if actor.via == "system":
        return
    kinds = (kind,) if isinstance(kind, str) else kind
    if not any(actor.is_(k, *roles) for k in kinds):
        raise Forbidden(N_("Your role does not allow this action"))


def own_org(actor: Actor) -> UUID:
    """The organisation the actor acts for, when the action is always some organisation's own (a bid, an
    enquiry): the system actor, which `require` lets through, has none and is refused."""
    require_authenticated(actor)
    if actor.org_id is None:
        raise Forbidden(N_("Your role does not allow this action"))
    return actor.org_id


def require_member(actor: Actor, org_id: UUID | None) -> None:
    """The actor must belong to organisation `org_id` (platform system jobs pass)."""
    require_authenticated(actor)
    if actor.via == "system":
        return
    if not actor.member_of(org_id):
        raise Forbidden(N_("This belongs to another organisation"))

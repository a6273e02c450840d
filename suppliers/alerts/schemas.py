"""Tender alert payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from marketplace.core.auth.schemas import Email
from suppliers.schemas import Classification, RegionCode


class SubscriptionCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Be told of every published tender with a lot classified under one of `classification_prefixes`
    (UNSPSC or CPV code prefixes) and delivered in one of `region_codes`. An empty list matches anything.
    Mails go to `email`, or to the supplier's contact address."""

    classification_prefixes: Annotated[list[Classification], msgspec.Meta(max_length=50)] = []
    region_codes: Annotated[list[RegionCode], msgspec.Meta(max_length=25)] = []
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    email: Email | None = None


class SubscriptionRead(msgspec.Struct):
    id: UUID
    supplier_id: UUID
    name: str
    classification_prefixes: list[str]
    region_codes: list[str]
    email: str
    active: bool
    created_at: datetime


class NotificationRead(msgspec.Struct):
    """A tender alert (kind 'tender_published', from a subscription) or a notice about the supplier's bids
    (tender_amended, enquiry_answered, tender_opened, award_made, appeal_filed, appeal_decided; no
    subscription); `data` says what happened (for an amendment to reconfirm, `reconfirm_by`)."""

    id: UUID
    subscription_id: UUID | None
    tender_id: UUID
    title: str
    data: dict[str, Any]
    email_status: str
    emailed_at: datetime | None
    read_at: datetime | None
    created_at: datetime
    kind: str = "tender_published"


class NotificationPage(msgspec.Struct):
    items: list[NotificationRead]
    total: int
    unread: int
    limit: int
    offset: int

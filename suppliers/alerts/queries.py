"""The alerts' SQL that earns its place, each with a typed row.

- `notify_matching`: one published tender against every subscription, as one INSERT ... SELECT (array
  overlap and prefix matching over all subscriptions of suppliers in good standing, deduplicated by the
  unique key): the work of the outbox consumer, in the drain's transaction.
- `claim_pending_mails`: a batch of mails claimed with FOR UPDATE SKIP LOCKED, so parallel senders never
  take the same mail.
- `notify_suppliers`: bidder notices, one per supplier and source event (unnest + the partial unique index on
  (supplier_id, event_key)), each with its supplier's address: several suppliers in one statement.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from marketplace.core import db
from suppliers.domain import good_standing_sql


class ClaimedMail(msgspec.Struct, frozen=True):
    id: UUID
    tender_id: UUID
    title: str
    data: dict[str, Any]
    email: str
    email_attempts: int
    kind: str = "tender_published"


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


async def notify_matching(*, tender_id: UUID, title: str, data: str, codes: list[str], regions: list[str],
                          now: datetime) -> int:
    """Notifications for the subscriptions (of active suppliers) whose classification prefixes and regions
    (empty: any) meet the tender's codes and regions; returns how many are new. `data` is JSON."""
    return len(await db.fetch(_MATCH, tender_id, title, data, codes, regions, now))


_CLAIM = """
UPDATE alert_notification SET email_status = 'sending', email_attempts = email_attempts + 1, claimed_at = $2
WHERE id IN (SELECT id FROM alert_notification
             WHERE email_status = 'pending' OR (email_status = 'sending' AND (claimed_at IS NULL OR claimed_at < $3))
             ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING id, tender_id, title, data::text AS data, email, email_attempts, kind
"""

_data = msgspec.json.Decoder(dict[str, Any])


async def claim_pending_mails(*, limit: int, now: datetime, stale_before: datetime) -> list[ClaimedMail]:
    """Up to `limit` pending mails (and 'sending' claims older than `stale_before`), marked 'sending' at
    `now` with one more attempt, oldest first."""
    rows = await db.fetch(_CLAIM, limit, now, stale_before)
    return [ClaimedMail(**{**r, "data": _data.decode(r["data"])}) for r in rows]


# The address: the supplier's contact address, else its oldest active user's (every user has one).
_NOTICE = """
INSERT INTO alert_notification (supplier_id, tender_id, title, data, email, email_status, kind, event_key,
                                created_at)
SELECT s.organisation_id, $1, $2, x.d::jsonb, coalesce(m.email, ''),
       CASE WHEN m.email IS NULL THEN 'none' ELSE 'pending' END, $3, $4, $5
FROM unnest($6::uuid[], $7::text[]) AS x(sid, d)
JOIN supplier s ON s.organisation_id = x.sid
LEFT JOIN LATERAL (
    SELECT coalesce(nullif(s.contact_email, ''),
                    (SELECT u.email FROM app_user u WHERE u.organisation_id = s.organisation_id AND u.active
                     ORDER BY u.created_at, u.id LIMIT 1)) AS email
) m ON true
ON CONFLICT (supplier_id, event_key) WHERE event_key IS NOT NULL DO NOTHING
RETURNING id
"""


async def notify_suppliers(*, tender_id: UUID, title: str, kind: str, event_key: str, now: datetime,
                           notices: dict[UUID, str]) -> int:
    """One notice per supplier of `notices` (supplier id -> its data as JSON), unless that supplier already
    has the notice of `event_key`; returns how many are new. Ids of organisations that are not registered
    suppliers are left out."""
    return len(await db.fetch(_NOTICE, tender_id, title, kind, event_key, now, list(notices),
                              list(notices.values())))

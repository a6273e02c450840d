"""The alerts' SQL that earns its place, each with a typed row.

- `notify_matching`: one published tender against every subscription, as one INSERT ... SELECT (array
  overlap and prefix matching over all subscriptions of suppliers in good standing, deduplicated by the
  unique key): the work of the outbox consumer, in the drain's transaction.
- `claim_pending_mails`: a batch of mails claimed with FOR UPDATE SKIP LOCKED, so parallel senders never
  take the same mail.
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
RETURNING id, tender_id, title, data::text AS data, email, email_attempts
"""

_data = msgspec.json.Decoder(dict[str, Any])


async def claim_pending_mails(*, limit: int, now: datetime, stale_before: datetime) -> list[ClaimedMail]:
    """Up to `limit` pending mails (and 'sending' claims older than `stale_before`), marked 'sending' at
    `now` with one more attempt, oldest first."""
    rows = await db.fetch(_CLAIM, limit, now, stale_before)
    return [ClaimedMail(**{**r, "data": _data.decode(r["data"])}) for r in rows]

"""Awards schema: awards per lot (standstill, consent) and appeals."""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T03:31:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "awards: awards per lot and appeals"

SQL = r"""
CREATE TABLE award (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tender_id uuid NOT NULL REFERENCES tender (id),
    lot_id uuid NOT NULL REFERENCES tender_lot (id),
    score_sheet_id uuid NOT NULL REFERENCES score_sheet (id),
    bid_id uuid NOT NULL REFERENCES bid (id),
    supplier_id uuid NOT NULL REFERENCES organisation (id),
    value bigint NOT NULL CHECK (value >= 0),
    currency char(3) NOT NULL DEFAULT 'PEN',
    final_score numeric(8, 2) NOT NULL,
    state varchar(16) NOT NULL CHECK (state IN ('pending', 'standstill', 'appealed', 'consented', 'cancelled')),
    standstill_days integer NOT NULL CHECK (standstill_days >= 1),
    notified_at timestamptz NOT NULL,
    standstill_ends_at timestamptz NOT NULL,
    consented_at timestamptz,
    cancelled_at timestamptz,
    cancel_reason text,
    created_by uuid REFERENCES app_user (id),
    created_at timestamptz NOT NULL,
    state_changed_at timestamptz NOT NULL,
    CHECK (standstill_ends_at > notified_at)
);
-- One live award per lot.
CREATE UNIQUE INDEX award_one_live_per_lot_idx ON award (lot_id) WHERE state <> 'cancelled';
CREATE INDEX award_tender_idx ON award (tender_id);
CREATE INDEX award_supplier_idx ON award (supplier_id);
-- The consent job's work list.
CREATE INDEX award_standstill_idx ON award (standstill_ends_at) WHERE state = 'standstill';

CREATE TABLE award_appeal (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    award_id uuid NOT NULL REFERENCES award (id),
    tender_id uuid NOT NULL REFERENCES tender (id),
    lot_id uuid NOT NULL REFERENCES tender_lot (id),
    appellant_id uuid NOT NULL REFERENCES organisation (id),
    filed_by uuid REFERENCES app_user (id),
    bid_id uuid NOT NULL REFERENCES bid (id),
    grounds text NOT NULL CHECK (length(grounds) BETWEEN 1 AND 10000),
    state varchar(16) NOT NULL CHECK (state IN ('filed', 'upheld', 'dismissed', 'moot')),
    filed_at timestamptz NOT NULL,
    decided_at timestamptz,
    decided_by uuid REFERENCES app_user (id),
    decision_reason text
);
-- One open appeal per bidder and award.
CREATE UNIQUE INDEX award_appeal_one_open_idx ON award_appeal (award_id, appellant_id) WHERE state = 'filed';
CREATE INDEX award_appeal_award_idx ON award_appeal (award_id);
"""


async def forwards():
    return sql_migration(ID, "awards", DESCRIPTION, SQL)

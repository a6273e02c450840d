"""Evaluation schema: scoring rules per tender, committee points, qualifications, score sheets."""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T03:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "evaluation: scoring rules, technical points, qualifications, score sheets"

SQL = r"""
-- How a tender is scored. No row: price alone (lowest-price rule).
CREATE TABLE tender_scoring (
    tender_id uuid PRIMARY KEY REFERENCES tender (id) ON DELETE CASCADE,
    technical_weight numeric(4, 3) NOT NULL CHECK (technical_weight BETWEEN 0 AND 1),
    price_weight numeric(4, 3) NOT NULL CHECK (price_weight BETWEEN 0 AND 1),
    technical_minimum numeric(6, 2) CHECK (technical_minimum BETWEEN 0 AND 100),
    criteria jsonb NOT NULL DEFAULT '[]',
    set_by uuid REFERENCES app_user (id),
    set_at timestamptz NOT NULL,
    CHECK (technical_weight + price_weight = 1)
);

-- The committee's points, per lot, bid and criterion (the latest entry counts; every entry is audited).
CREATE TABLE technical_score (
    tender_id uuid NOT NULL REFERENCES tender (id),
    lot_id uuid NOT NULL REFERENCES tender_lot (id),
    bid_id uuid NOT NULL REFERENCES bid (id),
    criterion text NOT NULL,
    points numeric(6, 2) NOT NULL CHECK (points >= 0),
    entered_by uuid REFERENCES app_user (id),
    entered_at timestamptz NOT NULL,
    PRIMARY KEY (lot_id, bid_id, criterion)
);
CREATE INDEX technical_score_tender_idx ON technical_score (tender_id);

-- The committee's decision that a bid is (not) valid, with the reason.
CREATE TABLE bid_qualification (
    tender_id uuid NOT NULL REFERENCES tender (id),
    lot_id uuid NOT NULL REFERENCES tender_lot (id),
    bid_id uuid NOT NULL REFERENCES bid (id),
    qualified boolean NOT NULL,
    reason text NOT NULL DEFAULT '',
    decided_by uuid REFERENCES app_user (id),
    decided_at timestamptz NOT NULL,
    PRIMARY KEY (lot_id, bid_id),
    CHECK (qualified OR length(reason) > 0)
);
CREATE INDEX bid_qualification_tender_idx ON bid_qualification (tender_id);

-- The score sheet of each evaluation round of a lot (round 2 after an upheld appeal, ...); public once
-- written (it is written when the lot is awarded or declared desierto).
CREATE TABLE score_sheet (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tender_id uuid NOT NULL REFERENCES tender (id),
    lot_id uuid NOT NULL REFERENCES tender_lot (id),
    round integer NOT NULL CHECK (round >= 1),
    outcome varchar(16) NOT NULL CHECK (outcome IN ('awarded', 'desierto')),
    sheet jsonb NOT NULL,
    created_by uuid REFERENCES app_user (id),
    created_at timestamptz NOT NULL,
    UNIQUE (lot_id, round)
);
CREATE INDEX score_sheet_tender_idx ON score_sheet (tender_id, lot_id, round);
"""


async def forwards():
    return sql_migration(ID, "evaluation", DESCRIPTION, SQL)

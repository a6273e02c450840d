"""Auctions schema: the live reverse auction (subasta inversa electrónica) of a lot, its participants and
every bid (lance), in the order the auction row's lock gave them.

`auction.version` grows by one with every change (start, bid, close, cancel): the live boards apply a
bid event only when it is the next version, and reload from here otherwise, so nothing is missed.
"""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T03:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "auctions: live reverse auctions per lot, participants, bids"

SQL = r"""
CREATE TABLE auction (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tender_id uuid NOT NULL REFERENCES tender (id),
    lot_id uuid NOT NULL UNIQUE REFERENCES tender_lot (id),
    state varchar(16) NOT NULL CHECK (state IN ('scheduled', 'running', 'closed', 'cancelled')),
    starts_at timestamptz NOT NULL,
    duration_seconds integer NOT NULL CHECK (duration_seconds > 0),
    ends_at timestamptz NOT NULL,
    policy jsonb NOT NULL,
    currency char(3) NOT NULL DEFAULT 'PEN',
    version bigint NOT NULL DEFAULT 1,
    last_seq integer NOT NULL DEFAULT 0,
    extensions integer NOT NULL DEFAULT 0,
    best_price bigint,
    started_at timestamptz,
    closed_at timestamptz,
    cancel_reason text,
    award_state varchar(16) NOT NULL DEFAULT 'none' CHECK (award_state IN ('none', 'pending', 'done', 'failed')),
    award_note text,
    created_by uuid REFERENCES app_user (id),
    created_at timestamptz NOT NULL,
    CHECK (ends_at >= starts_at)
);
CREATE INDEX auction_tender_idx ON auction (tender_id);
-- The job's work list: auctions waiting on a clock, and closed ones whose award is still to be made.
CREATE INDEX auction_due_idx ON auction (state, starts_at, ends_at) WHERE state IN ('scheduled', 'running');
CREATE INDEX auction_award_idx ON auction (closed_at) WHERE award_state = 'pending';

CREATE TABLE auction_participant (
    auction_id uuid NOT NULL REFERENCES auction (id) ON DELETE CASCADE,
    supplier_id uuid NOT NULL REFERENCES organisation (id),
    bid_id uuid NOT NULL REFERENCES bid (id),
    alias text NOT NULL,
    initial_price bigint NOT NULL CHECK (initial_price > 0),
    initial_received_at timestamptz NOT NULL,
    price bigint NOT NULL CHECK (price > 0),
    price_seq integer NOT NULL DEFAULT 0,
    price_at timestamptz NOT NULL,
    lances integer NOT NULL DEFAULT 0,
    PRIMARY KEY (auction_id, supplier_id),
    UNIQUE (auction_id, alias)
);

CREATE TABLE auction_bid (
    id uuid PRIMARY KEY,
    auction_id uuid NOT NULL REFERENCES auction (id) ON DELETE CASCADE,
    seq integer NOT NULL CHECK (seq >= 1),
    supplier_id uuid NOT NULL REFERENCES organisation (id),
    submitted_by uuid,
    price bigint NOT NULL CHECK (price > 0),
    received_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    extended boolean NOT NULL DEFAULT false,
    signature text NOT NULL,
    UNIQUE (auction_id, seq)
);
"""


async def forwards():
    return sql_migration(ID, "auctions", DESCRIPTION, SQL)

"""Oversight over imported OCDS: the award history and stage times take in every publisher's processes.

* `award_history` gets a `publisher` (the slug of `ocds_publisher`; our own rows are "mercado-abierto") and
  holds imported awards too, projected from the compiled releases. Imported awards have no tender, lot or
  delivery place of ours, and their organisation ids are those of a registered agency or supplier with the
  same RUC (else none): those columns become nullable; so does `value` (an award published without one).
  `value` is in the minor units of `currency` (céntimos for PEN, whole units for PYG...).
* `ocds_stage_time`: how long each stage of an imported process took, read from its compiled release's dates
  (tender period, award date, contract signature).
* `oversight_feed_cursor`: where each reader of the compiled releases' change feed has got to
  (`txid` as text, cast to xid8 where compared).
"""

from marketplace.core.migrate import sql_migration

ID = "2026-12-06T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "oversight: award history and stage times over imported compiled releases"

SQL = r"""
ALTER TABLE award_history
    ALTER COLUMN tender_id DROP NOT NULL,
    ALTER COLUMN lot_id DROP NOT NULL,
    ALTER COLUMN agency_id DROP NOT NULL,
    ALTER COLUMN supplier_id DROP NOT NULL,
    ALTER COLUMN delivery_ubigeo DROP NOT NULL,
    ALTER COLUMN region DROP NOT NULL,
    ALTER COLUMN province DROP NOT NULL,
    ALTER COLUMN value DROP NOT NULL,
    ADD COLUMN publisher text NOT NULL DEFAULT 'mercado-abierto';
CREATE INDEX award_history_publisher_idx ON award_history (publisher, awarded_at DESC, award_id DESC);
CREATE INDEX award_history_ocid_idx ON award_history (ocid);

CREATE TABLE ocds_stage_time (
    ocid text NOT NULL,
    stage varchar(16) NOT NULL,
    entered_at timestamptz NOT NULL,
    left_at timestamptz NOT NULL,
    publisher text NOT NULL,
    buyer_id text NOT NULL DEFAULT '',
    buyer_name text NOT NULL DEFAULT '',
    agency_id uuid,
    method varchar(32) NOT NULL DEFAULT '',
    PRIMARY KEY (ocid, stage)
);
CREATE INDEX ocds_stage_time_group_idx ON ocds_stage_time (publisher, buyer_id, method, stage);

CREATE TABLE oversight_feed_cursor (
    name text PRIMARY KEY,
    txid text NOT NULL DEFAULT '0',
    seq bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""


async def forwards():
    return sql_migration(ID, "oversight", DESCRIPTION, SQL)

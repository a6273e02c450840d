"""Oversight schema: the award history read model, immutable OCDS releases, stage history, alarms and the
notifications oversight sends to agencies.

Everything here is derived from other domains' rows by outbox consumers (rebuildable); only the OCDS
releases are immutable once written (a trigger refuses UPDATE and DELETE), because they are published.
"""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T04:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "oversight: award history, OCDS releases, stage history, alarms, agency notifications"

SQL = r"""
-- One row per award, denormalised for filtered queries over millions of rows. Kept by the
-- oversight.award_history outbox consumer; `marketplace.oversight.awards.service.rebuild()` refills it.
CREATE TABLE award_history (
    award_id uuid PRIMARY KEY,
    tender_id uuid NOT NULL,
    lot_id uuid NOT NULL,
    ocid text NOT NULL,
    tender_title text NOT NULL,
    lot_title text NOT NULL,
    agency_id uuid NOT NULL,
    agency_ruc varchar(11),
    agency_name text NOT NULL,
    supplier_id uuid NOT NULL,
    supplier_ruc varchar(11),
    supplier_name text NOT NULL,
    method varchar(32) NOT NULL,
    category varchar(16) NOT NULL,
    classification_scheme varchar(8) NOT NULL,
    classification_code varchar(16) NOT NULL,
    delivery_ubigeo varchar(6) NOT NULL,
    region char(2) NOT NULL,
    province char(4) NOT NULL,
    value bigint NOT NULL,
    currency char(3) NOT NULL,
    state varchar(16) NOT NULL,
    awarded_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- Keyset pages run newest first on (awarded_at, award_id); each common filter has its own
-- (filter, awarded_at, award_id) index so a filtered page is an index range scan, never a sort.
CREATE INDEX award_history_time_idx ON award_history (awarded_at DESC, award_id DESC);
CREATE INDEX award_history_agency_idx ON award_history (agency_id, awarded_at DESC, award_id DESC);
CREATE INDEX award_history_supplier_idx ON award_history (supplier_ruc, awarded_at DESC, award_id DESC);
CREATE INDEX award_history_region_idx ON award_history (region, awarded_at DESC, award_id DESC);
CREATE INDEX award_history_province_idx ON award_history (province, awarded_at DESC, award_id DESC);
CREATE INDEX award_history_method_idx ON award_history (method, awarded_at DESC, award_id DESC);
CREATE INDEX award_history_class_idx ON award_history (classification_code text_pattern_ops, awarded_at DESC);
CREATE INDEX award_history_value_idx ON award_history (value);

-- OCDS releases: one per lifecycle event, written once. `txid` feeds the change feed the way the
-- outbox does: read below pg_snapshot_xmin, so a release that commits late is never skipped.
CREATE TABLE ocds_release (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    release_id text NOT NULL UNIQUE,
    ocid text NOT NULL,
    tender_id uuid NOT NULL,
    tags text[] NOT NULL,
    date timestamptz NOT NULL,
    source_event bigint NOT NULL,
    data jsonb NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ocds_release_feed_idx ON ocds_release (txid, seq);
CREATE INDEX ocds_release_ocid_idx ON ocds_release (ocid, date, seq);
CREATE INDEX ocds_release_published_idx ON ocds_release (published_at);

CREATE FUNCTION ocds_release_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'OCDS releases are immutable';
END $$;
CREATE TRIGGER ocds_release_immutable BEFORE UPDATE OR DELETE ON ocds_release
    FOR EACH ROW EXECUTE FUNCTION ocds_release_guard();

-- Which stage each tender was in, and when (from tender.state_changed events).
CREATE TABLE tender_stage (
    tender_id uuid NOT NULL,
    stage varchar(16) NOT NULL,
    entered_at timestamptz NOT NULL,
    left_at timestamptz,
    agency_id uuid NOT NULL,
    method varchar(32) NOT NULL,
    PRIMARY KEY (tender_id, entered_at, stage)
);
CREATE INDEX tender_stage_open_idx ON tender_stage (stage, entered_at) WHERE left_at IS NULL;
CREATE INDEX tender_stage_times_idx ON tender_stage (agency_id, method, stage) WHERE left_at IS NOT NULL;

-- A tender stuck in a stage past its limit: raised once per (tender, stage entry), cleared when it moves.
CREATE TABLE stage_alarm (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tender_id uuid NOT NULL,
    stage varchar(16) NOT NULL,
    entered_at timestamptz NOT NULL,
    agency_id uuid NOT NULL,
    limit_days integer NOT NULL,
    raised_at timestamptz NOT NULL,
    cleared_at timestamptz,
    UNIQUE (tender_id, stage, entered_at)
);
CREATE INDEX stage_alarm_open_idx ON stage_alarm (raised_at) WHERE cleared_at IS NULL;

-- What oversight tells an agency (alarms). One row per dedupe key: a job that runs twice notifies once.
CREATE TABLE agency_notification (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agency_id uuid NOT NULL REFERENCES organisation (id),
    kind text NOT NULL,
    dedupe_key text NOT NULL UNIQUE,
    subject text NOT NULL,
    data jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    read_at timestamptz
);
CREATE INDEX agency_notification_agency_idx ON agency_notification (agency_id, id DESC);
"""


async def forwards():
    return sql_migration(ID, "oversight", DESCRIPTION, SQL)

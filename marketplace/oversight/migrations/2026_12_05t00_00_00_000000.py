"""Oversight: imported OCDS (publishers, their releases, one compiled release per process, its parties).

* `ocds_publisher`: who publishes a contracting process: ours ("Mercado Abierto", `own`) and every publisher
  whose OCDS is imported, with its ocid prefixes, its harvest feed (URL, cursor, back-off state: all here,
  never in Redis) and counters kept by the importer in the same transactions as the rows.
* `ocds_import_release`: every release as published, with the OCDS version it was published in, written once.
  Deduplicated by the hash of its canonical JSON, which covers its ocid and id: the same release imported twice
  is one row, and a publisher that reuses a release id for other content keeps both (ordered by date, then by
  arrival).
* `ocds_compiled`: one compiled release per ocid (ours and imported), always OCDS 1.1 (a process published
  in 1.0 is merged by 1.0's rules, as the standard and ocdskit do, then upgraded; `version` says which rules
  merged it), with the columns read models filter on. `txid`/`seq` are the change feed, like `ocds_release`'s:
  every insert or change takes a new (txid, seq), and a consumer reading
  `(txid, seq) > cursor AND txid < local_xmin()` never misses a compiled release that commits late;
  a process that changes again comes back with its newest state.
* `ocds_party`: the parties of each compiled release with the RUC read from their identifiers, so awards
  can be matched to registered suppliers and agencies by RUC.
* `ocds_import_run` / `ocds_import_seen`: one row per import (CLI or harvest) and, while it runs, the
  processes it touched (unlogged scratch, emptied when the run ends) for its new / changed / unchanged counts.
"""

from marketplace.core.migrate import sql_migration

ID = "2026-12-05T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "oversight: OCDS publishers, imported releases, compiled releases and their parties"

SQL = r"""
CREATE TABLE ocds_publisher (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug text NOT NULL UNIQUE,
    name text NOT NULL,
    uri text NOT NULL DEFAULT '',
    uid text NOT NULL DEFAULT '',
    ocid_prefixes text[] NOT NULL DEFAULT '{}',
    own boolean NOT NULL DEFAULT false,
    feed_url text,
    feed_kind varchar(16) NOT NULL DEFAULT '',
    feed_after_param text NOT NULL DEFAULT '',
    feed_interval_minutes integer NOT NULL DEFAULT 60,
    feed_cursor text NOT NULL DEFAULT '',
    feed_next_at timestamptz,
    feed_failures integer NOT NULL DEFAULT 0,
    feed_last_error text NOT NULL DEFAULT '',
    feed_lease_until timestamptz,
    last_harvest_at timestamptz,
    last_import_at timestamptz,
    process_count bigint NOT NULL DEFAULT 0,
    release_count bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (feed_kind IN ('', 'api', 'bulk'))
);
CREATE UNIQUE INDEX ocds_publisher_own_idx ON ocds_publisher (own) WHERE own;
CREATE INDEX ocds_publisher_due_idx ON ocds_publisher (feed_next_at) WHERE feed_url IS NOT NULL;

CREATE TABLE ocds_import_release (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hash bytea NOT NULL UNIQUE,
    publisher_id bigint NOT NULL REFERENCES ocds_publisher (id),
    ocid text NOT NULL,
    release_id text NOT NULL,
    date text NOT NULL,
    version varchar(3) NOT NULL,
    tags text[] NOT NULL,
    data jsonb NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ocds_import_release_ocid_idx ON ocds_import_release (ocid, date, id);

CREATE SEQUENCE ocds_compiled_seq;
CREATE TABLE ocds_compiled (
    ocid text PRIMARY KEY,
    publisher_id bigint NOT NULL REFERENCES ocds_publisher (id),
    source varchar(8) NOT NULL,
    hash bytea NOT NULL,
    release_date text NOT NULL,
    version varchar(3) NOT NULL,
    date timestamptz,
    buyer_id text NOT NULL DEFAULT '',
    buyer_name text NOT NULL DEFAULT '',
    buyer_ruc varchar(11),
    tender_status text NOT NULL DEFAULT '',
    procurement_method text NOT NULL DEFAULT '',
    award_count integer NOT NULL DEFAULT 0,
    contract_count integer NOT NULL DEFAULT 0,
    data jsonb NOT NULL,
    txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq bigint NOT NULL DEFAULT nextval('ocds_compiled_seq'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (source IN ('releases', 'record', 'own'))
);
ALTER SEQUENCE ocds_compiled_seq OWNED BY ocds_compiled.seq;
CREATE INDEX ocds_compiled_feed_idx ON ocds_compiled (txid, seq);
CREATE INDEX ocds_compiled_publisher_idx ON ocds_compiled (publisher_id, updated_at DESC);
CREATE INDEX ocds_compiled_buyer_ruc_idx ON ocds_compiled (buyer_ruc) WHERE buyer_ruc IS NOT NULL;

CREATE TABLE ocds_party (
    ocid text NOT NULL REFERENCES ocds_compiled (ocid) ON DELETE CASCADE,
    party_id text NOT NULL,
    name text NOT NULL DEFAULT '',
    ruc varchar(11),
    roles text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (ocid, party_id)
);
CREATE INDEX ocds_party_ruc_idx ON ocds_party (ruc) WHERE ruc IS NOT NULL;

CREATE TABLE ocds_import_run (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    origin text NOT NULL,
    publisher_id bigint REFERENCES ocds_publisher (id),
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    files integer NOT NULL DEFAULT 0,
    releases bigint NOT NULL DEFAULT 0,
    records bigint NOT NULL DEFAULT 0,
    releases_new bigint NOT NULL DEFAULT 0,
    processes_new bigint NOT NULL DEFAULT 0,
    processes_changed bigint NOT NULL DEFAULT 0,
    processes_unchanged bigint NOT NULL DEFAULT 0,
    refused bigint NOT NULL DEFAULT 0
);

CREATE UNLOGGED TABLE ocds_import_seen (
    run_id bigint NOT NULL,
    ocid text NOT NULL,
    status smallint NOT NULL,
    PRIMARY KEY (run_id, ocid)
);

-- Imported JSON is large and compresses well: lz4 costs a fraction of pglz's CPU (where the server has it).
DO $$ BEGIN
    ALTER TABLE ocds_import_release ALTER COLUMN data SET COMPRESSION lz4;
    ALTER TABLE ocds_compiled ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN OTHERS THEN NULL;
END $$;
"""


async def forwards():
    return sql_migration(ID, "oversight", DESCRIPTION, SQL)

"""Oversight: the red-flag read model (marketplace/oversight/redflags/readmodel.py).

* `redflag_process`: one row per compiled release the engine has seen (ours and imported): the hash it was
  computed from (an unchanged process is skipped), its winner-to-runner-up ratio (R024, R058) and what it
  adds to the population indicators (`parts`, taken back when the process changes), with notes where our
  own data knew better than bare OCDS (a bid re-dated by a live auction).
* `redflag_tally`: the population counts per publisher, kept incrementally (R025 wins and processes per
  tenderer, R038 disqualified and submitted bids per buyer, procuring entity and tenderer, R048 processes
  and classification prefixes per supplier): the periodic pass reads these, not the processes.
* `redflag_publisher`: per publisher, the main currency (fixed once met, so results do not depend on the
  order processes arrive in) and the fences of the last population pass (Cardinal's Meta).
* `redflag`: the flags, one row per (indicator, subject, process), each with its evidence. Listed newest
  first by keyset on (date, id); each filter of the API has its own (filter, date, id) index.
* `redflag_feed`: the read model's cursor in the compiled releases' change feed (ocds_compiled txid, seq).
"""

from marketplace.core.migrate import sql_migration

ID = "2026-12-06T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "oversight: red-flag read model (flags per process and organisation, population tallies)"

SQL = r"""
CREATE TABLE redflag_process (
    ocid text PRIMARY KEY,
    publisher_id bigint NOT NULL,
    hash bytea NOT NULL,
    date timestamptz NOT NULL,
    buyer_id text,
    buyer_ruc varchar(11),
    ratio double precision,
    ratio_winner text,
    ratio_runner_up text,
    parts jsonb NOT NULL,
    notes jsonb NOT NULL DEFAULT '[]',
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX redflag_process_ratio_idx ON redflag_process (publisher_id) WHERE ratio IS NOT NULL;

CREATE TABLE redflag_tally (
    publisher_id bigint NOT NULL,
    kind varchar(16) NOT NULL,
    key text NOT NULL,
    sub text NOT NULL DEFAULT '',
    a bigint NOT NULL,
    b bigint NOT NULL,
    PRIMARY KEY (publisher_id, kind, key, sub),
    CHECK (kind IN ('r025', 'r038_buyer', 'r038_pe', 'r038_tenderer', 'r048', 'r048_code'))
);

CREATE TABLE redflag_publisher (
    publisher_id bigint PRIMARY KEY,
    currency text,
    meta jsonb NOT NULL DEFAULT '{}',
    fences_at timestamptz,
    dirty boolean NOT NULL DEFAULT true
);

CREATE TABLE redflag (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code varchar(16) NOT NULL,
    scope varchar(16) NOT NULL CHECK (scope IN ('process', 'tenderer', 'buyer', 'procuring_entity')),
    subject text NOT NULL,
    ocid text,
    origin varchar(10) NOT NULL CHECK (origin IN ('process', 'ratio', 'population', 'alarm')),
    publisher_id bigint NOT NULL,
    buyer_id text,
    buyer_ruc varchar(11),
    supplier_id text,
    supplier_ruc varchar(11),
    value double precision NOT NULL,
    evidence jsonb NOT NULL DEFAULT '{}',
    date timestamptz NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX redflag_list_idx ON redflag (date DESC, id DESC);
CREATE INDEX redflag_code_idx ON redflag (code, date DESC, id DESC);
CREATE INDEX redflag_publisher_idx ON redflag (publisher_id, date DESC, id DESC);
CREATE INDEX redflag_buyer_idx ON redflag (buyer_id, date DESC, id DESC) WHERE buyer_id IS NOT NULL;
CREATE INDEX redflag_buyer_ruc_idx ON redflag (buyer_ruc, date DESC, id DESC) WHERE buyer_ruc IS NOT NULL;
CREATE INDEX redflag_supplier_idx ON redflag (supplier_id, date DESC, id DESC) WHERE supplier_id IS NOT NULL;
CREATE INDEX redflag_supplier_ruc_idx ON redflag (supplier_ruc, date DESC, id DESC) WHERE supplier_ruc IS NOT NULL;
-- Replacing a process's flags, a publisher's or an organisation's population flags, the stage-alarm flags.
CREATE INDEX redflag_ocid_idx ON redflag (ocid) WHERE ocid IS NOT NULL;
CREATE INDEX redflag_population_idx ON redflag (publisher_id, code, subject) WHERE origin IN ('ratio', 'population');
CREATE INDEX redflag_alarm_idx ON redflag (subject) WHERE origin = 'alarm';

CREATE TABLE redflag_feed (
    name text PRIMARY KEY,
    last_txid bigint NOT NULL DEFAULT 0,
    last_seq bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
"""


async def forwards():
    return sql_migration(ID, "oversight", DESCRIPTION, SQL)

"""A supplier's MYPE status and domicile carry their history: each value with its source and effective date
(issue 17, finding 4).

The score bonuses (MYPE, regional) are judged on the values as they stood when the tender was published, read
from this history, so a supplier cannot switch them on just before bidding and off again afterwards; and the
history is public, so every switch shows. The values before this migration are not known: each supplier's
current ones are recorded as of now, source 'backfill' (read as the earliest known value for older tenders).
"""

from marketplace.core.migrate import sql_migration

ID = "2026-12-06T10:00:00:170401"
VERSION = "1.38.0"
DESCRIPTION = "suppliers: MYPE and domicile history with source and effective date"

SQL = r"""
CREATE TABLE supplier_fact_change (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    supplier_id uuid NOT NULL REFERENCES supplier (organisation_id),
    fact varchar(16) NOT NULL CHECK (fact IN ('mype', 'domicile')),
    value text NOT NULL,
    previous text,
    source varchar(16) NOT NULL CHECK (source IN ('registration', 'supplier', 'platform', 'backfill')),
    effective_at timestamptz NOT NULL,
    actor_user_id uuid,
    recorded_at timestamptz NOT NULL,
    CHECK (fact <> 'mype' OR value IN ('true', 'false')),
    CHECK (fact <> 'domicile' OR value ~ '^[0-9]{6}$')
);
CREATE INDEX supplier_fact_change_idx ON supplier_fact_change (supplier_id, fact, effective_at, id);

INSERT INTO supplier_fact_change (supplier_id, fact, value, source, effective_at, recorded_at)
    SELECT organisation_id, 'mype', CASE WHEN mype THEN 'true' ELSE 'false' END, 'backfill', now(), now()
    FROM supplier
    UNION ALL
    SELECT organisation_id, 'domicile', ubigeo, 'backfill', now(), now() FROM supplier;
"""


async def forwards():
    return sql_migration(ID, "suppliers", DESCRIPTION, SQL)

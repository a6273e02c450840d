"""Agencies: the agency row beside its organisation (level of government, sector)."""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T02:40:10:000000"
VERSION = "1.38.0"
DESCRIPTION = "agencies: agency"

SQL = r"""
CREATE TABLE agency (
    organisation_id uuid PRIMARY KEY REFERENCES organisation (id),
    level varchar(16) NOT NULL CHECK (level IN ('national', 'regional', 'local')),
    sector text NOT NULL DEFAULT '' CHECK (length(sector) <= 120),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agency_level_idx ON agency (level);
-- The public list pages by (name, id) over agencies only.
CREATE INDEX organisation_agency_name_idx ON organisation (name, id) WHERE kind = 'agency';
"""


async def forwards():
    return sql_migration(ID, "agencies", DESCRIPTION, SQL)

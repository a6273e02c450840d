"""Who decides an appeal: the agency's head up to APPEAL_TRIBUNAL_UIT of the lot's estimated value, the Tribunal
de Contrataciones del Estado above it. Fixed when the appeal is filed (the UIT in force then), and kept.
Appeals filed before this column existed were the oversight body's: they go to the Tribunal."""

from marketplace.core.migrate import sql_migration

ID = "2026-12-05T18:10:00:190002"
VERSION = "1.38.0"
DESCRIPTION = "awards: award_appeal.deciding_body (agency_head | tribunal)"

SQL = r"""
ALTER TABLE award_appeal ADD COLUMN deciding_body varchar(16) NOT NULL DEFAULT 'tribunal'
    CHECK (deciding_body IN ('agency_head', 'tribunal'));
CREATE INDEX award_appeal_body_idx ON award_appeal (deciding_body, state, filed_at);
"""


async def forwards():
    return sql_migration(ID, "awards", DESCRIPTION, SQL)

"""Appeals that owe a bond wait for it ('pending_bond'); only a paid appeal suspends consent."""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T05:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "awards: appeals pending their bond"

SQL = r"""
ALTER TABLE award_appeal DROP CONSTRAINT award_appeal_state_check;
ALTER TABLE award_appeal ADD CONSTRAINT award_appeal_state_check
    CHECK (state IN ('pending_bond', 'filed', 'upheld', 'dismissed', 'moot'));
ALTER TABLE award_appeal ADD COLUMN bond_cents bigint NOT NULL DEFAULT 0 CHECK (bond_cents >= 0);
DROP INDEX award_appeal_one_open_idx;
CREATE UNIQUE INDEX award_appeal_one_open_idx ON award_appeal (award_id, appellant_id)
    WHERE state IN ('pending_bond', 'filed');
"""


async def forwards():
    return sql_migration(ID, "awards", DESCRIPTION, SQL)

"""A lot with no valid bid ends `unsuccessful` (was the Spanish `desierto`; issue 14, "One API vocabulary").

Score sheets' outcome is converted with its CHECK constraint, and the sheet's `desierto_reason` key becomes
`unsuccessful_reason`. Audit events already recorded as `lot.desierto` stay as written (the trail is
hash-chained); new ones are `lot.unsuccessful`.
"""

from marketplace.core.migrate import sql_migration

ID = "2026-12-07T18:00:10:000000"
VERSION = "1.38.0"
DESCRIPTION = "evaluation: score sheet outcome 'unsuccessful' instead of 'desierto'"

SQL = r"""
ALTER TABLE score_sheet DROP CONSTRAINT IF EXISTS score_sheet_outcome_check;
UPDATE score_sheet SET outcome = 'unsuccessful' WHERE outcome = 'desierto';
UPDATE score_sheet
   SET sheet = (sheet - 'desierto_reason') || jsonb_build_object('unsuccessful_reason', sheet -> 'desierto_reason')
 WHERE sheet ? 'desierto_reason';
ALTER TABLE score_sheet ADD CONSTRAINT score_sheet_outcome_check CHECK (outcome IN ('awarded', 'unsuccessful'));
"""


async def forwards():
    return sql_migration(ID, "evaluation", DESCRIPTION, SQL)

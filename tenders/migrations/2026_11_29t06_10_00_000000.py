"""Each bid records the bidder's MYPE flag and domicile as they stood when it was submitted.

The MYPE and regional bonuses are judged on these, not on the registry at award time: a bidder cannot gain
a bonus by changing its registry entry after seeing the opened prices. NULL for bids stored before this
change (evaluation then falls back to the registry).
"""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T06:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "tenders: bidder facts (MYPE, domicile) recorded on each bid"

SQL = r"""
ALTER TABLE bid ADD COLUMN is_mype boolean;
ALTER TABLE bid ADD COLUMN domicile_ubigeo varchar(6);
"""


async def forwards():
    return sql_migration(ID, "tenders", DESCRIPTION, SQL)

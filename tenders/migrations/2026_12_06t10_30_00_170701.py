"""A tender's own opening quorum (issue 17, finding 5): set with its committee's designation; NULL means the
OPENING_QUORUM setting.
"""

from marketplace.core.migrate import sql_migration

ID = "2026-12-06T10:30:00:170701"
VERSION = "1.38.0"
DESCRIPTION = "tenders: tender.opening_quorum (NULL: the OPENING_QUORUM setting)"

SQL = r"""
ALTER TABLE tender ADD COLUMN opening_quorum integer CHECK (opening_quorum BETWEEN 2 AND 10);
"""


async def forwards():
    return sql_migration(ID, "tenders", DESCRIPTION, SQL)

"""The opening takes a quorum (issue 17, finding 5): each authorised person's confirmation of a tender's
opening, one row per person (a later confirmation by the same person renews it). The bids are decrypted only
when OPENING_QUORUM distinct people have confirmed within OPENING_WINDOW_MINUTES; every confirmation is also
an audit event, and the ones that made the quorum are published in the opening record.
"""

from marketplace.core.migrate import sql_migration

ID = "2026-12-06T10:10:00:170501"
VERSION = "1.38.0"
DESCRIPTION = "tenders: confirmations of the opening (quorum)"

SQL = r"""
CREATE TABLE tender_opening_confirmation (
    tender_id uuid NOT NULL REFERENCES tender (id),
    user_id uuid NOT NULL REFERENCES app_user (id),
    confirmed_at timestamptz NOT NULL,
    PRIMARY KEY (tender_id, user_id)
);
"""


async def forwards():
    return sql_migration(ID, "tenders", DESCRIPTION, SQL)

"""The committee acts as a committee (issue 17, finding 6): who sits on a tender's committee, each member's own
score sheet (per bid and criterion), and the evaluation record (acta) every member confirms before the award.

`technical_score` stays the committee's points, now derived: for each bid and criterion, the points a majority
of the members gave (none while there is no majority). `member_score` keeps every member's own points;
`evaluation_acta` the record drafted from them (the ranking per lot, the points of each member and where a
member differs from the committee), with its hash; `evaluation_acta_confirmation` each member's confirmation
of that record, with an optional dissenting opinion. All of it is public once the lots are awarded.
"""

from marketplace.core.migrate import sql_migration

ID = "2026-12-06T10:20:00:170601"
VERSION = "1.38.0"
DESCRIPTION = "evaluation: committee members, member score sheets, the acta and its confirmations"

SQL = r"""
CREATE TABLE tender_committee_member (
    tender_id uuid NOT NULL REFERENCES tender (id),
    user_id uuid NOT NULL REFERENCES app_user (id),
    designated_by uuid REFERENCES app_user (id),
    designated_at timestamptz NOT NULL,
    PRIMARY KEY (tender_id, user_id)
);

CREATE TABLE member_score (
    tender_id uuid NOT NULL REFERENCES tender (id),
    lot_id uuid NOT NULL REFERENCES tender_lot (id),
    bid_id uuid NOT NULL REFERENCES bid (id),
    criterion text NOT NULL,
    member_id uuid NOT NULL REFERENCES app_user (id),
    points numeric(6, 2) NOT NULL CHECK (points >= 0),
    entered_at timestamptz NOT NULL,
    PRIMARY KEY (lot_id, bid_id, criterion, member_id)
);
CREATE INDEX member_score_tender_idx ON member_score (tender_id);

CREATE TABLE evaluation_acta (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tender_id uuid NOT NULL REFERENCES tender (id),
    number integer NOT NULL CHECK (number >= 1),
    content jsonb NOT NULL,
    sha256 char(64) NOT NULL,
    drafted_by uuid REFERENCES app_user (id),
    drafted_at timestamptz NOT NULL,
    UNIQUE (tender_id, number)
);

CREATE TABLE evaluation_acta_confirmation (
    acta_id uuid NOT NULL REFERENCES evaluation_acta (id),
    member_id uuid NOT NULL REFERENCES app_user (id),
    dissent text NOT NULL DEFAULT '',
    confirmed_at timestamptz NOT NULL,
    PRIMARY KEY (acta_id, member_id)
);
"""


async def forwards():
    return sql_migration(ID, "evaluation", DESCRIPTION, SQL)

"""Issue 17, point 8: invitations of a price comparison, and enquiry answers kept, never rewritten.

`tender_invitation`: the suppliers a `price_comparison` tender invites; when it has any, only they may bid
(tenders/invitations.py). `tender_enquiry_answer`: every answer to an enquiry, numbered; a later one is a
correction of the one before, and no row is ever updated (a trigger refuses it). `tender_enquiry.answer`
stays the latest answer, for the readers that show one; answers given before this migration become the
first entry of their enquiry's history.
"""

from marketplace.core.migrate import sql_migration

ID = "2026-12-08T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "tenders: price-comparison invitations, enquiry answer history"

SQL = r"""
CREATE TABLE tender_invitation (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tender_id uuid NOT NULL REFERENCES tender (id) ON DELETE CASCADE,
    supplier_id uuid NOT NULL REFERENCES organisation (id),
    invited_by uuid,
    invited_at timestamptz NOT NULL,
    UNIQUE (tender_id, supplier_id)
);

CREATE TABLE tender_enquiry_answer (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    enquiry_id uuid NOT NULL REFERENCES tender_enquiry (id) ON DELETE CASCADE,
    number integer NOT NULL CHECK (number >= 1),
    answer text NOT NULL,
    answered_by uuid,
    answered_at timestamptz NOT NULL,
    UNIQUE (enquiry_id, number)
);
COMMENT ON TABLE tender_enquiry_answer IS
    'Every published answer to an enquiry; number > 1 corrects the one before. Never updated.';

CREATE FUNCTION tender_enquiry_answer_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a published enquiry answer is never rewritten: publish a correction';
END $$;
CREATE TRIGGER tender_enquiry_answer_immutable BEFORE UPDATE ON tender_enquiry_answer
    FOR EACH ROW EXECUTE FUNCTION tender_enquiry_answer_immutable();

INSERT INTO tender_enquiry_answer (enquiry_id, number, answer, answered_by, answered_at)
    SELECT id, 1, answer, answered_by, answered_at FROM tender_enquiry WHERE answer IS NOT NULL;
"""


async def forwards():
    return sql_migration(ID, "tenders", DESCRIPTION, SQL)

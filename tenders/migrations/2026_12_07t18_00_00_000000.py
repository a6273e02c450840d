"""English codes for the procurement methods (issue 14, "One API vocabulary").

The API speaks English identifiers; the Spanish names are labels in the translation catalogues. Stored
methods are converted and the CHECK constraint now lists the English codes. The copies of the method kept by
the search read model (`search_tender`, migrated before this app) and by oversight's award history and stage
times (migrated after it: absent on a fresh database, hence the guard) are converted in the same migration.
"""

from marketplace.core.migrate import sql_migration

ID = "2026-12-07T18:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "tenders: procurement methods as English codes (public_tender, reverse_auction...)"

SQL = r"""
CREATE TEMPORARY TABLE method_rename (old text PRIMARY KEY, new text NOT NULL);
INSERT INTO method_rename VALUES
    ('licitacion_publica', 'public_tender'),
    ('concurso_publico', 'public_contest'),
    ('adjudicacion_simplificada', 'simplified_award'),
    ('subasta_inversa_electronica', 'reverse_auction'),
    ('comparacion_precios', 'price_comparison'),
    ('contratacion_directa', 'direct_contracting');

ALTER TABLE tender DROP CONSTRAINT IF EXISTS tender_method_check;
UPDATE tender t SET method = r.new FROM method_rename r WHERE t.method = r.old;
ALTER TABLE tender ADD CONSTRAINT tender_method_check CHECK (method IN ('public_tender', 'public_contest',
    'simplified_award', 'reverse_auction', 'price_comparison', 'direct_contracting'));

DO $$
BEGIN
    IF to_regclass('search_tender') IS NOT NULL THEN
        UPDATE search_tender t SET method = r.new FROM method_rename r WHERE t.method = r.old;
    END IF;
    IF to_regclass('award_history') IS NOT NULL THEN
        UPDATE award_history t SET method = r.new FROM method_rename r WHERE t.method = r.old;
    END IF;
    IF to_regclass('tender_stage') IS NOT NULL THEN
        UPDATE tender_stage t SET method = r.new FROM method_rename r WHERE t.method = r.old;
    END IF;
END
$$;
DROP TABLE method_rename;
"""


async def forwards():
    return sql_migration(ID, "tenders", DESCRIPTION, SQL)

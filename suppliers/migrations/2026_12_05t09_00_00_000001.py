"""English identifiers: a supplier's person_type is 'company' or 'individual' (was 'juridica' / 'natural').

The stored values are rewritten and the CHECK constraint replaced in one transaction; the Spanish words live
in the translations and labels only (issue 14, API vocabulary).
"""

from marketplace.core.migrate import sql_migration

ID = "2026-12-05T09:00:00:000001"
VERSION = "1.38.0"
DESCRIPTION = "suppliers: person_type company | individual"

SQL = r"""
ALTER TABLE supplier DROP CONSTRAINT supplier_person_type_check;
UPDATE supplier SET person_type = CASE person_type WHEN 'juridica' THEN 'company' ELSE 'individual' END;
ALTER TABLE supplier ADD CONSTRAINT supplier_person_type_check CHECK (person_type IN ('company', 'individual'));
"""


async def forwards():
    return sql_migration(ID, "suppliers", DESCRIPTION, SQL)

"""Search: title-only tsvectors, so a common word's title matches can be fetched a page at a time (LIMIT
without ranking every match) before the rest of the document is looked at."""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T03:41:07:481517"
VERSION = "1.38.0"
DESCRIPTION = "search: title tsvectors with GIN indexes"

SQL = r"""
ALTER TABLE search_offer ADD COLUMN name_tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('ma_spanish', coalesce(doc->>'name', ''))) STORED;
CREATE INDEX search_offer_name_tsv_idx ON search_offer USING gin (name_tsv);
ALTER TABLE search_tender ADD COLUMN name_tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('ma_spanish', coalesce(doc->>'title', ''))) STORED;
CREATE INDEX search_tender_name_tsv_idx ON search_tender USING gin (name_tsv);
"""


async def forwards():
    return sql_migration(ID, "search", DESCRIPTION, SQL)

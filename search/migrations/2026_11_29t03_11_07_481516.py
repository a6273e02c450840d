"""Search: derived tables for the PostgreSQL backend (rebuildable by `marketplace reindex`).

Spanish full-text search with accents folded: the `unaccent` dictionary inside a copy of the Spanish
configuration (`ma_spanish`), an IMMUTABLE wrapper (`search_fold`) for folding words outside tsvectors, a
GIN index per tsvector, and a vocabulary of indexed words with a trigram GiST index that corrects each
query word (typo tolerance at full-text cost).
"""

from marketplace.core.migrate import sql_migration

ID = "2026-11-29T03:11:07:481516"
VERSION = "1.38.0"
DESCRIPTION = "search: derived offer and tender tables, Spanish unaccented full text, vocabulary"

SQL = r"""
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- unaccent() is only STABLE (it looks its dictionary up by name); indexes and generated columns need
-- IMMUTABLE, so name the dictionary by schema and promise immutability in a wrapper.
CREATE OR REPLACE FUNCTION search_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$;

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'ma_spanish') THEN
        CREATE TEXT SEARCH CONFIGURATION ma_spanish (COPY = pg_catalog.spanish);
        ALTER TEXT SEARCH CONFIGURATION ma_spanish
            ALTER MAPPING FOR hword, hword_part, word WITH unaccent, spanish_stem;
    END IF;
END $$;

-- One row per (offer, region served): the document as indexed, plus the columns searches filter on.
CREATE TABLE search_offer (
    id text PRIMARY KEY,
    offer_id text NOT NULL,
    supplier_id text NOT NULL,
    region varchar(2) NOT NULL,
    supplier_ubigeo varchar(6) NOT NULL,
    supplier_province varchar(4) NOT NULL,
    supplier_region varchar(2) NOT NULL,
    classification text NOT NULL DEFAULT '',
    family text NOT NULL DEFAULT '',
    price_cents bigint NOT NULL,
    delivery_days integer NOT NULL,
    doc jsonb NOT NULL,
    digest text NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('ma_spanish', coalesce(doc->>'name', '')), 'A')
        || setweight(to_tsvector('ma_spanish', coalesce(doc->>'classification_name', '') || ' '
                                 || coalesce(doc->>'attributes', '')), 'B')
        || setweight(to_tsvector('ma_spanish', coalesce(doc->>'description', '') || ' '
                                 || coalesce(doc->>'supplier_name', '') || ' '
                                 || coalesce(doc->>'classification', '')), 'C')
    ) STORED
);
CREATE INDEX search_offer_tsv_idx ON search_offer USING gin (tsv);
CREATE INDEX search_offer_region_idx ON search_offer (region, supplier_region, supplier_province);
CREATE INDEX search_offer_offer_idx ON search_offer (offer_id);
CREATE INDEX search_offer_supplier_idx ON search_offer (supplier_id);
CREATE INDEX search_offer_class_idx ON search_offer (classification text_pattern_ops);

CREATE TABLE search_tender (
    id text PRIMARY KEY,
    region varchar(2) NOT NULL DEFAULT '',
    province varchar(4) NOT NULL DEFAULT '',
    ubigeo varchar(6) NOT NULL DEFAULT '',
    method text NOT NULL DEFAULT '',
    category text NOT NULL DEFAULT '',
    state text NOT NULL DEFAULT '',
    classification text NOT NULL DEFAULT '',
    closing_ts bigint,
    doc jsonb NOT NULL,
    digest text NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('ma_spanish', coalesce(doc->>'title', '')), 'A')
        || setweight(to_tsvector('ma_spanish', coalesce(doc->>'lots_text', '')), 'B')
        || setweight(to_tsvector('ma_spanish', coalesce(doc->>'description', '') || ' '
                                 || coalesce(doc->>'agency_name', '') || ' '
                                 || coalesce(doc->>'classification', '') || ' '
                                 || coalesce(doc->>'ocid', '')), 'C')
    ) STORED
);
CREATE INDEX search_tender_tsv_idx ON search_tender USING gin (tsv);
CREATE INDEX search_tender_filter_idx ON search_tender (state, region);
CREATE INDEX search_tender_closing_idx ON search_tender (closing_ts);

-- The words indexed so far (folded), per kind: query words are corrected against it by trigram
-- distance before the full-text search. Grows with upserts; `reindex` rebuilds it with document counts.
CREATE TABLE search_vocabulary (
    kind text NOT NULL,
    word text NOT NULL,
    ndoc integer NOT NULL DEFAULT 1,
    PRIMARY KEY (kind, word)
);
CREATE INDEX search_vocabulary_trgm_idx ON search_vocabulary USING gist (word gist_trgm_ops);
"""


async def forwards():
    return sql_migration(ID, "search", DESCRIPTION, SQL)

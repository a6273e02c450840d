"""piccolo's view of the PostgreSQL backend's derived tables (DDL in migrations/; the backend queries
them with raw SQL, since piccolo has no full-text search). Derived data: rebuilt by `reindex`."""

from piccolo.columns import JSONB, BigInt, Integer, Text, Varchar
from piccolo.table import Table

from marketplace.core.db import DB


class SearchOffer(Table, tablename="search_offer", db=DB):
    id = Text(primary_key=True)
    offer_id = Text()
    supplier_id = Text()
    region = Varchar(length=2)
    supplier_ubigeo = Varchar(length=6)
    supplier_province = Varchar(length=4)
    supplier_region = Varchar(length=2)
    classification = Text()
    family = Text()
    price_cents = BigInt()
    delivery_days = Integer()
    doc = JSONB()
    digest = Text()


class SearchTender(Table, tablename="search_tender", db=DB):
    id = Text(primary_key=True)
    region = Varchar(length=2)
    province = Varchar(length=4)
    ubigeo = Varchar(length=6)
    method = Text()
    category = Text()
    state = Text()
    classification = Text()
    closing_ts = BigInt(null=True)
    doc = JSONB()
    digest = Text()


class SearchVocabulary(Table, tablename="search_vocabulary", db=DB):
    kind = Text()
    word = Text()
    ndoc = Integer()

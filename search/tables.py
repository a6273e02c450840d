"""piccolo's view of the PostgreSQL backend's derived tables (DDL in migrations/; the backend queries
them with raw SQL, since piccolo has no full-text search). Derived data: rebuilt by `reindex`."""

from piccolo.columns import JSONB, BigInt, Integer, Text, Varchar
from piccolo.table import Table

from marketplace.core.db import DB


class SearchOffer(Table, tablename="search_offer", db=DB):
    id = Text(primary_key=True, default=None)
    offer_id = Text(default=None)
    supplier_id = Text(default=None)
    region = Varchar(length=2, default=None)
    supplier_ubigeo = Varchar(length=6, default=None)
    supplier_province = Varchar(length=4, default=None)
    supplier_region = Varchar(length=2, default=None)
    classification = Text()
    family = Text()
    price_cents = BigInt(default=None)
    delivery_days = Integer(default=None)
    doc = JSONB(default=None)
    digest = Text(default=None)


class SearchTender(Table, tablename="search_tender", db=DB):
    id = Text(primary_key=True, default=None)
    region = Varchar(length=2)
    province = Varchar(length=4)
    ubigeo = Varchar(length=6)
    method = Text()
    category = Text()
    state = Text()
    classification = Text()
    closing_ts = BigInt(null=True, default=None)
    doc = JSONB(default=None)
    digest = Text(default=None)


# The real key is (kind, word); `kind` stands in for piccolo, which needs a one-column primary key.
class SearchVocabulary(Table, tablename="search_vocabulary", db=DB):
    kind = Text(primary_key=True, default=None)
    word = Text(default=None)
    ndoc = Integer(default=1)

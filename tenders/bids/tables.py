"""piccolo's view of the bid tables (the DDL is SQL in tenders/migrations/)."""

from piccolo.columns import (
    JSONB,
    UUID,
    BigInt,
    Boolean,
    Bytea,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from marketplace.core.columns import Char
from marketplace.core.db import DB
from marketplace.core.tables import Organisation
from tenders.tables import Tender, TenderLot


class Bid(Table, tablename="bid", db=DB):
    id = UUID(primary_key=True, default=None)
    tender = ForeignKey(Tender, db_column_name="tender_id", null=False)
    supplier = ForeignKey(Organisation, db_column_name="supplier_id", null=False)
    submitted_by = UUID(null=True, default=None)
    status = Varchar(length=16, default="live")  # live | withdrawn
    sealed = Bytea(secret=True, default=None)  # nonce || AES-256-GCM ciphertext of the bid content
    sha256 = Char(length=64, default=None)  # of `sealed`
    key_id = Text(default=None)
    received_at = Timestamptz(default=None)
    signature = Text(default=None)
    version = Integer(default=1)
    needs_reconfirmation = Boolean(default=False)
    confirmed_at = Timestamptz(null=True, default=None)
    withdrawn_at = Timestamptz(null=True, default=None)
    opened_at = Timestamptz(null=True, default=None)
    opened_content = JSONB(null=True, default=None)
    is_mype = Boolean(null=True, default=None)  # the bidder's registry facts when it (re)submitted
    domicile_ubigeo = Varchar(length=6, null=True, default=None)


# piccolo needs a one-column primary key; the real key is (bid_id, lot_id) (use raw SQL for writes).
class BidLot(Table, tablename="bid_lot", db=DB):
    bid = ForeignKey(Bid, db_column_name="bid_id", primary_key=True, null=False)
    tender_id = UUID(default=None)
    lot_id = UUID(default=None)
    supplier_id = UUID(default=None)
    live = Boolean(default=True)


# The real key is (lot_id, bid_id); declared on lot for piccolo's sake (reads only).
class OpeningEntry(Table, tablename="opening_entry", db=DB):
    tender = ForeignKey(Tender, db_column_name="tender_id", null=False)
    lot = ForeignKey(TenderLot, db_column_name="lot_id", primary_key=True, null=False)
    bid = ForeignKey(Bid, db_column_name="bid_id", null=False)
    supplier = ForeignKey(Organisation, db_column_name="supplier_id", null=False)
    price = BigInt(default=None)
    received_at = Timestamptz(default=None)

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

from marketplace.core.db import DB
from marketplace.core.tables import Organisation
from tenders.tables import Tender, TenderLot


class Bid(Table, tablename="bid", db=DB):
    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id")
    supplier = ForeignKey(Organisation, db_column_name="supplier_id")
    submitted_by = UUID(null=True)
    status = Varchar(length=16, default="live")  # live | withdrawn
    sealed = Bytea(secret=True)  # nonce || AES-256-GCM ciphertext of the bid content
    sha256 = Varchar(length=64)  # of `sealed`
    key_id = Text()
    received_at = Timestamptz()
    signature = Text()
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
    bid = ForeignKey(Bid, db_column_name="bid_id", primary_key=True)
    tender_id = UUID()
    lot_id = UUID()
    supplier_id = UUID()
    live = Boolean(default=True)


# The real key is (lot_id, bid_id); declared on lot for piccolo's sake (reads only).
class OpeningEntry(Table, tablename="opening_entry", db=DB):
    tender = ForeignKey(Tender, db_column_name="tender_id")
    lot = ForeignKey(TenderLot, db_column_name="lot_id", primary_key=True)
    bid = ForeignKey(Bid, db_column_name="bid_id")
    supplier = ForeignKey(Organisation, db_column_name="supplier_id")
    price = BigInt()
    received_at = Timestamptz()

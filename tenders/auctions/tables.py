"""piccolo's view of the auction tables (the DDL is SQL in migrations/)."""

from piccolo.columns import JSONB, UUID, BigInt, Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.columns import Char
from marketplace.core.db import DB
from marketplace.core.tables import Organisation
from tenders.tables import Tender, TenderLot


class Auction(Table, tablename="auction", db=DB):
    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id", null=False)
    lot = ForeignKey(TenderLot, db_column_name="lot_id", unique=True, null=False)
    state = Varchar(length=16, default=None)
    starts_at = Timestamptz(default=None)
    duration_seconds = Integer(default=None)
    ends_at = Timestamptz(default=None)
    policy = JSONB(default=None)
    currency = Char(length=3, default="PEN")
    version = BigInt(default=1)
    last_seq = Integer(default=0)
    extensions = Integer(default=0)
    best_price = BigInt(null=True, default=None)
    started_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    cancel_reason = Text(null=True, default=None)
    award_state = Varchar(length=16, default="none")
    award_note = Text(null=True, default=None)
    created_by = UUID(null=True, default=None)
    created_at = Timestamptz(default=None)


# The real key is (auction_id, supplier_id); `auction` stands in for piccolo (a one-column primary key).
class AuctionParticipant(Table, tablename="auction_participant", db=DB):
    auction = ForeignKey(Auction, db_column_name="auction_id", primary_key=True, null=False)
    supplier = ForeignKey(Organisation, db_column_name="supplier_id", null=False)
    bid_id = UUID(default=None)
    alias = Text(default=None)
    initial_price = BigInt(default=None)
    initial_received_at = Timestamptz(default=None)
    price = BigInt(default=None)
    price_seq = Integer(default=0)
    price_at = Timestamptz(default=None)
    lances = Integer(default=0)


class AuctionBid(Table, tablename="auction_bid", db=DB):
    id = UUID(primary_key=True, default=None)
    auction = ForeignKey(Auction, db_column_name="auction_id", null=False)
    seq = Integer(default=None)
    supplier = ForeignKey(Organisation, db_column_name="supplier_id", null=False)
    submitted_by = UUID(null=True, default=None)
    price = BigInt(default=None)
    received_at = Timestamptz(default=None)
    ends_at = Timestamptz(default=None)
    extended = Boolean(default=False)
    signature = Text(default=None)

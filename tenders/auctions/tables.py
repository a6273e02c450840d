"""piccolo's view of the auction tables (the DDL is SQL in migrations/)."""

from piccolo.columns import JSONB, UUID, BigInt, Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.db import DB
from marketplace.core.tables import Organisation
from tenders.tables import Tender, TenderLot


class Auction(Table, tablename="auction", db=DB):
    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id")
    lot = ForeignKey(TenderLot, db_column_name="lot_id", unique=True)
    state = Varchar(length=16)
    starts_at = Timestamptz()
    duration_seconds = Integer()
    ends_at = Timestamptz()
    policy = JSONB()
    currency = Varchar(length=3, default="PEN")
    version = BigInt(default=1)
    last_seq = Integer(default=0)
    extensions = Integer(default=0)
    best_price = BigInt(null=True, default=None)
    started_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    cancel_reason = Text(null=True, default=None)
    award_state = Varchar(length=16, default="none")
    award_note = Text(null=True, default=None)
    created_by = UUID(null=True)
    created_at = Timestamptz()


class AuctionParticipant(Table, tablename="auction_participant", db=DB):
    auction = ForeignKey(Auction, db_column_name="auction_id")
    supplier = ForeignKey(Organisation, db_column_name="supplier_id")
    bid_id = UUID()
    alias = Text()
    initial_price = BigInt()
    initial_received_at = Timestamptz()
    price = BigInt()
    price_seq = Integer(default=0)
    price_at = Timestamptz()
    lances = Integer(default=0)


class AuctionBid(Table, tablename="auction_bid", db=DB):
    id = UUID(primary_key=True)
    auction = ForeignKey(Auction, db_column_name="auction_id")
    seq = Integer()
    supplier = ForeignKey(Organisation, db_column_name="supplier_id")
    submitted_by = UUID(null=True)
    price = BigInt()
    received_at = Timestamptz()
    ends_at = Timestamptz()
    extended = Boolean(default=False)
    signature = Text()

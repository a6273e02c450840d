"""piccolo's view of the evaluation tables (the DDL is SQL in migrations/)."""

from piccolo.columns import JSONB, UUID, Boolean, ForeignKey, Integer, Numeric, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.db import DB
from tenders.bids.tables import Bid
from tenders.tables import Tender, TenderLot


class TenderScoring(Table, tablename="tender_scoring", db=DB):
    tender = ForeignKey(Tender, db_column_name="tender_id", primary_key=True)
    technical_weight = Numeric(digits=(4, 3))
    price_weight = Numeric(digits=(4, 3))
    technical_minimum = Numeric(digits=(6, 2), null=True, default=None)
    criteria = JSONB()
    set_by = UUID(null=True)
    set_at = Timestamptz()


# The real key is (lot_id, bid_id, criterion); declared on lot for piccolo's sake (reads only).
class TechnicalScore(Table, tablename="technical_score", db=DB):
    tender = ForeignKey(Tender, db_column_name="tender_id")
    lot = ForeignKey(TenderLot, db_column_name="lot_id", primary_key=True)
    bid = ForeignKey(Bid, db_column_name="bid_id")
    criterion = Text()
    points = Numeric(digits=(6, 2))
    entered_by = UUID(null=True)
    entered_at = Timestamptz()


# The real key is (lot_id, bid_id).
class BidQualification(Table, tablename="bid_qualification", db=DB):
    tender = ForeignKey(Tender, db_column_name="tender_id")
    lot = ForeignKey(TenderLot, db_column_name="lot_id", primary_key=True)
    bid = ForeignKey(Bid, db_column_name="bid_id")
    qualified = Boolean()
    reason = Text()
    decided_by = UUID(null=True)
    decided_at = Timestamptz()


class ScoreSheet(Table, tablename="score_sheet", db=DB):
    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id")
    lot = ForeignKey(TenderLot, db_column_name="lot_id")
    round = Integer()
    outcome = Varchar(length=16)
    sheet = JSONB()
    created_by = UUID(null=True)
    created_at = Timestamptz()

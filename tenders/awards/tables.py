"""piccolo's view of the award tables (the DDL is SQL in migrations/)."""

from piccolo.columns import UUID, BigInt, ForeignKey, Integer, Numeric, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.db import DB
from marketplace.core.tables import Organisation
from tenders.bids.tables import Bid
from tenders.evaluation.tables import ScoreSheet
from tenders.tables import Tender, TenderLot


class Award(Table, tablename="award", db=DB):
    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id")
    lot = ForeignKey(TenderLot, db_column_name="lot_id")
    score_sheet = ForeignKey(ScoreSheet, db_column_name="score_sheet_id")
    bid = ForeignKey(Bid, db_column_name="bid_id")
    supplier = ForeignKey(Organisation, db_column_name="supplier_id")
    value = BigInt()
    currency = Varchar(length=3, default="PEN")
    final_score = Numeric(digits=(8, 2))
    state = Varchar(length=16)
    standstill_days = Integer()
    notified_at = Timestamptz()
    standstill_ends_at = Timestamptz()
    consented_at = Timestamptz(null=True, default=None)
    cancelled_at = Timestamptz(null=True, default=None)
    cancel_reason = Text(null=True, default=None)
    created_by = UUID(null=True)
    created_at = Timestamptz()
    state_changed_at = Timestamptz()


class AwardAppeal(Table, tablename="award_appeal", db=DB):
    id = UUID(primary_key=True)
    award = ForeignKey(Award, db_column_name="award_id")
    tender = ForeignKey(Tender, db_column_name="tender_id")
    lot = ForeignKey(TenderLot, db_column_name="lot_id")
    appellant = ForeignKey(Organisation, db_column_name="appellant_id")
    filed_by = UUID(null=True)
    bid = ForeignKey(Bid, db_column_name="bid_id")
    grounds = Text()
    state = Varchar(length=16)
    filed_at = Timestamptz()
    decided_at = Timestamptz(null=True, default=None)
    decided_by = UUID(null=True)
    decision_reason = Text(null=True, default=None)

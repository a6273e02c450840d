"""piccolo's view of the award tables (the DDL is SQL in migrations/)."""

from piccolo.columns import UUID, BigInt, ForeignKey, Integer, Numeric, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.columns import Char
from marketplace.core.db import DB
from marketplace.core.tables import Organisation
from tenders.bids.tables import Bid
from tenders.evaluation.tables import ScoreSheet
from tenders.tables import Tender, TenderLot


class Award(Table, tablename="award", db=DB):
    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id", null=False)
    lot = ForeignKey(TenderLot, db_column_name="lot_id", null=False)
    score_sheet = ForeignKey(ScoreSheet, db_column_name="score_sheet_id", null=False)
    bid = ForeignKey(Bid, db_column_name="bid_id", null=False)
    supplier = ForeignKey(Organisation, db_column_name="supplier_id", null=False)
    value = BigInt(default=None)
    currency = Char(length=3, default="PEN")
    final_score = Numeric(digits=(8, 2), default=None)
    state = Varchar(length=16, default=None)
    standstill_days = Integer(default=None)
    notified_at = Timestamptz(default=None)
    standstill_ends_at = Timestamptz(default=None)
    consented_at = Timestamptz(null=True, default=None)
    cancelled_at = Timestamptz(null=True, default=None)
    cancel_reason = Text(null=True, default=None)
    created_by = UUID(null=True, default=None)
    created_at = Timestamptz(default=None)
    state_changed_at = Timestamptz(default=None)


class AwardAppeal(Table, tablename="award_appeal", db=DB):
    id = UUID(primary_key=True)
    award = ForeignKey(Award, db_column_name="award_id", null=False)
    tender = ForeignKey(Tender, db_column_name="tender_id", null=False)
    lot = ForeignKey(TenderLot, db_column_name="lot_id", null=False)
    appellant = ForeignKey(Organisation, db_column_name="appellant_id", null=False)
    filed_by = UUID(null=True, default=None)
    bid = ForeignKey(Bid, db_column_name="bid_id", null=False)
    grounds = Text(default=None)
    state = Varchar(length=16, default=None)
    filed_at = Timestamptz(default=None)
    decided_at = Timestamptz(null=True, default=None)
    decided_by = UUID(null=True, default=None)
    decision_reason = Text(null=True, default=None)
    bond_cents = BigInt()
    deciding_body = Varchar(length=16, default="tribunal")  # agency_head | tribunal (domain.deciding_body)

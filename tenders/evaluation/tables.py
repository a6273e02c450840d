"""piccolo's view of the evaluation tables (the DDL is SQL in migrations/)."""

from piccolo.columns import JSONB, UUID, Boolean, ForeignKey, Integer, Numeric, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.columns import Char
from marketplace.core.db import DB
from marketplace.core.tables import User
from tenders.bids.tables import Bid
from tenders.tables import Tender, TenderLot


class TenderScoring(Table, tablename="tender_scoring", db=DB):
    tender = ForeignKey(Tender, db_column_name="tender_id", primary_key=True, null=False)
    technical_weight = Numeric(digits=(4, 3), default=None)
    price_weight = Numeric(digits=(4, 3), default=None)
    technical_minimum = Numeric(digits=(6, 2), null=True, default=None)
    criteria = JSONB(default="[]")
    set_by = UUID(null=True, default=None)
    set_at = Timestamptz(default=None)


# The real key is (lot_id, bid_id, criterion); declared on lot for piccolo's sake (reads only).
class TechnicalScore(Table, tablename="technical_score", db=DB):
    tender = ForeignKey(Tender, db_column_name="tender_id", null=False)
    lot = ForeignKey(TenderLot, db_column_name="lot_id", primary_key=True, null=False)
    bid = ForeignKey(Bid, db_column_name="bid_id", null=False)
    criterion = Text(default=None)
    points = Numeric(digits=(6, 2), default=None)
    entered_by = UUID(null=True, default=None)
    entered_at = Timestamptz(default=None)


# The real key is (lot_id, bid_id).
class BidQualification(Table, tablename="bid_qualification", db=DB):
    tender = ForeignKey(Tender, db_column_name="tender_id", null=False)
    lot = ForeignKey(TenderLot, db_column_name="lot_id", primary_key=True, null=False)
    bid = ForeignKey(Bid, db_column_name="bid_id", null=False)
    qualified = Boolean(default=None)
    reason = Text()
    decided_by = UUID(null=True, default=None)
    decided_at = Timestamptz(default=None)


class ScoreSheet(Table, tablename="score_sheet", db=DB):
    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id", null=False)
    lot = ForeignKey(TenderLot, db_column_name="lot_id", null=False)
    round = Integer(default=None)
    outcome = Varchar(length=16, default=None)
    sheet = JSONB(default=None)
    created_by = UUID(null=True, default=None)
    created_at = Timestamptz(default=None)


# The real key is (tender_id, user_id).
class TenderCommitteeMember(Table, tablename="tender_committee_member", db=DB):
    tender = ForeignKey(Tender, db_column_name="tender_id", primary_key=True, null=False)
    user = ForeignKey(User, db_column_name="user_id", null=False)
    designated_by = ForeignKey(User, db_column_name="designated_by", null=True)
    designated_at = Timestamptz(default=None)


# The real key is (lot_id, bid_id, criterion, member_id): one member's own points.
class MemberScore(Table, tablename="member_score", db=DB):
    tender = ForeignKey(Tender, db_column_name="tender_id", null=False)
    lot = ForeignKey(TenderLot, db_column_name="lot_id", primary_key=True, null=False)
    bid = ForeignKey(Bid, db_column_name="bid_id", null=False)
    criterion = Text(default=None)
    member = ForeignKey(User, db_column_name="member_id", null=False)
    points = Numeric(digits=(6, 2), default=None)
    entered_at = Timestamptz(default=None)


class EvaluationActa(Table, tablename="evaluation_acta", db=DB):
    id = UUID(primary_key=True)
    tender = ForeignKey(Tender, db_column_name="tender_id", null=False)
    number = Integer(default=None)
    content = JSONB(default=None)
    sha256 = Char(length=64, default=None)
    drafted_by = ForeignKey(User, db_column_name="drafted_by", null=True)
    drafted_at = Timestamptz(default=None)


# The real key is (acta_id, member_id).
class EvaluationActaConfirmation(Table, tablename="evaluation_acta_confirmation", db=DB):
    acta = ForeignKey(EvaluationActa, db_column_name="acta_id", primary_key=True, null=False)
    member = ForeignKey(User, db_column_name="member_id", null=False)
    dissent = Text()
    confirmed_at = Timestamptz(default=None)

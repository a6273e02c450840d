from pathlib import Path

from piccolo.conf.apps import AppConfig

from tenders import tables
from tenders.bids import tables as bid_tables

APP_CONFIG = AppConfig(
    app_name="tenders",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[
        tables.Tender, tables.TenderLot, tables.TenderDocument, tables.TenderEnquiry, tables.TenderAmendment,
        tables.TenderEnquiryAnswer, tables.TenderInvitation,
        tables.TenderOpening, tables.TenderOpeningConfirmation, bid_tables.Bid, bid_tables.BidLot,
        bid_tables.OpeningEntry,
    ],
    migration_dependencies=["marketplace.core.piccolo_app"],
)

from pathlib import Path

from piccolo.conf.apps import AppConfig

from tenders.auctions import tables

APP_CONFIG = AppConfig(
    app_name="auctions",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[tables.Auction, tables.AuctionParticipant, tables.AuctionBid],
    migration_dependencies=["marketplace.core.piccolo_app", "tenders.piccolo_app"],
)

from pathlib import Path

from piccolo.conf.apps import AppConfig

from marketplace.payments import tables

APP_CONFIG = AppConfig(
    app_name="payments",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[tables.Payment, tables.StripeEvent, tables.ConnectedAccount, tables.LedgerEntry,
                   tables.PaymentAlarm],
    migration_dependencies=["marketplace.core.piccolo_app", "marketplace.contracts.piccolo_app"],
)

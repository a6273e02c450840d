from pathlib import Path

from piccolo.conf.apps import AppConfig

from marketplace.orders import tables

APP_CONFIG = AppConfig(
    app_name="orders",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[tables.PurchaseOrder],
    migration_dependencies=["marketplace.core.piccolo_app", "suppliers.piccolo_app"],
)

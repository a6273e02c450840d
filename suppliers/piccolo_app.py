from pathlib import Path

from piccolo.conf.apps import AppConfig

from suppliers import tables
from suppliers.alerts import tables as alert_tables
from suppliers.catalog import tables as catalog_tables

APP_CONFIG = AppConfig(
    app_name="suppliers",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[*tables.TABLES, *catalog_tables.TABLES, *alert_tables.TABLES],
    migration_dependencies=["marketplace.core.piccolo_app"],
)

from pathlib import Path

from piccolo.conf.apps import AppConfig

from marketplace.contracts import tables

APP_CONFIG = AppConfig(
    app_name="contracts",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[tables.Contract, tables.Milestone, tables.Amendment, tables.Delivery, tables.Document],
    migration_dependencies=["marketplace.core.piccolo_app"],
)

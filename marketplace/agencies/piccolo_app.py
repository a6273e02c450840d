from pathlib import Path

from piccolo.conf.apps import AppConfig

from marketplace.agencies import tables

APP_CONFIG = AppConfig(
    app_name="agencies",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[tables.Agency],
    migration_dependencies=["marketplace.core.piccolo_app"],
)

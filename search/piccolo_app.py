from pathlib import Path

from piccolo.conf.apps import AppConfig

from search import tables

APP_CONFIG = AppConfig(
    app_name="search",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[tables.SearchOffer, tables.SearchTender, tables.SearchVocabulary],
    migration_dependencies=["marketplace.core.piccolo_app"],
)

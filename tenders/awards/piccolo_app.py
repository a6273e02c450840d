from pathlib import Path

from piccolo.conf.apps import AppConfig

from tenders.awards import tables

APP_CONFIG = AppConfig(
    app_name="awards",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[tables.Award, tables.AwardAppeal],
    migration_dependencies=["marketplace.core.piccolo_app", "tenders.piccolo_app",
                            "tenders.evaluation.piccolo_app"],
)

from pathlib import Path

from piccolo.conf.apps import AppConfig

from marketplace.oversight import tables
from marketplace.oversight.redflags import tables as redflag_tables

APP_CONFIG = AppConfig(
    app_name="oversight",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[tables.AwardHistory, tables.OcdsRelease, tables.TenderStage, tables.StageAlarm,
                   tables.AgencyNotification, tables.OcdsPublisher, tables.OcdsImportRelease,
                   tables.OcdsCompiled, tables.OcdsParty, tables.OcdsImportRun, tables.OcdsImportSeen,
                   tables.OcdsStageTime, tables.OversightFeedCursor, *redflag_tables.TABLES],
    migration_dependencies=["marketplace.core.piccolo_app", "tenders.piccolo_app", "tenders.awards.piccolo_app",
                            "marketplace.contracts.piccolo_app"],
)

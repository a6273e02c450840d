from pathlib import Path

from piccolo.conf.apps import AppConfig

from tenders.evaluation import tables

APP_CONFIG = AppConfig(
    app_name="evaluation",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[tables.TenderScoring, tables.TechnicalScore, tables.BidQualification, tables.ScoreSheet,
                   tables.TenderCommitteeMember, tables.MemberScore, tables.EvaluationActa,
                   tables.EvaluationActaConfirmation],
    migration_dependencies=["marketplace.core.piccolo_app", "tenders.piccolo_app"],
)

from pathlib import Path

from piccolo.conf.apps import AppConfig

from marketplace.core import tables

APP_CONFIG = AppConfig(
    app_name="core",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[
        tables.Organisation, tables.User, tables.ApiKey, tables.RefreshToken, tables.AuditEvent,
        tables.AuditCheckpoint, tables.Outbox, tables.OutboxCursor, tables.IdempotencyKey,
    ],
)

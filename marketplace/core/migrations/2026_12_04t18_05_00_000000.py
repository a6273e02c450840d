"""A token version per user (issue 17, finding 7): bearer tokens carry the version they were issued under;
signing out everywhere, disabling the user or changing their roles raises it, and every token issued
before stops being accepted (marketplace.core.auth.user_state)."""

from marketplace.core.migrate import sql_migration

ID = "2026-12-04T18:05:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "core: app_user.token_version"

SQL = r"""
ALTER TABLE app_user ADD COLUMN token_version integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN app_user.token_version IS
    'Bearer tokens issued under another version are refused (sign out everywhere, disabled, roles changed)';
"""


async def forwards():
    return sql_migration(ID, "core", DESCRIPTION, SQL)

"""Refresh tokens (issue 17, finding 7): opaque, stored as a SHA-256 digest, one row per token, grouped in
families (one per sign-in). Refreshing spends a token and issues the next of its family; presenting a spent
token again revokes the family (marketplace.core.auth.refresh)."""

from marketplace.core.migrate import sql_migration

ID = "2026-12-04T19:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "core: refresh_token"

SQL = r"""
CREATE TABLE refresh_token (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    family_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    token_hash text NOT NULL UNIQUE,
    token_version integer NOT NULL,
    issued_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    spent_at timestamptz,
    revoked_at timestamptz,
    revoked_reason text
);
CREATE INDEX refresh_token_family ON refresh_token (family_id);
CREATE INDEX refresh_token_user ON refresh_token (user_id);
COMMENT ON TABLE refresh_token IS
    'Refresh tokens (digests only): each is spent once; a spent one presented again revokes its family';
"""


async def forwards():
    return sql_migration(ID, "core", DESCRIPTION, SQL)

"""The watermark of this database: the oldest transaction still running in it.

The outbox, the audit chain and the OCDS feed read rows whose transaction is older than every transaction
that could still commit one. PostgreSQL's snapshot xmin counts every running transaction of the whole
server, other databases included, so a long transaction in another database (a training sandbox, a report,
another application) held back delivery here although it can never write our tables. `local_xmin()` leaves
out the running transactions PostgreSQL shows as belonging to another database; any it cannot place (a role
without pg_read_all_stats sees other roles' sessions without their xid) still count, as before.
"""

from marketplace.core.migrate import sql_migration

ID = "2026-12-04T16:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "core: local_xmin(), the watermark of this database"

SQL = r"""
CREATE FUNCTION local_xmin() RETURNS xid8 LANGUAGE sql STABLE AS $$
    SELECT coalesce(min(x), pg_snapshot_xmax(pg_current_snapshot()))
      FROM pg_snapshot_xip(pg_current_snapshot()) AS x
     WHERE NOT EXISTS (
           SELECT 1 FROM pg_stat_activity a
            WHERE a.backend_xid IS NOT NULL
              AND a.datid IS NOT NULL
              AND a.datid <> (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
              -- backend_xid is the 32-bit xid; x is the same id with its epoch
              AND a.backend_xid::text::bigint = x::text::bigint % 4294967296)
$$;
COMMENT ON FUNCTION local_xmin() IS
    'The oldest transaction still running in this database (xid8), as of the calling statement''s snapshot';
"""


async def forwards():
    return sql_migration(ID, "core", DESCRIPTION, SQL)

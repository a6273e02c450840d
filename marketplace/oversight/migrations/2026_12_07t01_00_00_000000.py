"""Oversight: per-publisher Cardinal settings in the red-flag read model (issue 16).

`redflag_publisher` keeps which settings computed a publisher's flags: `settings_file` (the INI file chosen
in REDFLAG_SETTINGS_DIR, '' for Cardinal's defaults) and `settings_hash` (a digest of the settings as
parsed, so a comment does not count as a change). When the digest of the file in force differs, the
population job recomputes that publisher from its compiled releases, batch after batch (`rebuild_after`:
the last ocid done, NULL when no recomputation is under way). `ocid_sample`: one of its ocids, for the
settings chosen by ocid prefix.
"""

from marketplace.core.migrate import sql_migration

ID = "2026-12-07T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "oversight: red-flag read model, each publisher's Cardinal settings and their recomputation"

SQL = r"""
ALTER TABLE redflag_publisher ADD COLUMN settings_file text;
ALTER TABLE redflag_publisher ADD COLUMN settings_hash bytea;
ALTER TABLE redflag_publisher ADD COLUMN ocid_sample text;
ALTER TABLE redflag_publisher ADD COLUMN rebuild_after text;
"""


async def forwards():
    return sql_migration(ID, "oversight", DESCRIPTION, SQL)

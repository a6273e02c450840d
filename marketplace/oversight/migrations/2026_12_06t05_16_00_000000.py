"""Oversight: the red-flag read model's region (issue 16, the `region` filter).

`region` is the first 2 digits of an ubigeo: for our own processes, where the first lot is delivered (else
the buyer agency's ubigeo); imported processes have none (OCDS carries no ubigeo), so they never match a
region filter. Kept on `redflag_process` too, for the ratio flags the population pass rewrites.
"""

from marketplace.core.migrate import sql_migration

ID = "2026-12-06T05:16:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "oversight: red-flag read model, region of the process (ubigeo's first 2 digits)"

SQL = r"""
ALTER TABLE redflag_process ADD COLUMN region varchar(2);
ALTER TABLE redflag ADD COLUMN region varchar(2);
CREATE INDEX redflag_region_idx ON redflag (region, date DESC, id DESC) WHERE region IS NOT NULL;
"""


async def forwards():
    return sql_migration(ID, "oversight", DESCRIPTION, SQL)

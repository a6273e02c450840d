"""piccolo's view of the agency table (the DDL is SQL, in migrations/)."""

from piccolo.columns import UUID, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.db import DB


class Agency(Table, tablename="agency", db=DB):
    """An organisation of kind 'agency' (name, RUC and ubigeo live on `organisation`)."""

    organisation_id = UUID(primary_key=True, default=None)  # = organisation.id
    level = Varchar(length=16, default=None)  # national | regional | local
    sector = Text()
    created_at = Timestamptz()

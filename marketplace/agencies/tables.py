"""The agency table, column for column as the migrations make it (tests/core/test_tables_drift.py checks)."""

from piccolo.columns import ForeignKey, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.db import DB
from marketplace.core.tables import Organisation


class Agency(Table, tablename="agency", db=DB):
    """An organisation of kind 'agency' (name, RUC and ubigeo live on `organisation`)."""

    organisation = ForeignKey(Organisation, db_column_name="organisation_id", primary_key=True, null=False)
    level = Varchar(length=16, default=None)  # national | regional | local
    sector = Text()
    created_at = Timestamptz()

"""The supplier registry tables, column for column as migrations/ makes them (tests/core/test_tables_drift.py
checks)."""

from piccolo.columns import UUID, Array, BigSerial, Boolean, Text, Timestamptz, Varchar
from piccolo.table import Table

from marketplace.core.db import DB


class Supplier(Table, tablename="supplier", db=DB):
    organisation_id = UUID(primary_key=True, default=None)
    ruc = Varchar(length=11, default=None)
    legal_name = Text(default=None)
    ubigeo = Varchar(length=6, default=None)
    person_type = Varchar(length=10, default=None)  # company | individual
    mype = Boolean()
    status = Varchar(length=16, default="pending")  # pending | active | suspended | disqualified
    status_reason = Text()
    suspended_until = Timestamptz(null=True, default=None)
    contact_name = Text()
    contact_email = Text()
    contact_phone = Text()
    categories = Array(base_column=Text())
    registered_at = Timestamptz()
    status_changed_at = Timestamptz()
    updated_at = Timestamptz()


class SupplierStatusChange(Table, tablename="supplier_status_change", db=DB):
    id = BigSerial(primary_key=True)
    supplier_id = UUID(default=None)
    from_status = Varchar(length=16, default=None)
    to_status = Varchar(length=16, default=None)
    reason = Text(default=None)
    suspended_until = Timestamptz(null=True, default=None)
    actor_user_id = UUID(null=True, default=None)
    actor_org_id = UUID(null=True, default=None)
    changed_at = Timestamptz(default=None)


class SupplierFactChange(Table, tablename="supplier_fact_change", db=DB):
    """A MYPE status or domicile value with its source and effective date (public history; the bonuses read
    the value in force when a tender was published)."""

    id = BigSerial(primary_key=True)
    supplier_id = UUID(default=None)
    fact = Varchar(length=16, default=None)  # mype | domicile
    value = Text(default=None)  # 'true'/'false' for mype, the district's ubigeo for domicile
    previous = Text(null=True, default=None)
    source = Varchar(length=16, default=None)  # registration | supplier | platform | backfill
    effective_at = Timestamptz(default=None)
    actor_user_id = UUID(null=True, default=None)
    recorded_at = Timestamptz(default=None)


TABLES = [Supplier, SupplierStatusChange, SupplierFactChange]

"""Column types piccolo lacks, for the Tables (tables.py) to describe the migrated schema exactly."""

from __future__ import annotations

from piccolo.columns import Varchar


class Char(Varchar):
    """PostgreSQL `char(n)`: a fixed-length, blank-padded string (currency codes, region codes, hex digests).
    Read and written as a str, like Varchar; the drift test (tests/core/test_tables_drift.py) tells the two
    apart, since the database does."""

    @property
    def column_type(self) -> str:
        return f"CHAR({self.length})"

"""Row identifiers made by the application: UUIDv7 (RFC 9562).

A UUIDv7 starts with its creation time in milliseconds, so ids made one after another sort one after another.
A primary key of random UUIDv4 sends every insert to a random leaf of its index: under a deadline rush, every
insert after a checkpoint then writes a full 8 kB page image to the WAL first (full_page_writes), and each
commit waits for that WAL to reach the disk. Measured in the bid rush (bench/rush.py): bid_pkey and
bid_lot_pkey took 1,694 of 1,913 full-page images in one 16 MB WAL segment, 9.4 kB of WAL per bid against
4.4 kB without a checkpoint, and bids/s fell by 30%. Time-ordered ids append to the right-hand leaf.

What a v7 id shows is the millisecond it was made; the rows made here (bids, lances, tenders) carry that
time openly anyway (received_at, created_at).
"""

from __future__ import annotations

from uuid_utils.compat import uuid7 as new_id  # a stdlib uuid.UUID; monotonic within this process

__all__ = ["new_id"]

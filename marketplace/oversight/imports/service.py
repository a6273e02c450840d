"""Importing OCDS: releases and records in, one compiled release per process out, in batches.

`Importer` takes the items `read.read()` yields (or a harvested page's) and writes them in batches, each
batch ONE transaction (joining the caller's when there is one: the harvester puts a whole page and its
cursor in one):

1. under the compile lock (queries.COMPILE_LOCK), the batch's releases whose hash is already stored are
   dropped (importing the same file twice writes nothing);
2. each process with new releases is compiled once: its new releases merged on top of its stored compiled
   release, or, when one of them is dated before what was merged already, from all its releases again; a
   record whose publisher gives a compiled release (or a versioned one) gives the compiled release as is;
3. the new releases, the changed compiled releases (each taking a new place in the change feed), their
   parties (with RUCs), the publishers' counters and the run's per-process status are written, one multi-row
   statement each.

A release that cannot be taken (not OCDS, cannot be upgraded or merged) is refused with where it was and why;
the rest goes on. Publishers are found by ocid prefix, then by the package's publisher name, else created.

Our own processes ("Mercado Abierto") meet imported ones in the same compiled table: the OCDS publication
consumer calls `compile_own()` in its transaction with the releases it has just stored in `ocds_release`, and
`backfill_own()` compiles any of our processes that has none yet (releases published before this existed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from marketplace.core import db
from marketplace.oversight.imports import domain
from marketplace.oversight.imports import queries as q
from marketplace.oversight.imports.read import Item, Meta, Refusal
from marketplace.oversight.schemas import PublisherRead

log = logging.getLogger(__name__)

OWN_NAME = "Mercado Abierto"
OWN_SLUG = "mercado-abierto"
OWN_URI = "https://mercado-abierto.pe"
# A bigger batch compiles more of a process's releases at once (one merge, one compiled row written, instead
# of one per release); a batch holds only each release's canonical JSON, so 10,000 are ~30 MB of a typical feed.
BATCH_RELEASES = 10000
BATCH_BYTES = 48 << 20
NEW, CHANGED, UNCHANGED = 2, 1, 0
REFUSALS_KEPT = 1000
COMPILE_CHUNK = 1000
YIELD_EVERY = 50  # processes compiled between two chances for the previous chunk's writes to be sent


@dataclass
class Report:
    files: int = 0
    files_skipped: int = 0
    releases: int = 0
    records: int = 0
    releases_new: int = 0
    processes_new: int = 0
    processes_changed: int = 0
    processes_unchanged: int = 0
    refused: int = 0
    refusals: list[Refusal] = field(default_factory=list)  # the first REFUSALS_KEPT


@dataclass(slots=True)
class _Batch:
    releases: list[domain.Release]
    records: list[_RecordCompiled]
    touched: set[str]


@dataclass(slots=True)
class _RecordCompiled:
    ocid: str
    json: bytes  # the publisher's compiled release, canonical JSON (decoded when written)
    date: str
    publisher_id: int


class Publishers:
    """Which publisher an ocid belongs to: by registered prefix, else the harvested publisher (`default`),
    else by the package's publisher name, else a new publisher. A publisher first met without a name (a bare
    release) is named after its prefix, and renamed when a package names it. Kept in memory for the import."""

    def __init__(self, default: int | None = None) -> None:
        self.default = default
        self.by_prefix: dict[str, int] = {}
        self.by_name: dict[str, int] = {}
        self.placeholders: set[int] = set()
        self.loaded = False

    async def load(self) -> None:
        for p in await q.publishers():
            for prefix in p.ocid_prefixes:
                self.by_prefix.setdefault(prefix, p.id)
                if p.name == domain.placeholder_name(prefix):
                    self.placeholders.add(p.id)
            self.by_name.setdefault(p.name.casefold(), p.id)
        self.loaded = True

    async def resolve(self, ocid: str, meta: Meta) -> int:
        if not self.loaded:
            await self.load()
        prefix = domain.ocid_prefix(ocid)
        key = prefix or f"name:{meta.publisher_name.casefold()}"
        found = self.by_prefix.get(key)
        if found is not None:
            if found in self.placeholders and meta.publisher_name:
                async with db.unit_of_work(join=True):
                    await q.name_publisher(found, name=meta.publisher_name, uri=meta.publisher_uri,
                                           uid=meta.publisher_uid)
                self.placeholders.discard(found)
                self.by_name.setdefault(meta.publisher_name.casefold(), found)
            return found
        async with db.unit_of_work(join=True):
            if self.default is not None:
                found = self.default
            elif meta.publisher_name:
                found = self.by_name.get(meta.publisher_name.casefold())
            if found is None:
                name = meta.publisher_name or (prefix and domain.placeholder_name(prefix)) or "Unknown publisher"
                found = await self._create(name=name, uri=meta.publisher_uri, uid=meta.publisher_uid, prefix=prefix)
                if not meta.publisher_name and prefix:
                    self.placeholders.add(found)
            elif prefix:
                await q.add_prefix(found, prefix)
        self.by_prefix[key] = found
        if meta.publisher_name:
            self.by_name.setdefault(meta.publisher_name.casefold(), found)
        return found

    async def _create(self, *, name: str, uri: str, uid: str, prefix: str) -> int:
        base = domain.slugify(name, fallback=prefix or "publisher")
        prefixes = [prefix] if prefix else []
        for n in range(1000):
            slug = base if n == 0 else f"{base}-{n + 1}"
            pid = await q.insert_publisher(slug=slug, name=name, uri=uri, uid=uid, prefixes=prefixes)
            if pid is not None:
                return pid
            other = await q.publisher_by_slug(slug)
            if other is not None and other.name == name and (not prefix or prefix in other.ocid_prefixes):
                return other.id  # created meanwhile by another import
        raise RuntimeError(f"no free slug for publisher {name!r}")


class Importer:
    """Feed it items; it writes them in batches. `await close()` writes the last batch and the run's counts."""

    def __init__(self, *, origin: str, default_publisher: int | None = None, batch_releases: int = BATCH_RELEASES,
                 on_refusal: Callable[[Refusal], None] | None = None) -> None:
        self.origin = origin
        self.default_publisher = default_publisher
        self.publishers = Publishers(default_publisher)
        self.batch_releases = batch_releases
        self.on_refusal = on_refusal
        self.report = Report()
        self.run_id: int | None = None
        self.last_txid = ""  # the transaction id of the last batch written
        self._releases: list[domain.Release] = []
        self._records: list[_RecordCompiled] = []
        self._touched: set[str] = set()
        self._bytes = 0

    # --- intake ---------------------------------------------------------------------------------------------

    def refuse(self, where: str, reason: str) -> None:
        refusal = Refusal(where=where, reason=reason)
        self.report.refused += 1
        if len(self.report.refusals) < REFUSALS_KEPT:
            self.report.refusals.append(refusal)
        if self.on_refusal:
            self.on_refusal(refusal)

    async def start(self) -> None:
        if self.run_id is None:
            async with db.unit_of_work(join=True):
                self.run_id = await q.start_run(self.origin, self.default_publisher)

    async def add(self, entry: Item | Refusal) -> None:
        if isinstance(entry, Refusal):
            self.refuse(entry.where, entry.reason)
            return
        if self.run_id is None:
            await self.start()
        if entry.kind == "record":
            self.report.records += 1
            await self._add_record(entry)
        else:
            await self._add_release(entry.value, entry.where, entry.meta)
        if len(self._releases) >= self.batch_releases or self._bytes >= BATCH_BYTES:
            await self.flush()

    async def add_all(self, entries: Iterable[Item | Refusal]) -> None:
        for entry in entries:
            await self.add(entry)

    async def _add_release(self, value: Any, where: str, meta: Meta, *, version: str | None = None) -> None:
        """A release as published; `version` (else read from the package or the release) picks its merge rules."""
        self.report.releases += 1
        try:
            if version is None:
                version = "1.0" if isinstance(value, dict) and domain.needs_upgrade(
                    value, meta.version, in_package=meta.in_package) else "1.1"
            release = domain.prepare_release(value, where, version)
        except domain.Refused as exc:
            self.refuse(where, exc.reason)
            return
        release.publisher_id = await self.publishers.resolve(release.ocid, meta)
        self._releases.append(release)
        self._touched.add(release.ocid)
        self._bytes += len(release.json)

    async def _add_record(self, entry: Item) -> None:
        record, where, meta = entry.value, entry.where, entry.meta
        try:
            old = isinstance(record, dict) and domain.needs_upgrade(record, meta.version, in_package=meta.in_package)
            parts = domain.record_parts(record)
            if old and parts.compiled is not None:
                domain.upgrade_release(parts.compiled)  # the publisher's compiled release, read as 1.1
        except domain.Refused as exc:
            self.refuse(where, exc.reason)
            return
        for i, r in enumerate(parts.releases):
            await self._add_release(r, f"{where} releases[{i}]", meta, version="1.0" if old else "1.1")
        self._touched.add(parts.ocid)
        if parts.compiled is not None:
            publisher_id = await self.publishers.resolve(parts.ocid, meta)
            raw = domain.canonical(parts.compiled)
            self._records.append(_RecordCompiled(ocid=parts.ocid, json=raw, date=str(parts.compiled.get("date") or ""),
                                                 publisher_id=publisher_id))
            self._bytes += len(raw)

    # --- a batch --------------------------------------------------------------------------------------------

    def take_batch(self) -> _Batch | None:
        """The batch read so far (and a fresh one started), or None when it is empty."""
        batch = _Batch(self._releases, self._records, self._touched)
        self._releases, self._records, self._touched, self._bytes = [], [], set(), 0
        return batch if batch.releases or batch.records or batch.touched else None

    async def write(self, batch: _Batch) -> None:
        """One batch, one transaction (the caller's when there is one: joined)."""
        async with db.unit_of_work(join=True):
            await q.lock_compile()
            outcome = await _write_batch(batch.releases, batch.records, refuse=self.refuse)
            statuses = dict.fromkeys(batch.touched, UNCHANGED)
            statuses.update(outcome.statuses)
            assert self.run_id is not None
            await q.mark_seen(self.run_id, statuses)
            self.last_txid = await q.current_txid()
        self.report.releases_new += outcome.releases_new

    async def flush(self) -> None:
        if self.run_id is None:
            await self.start()
        batch = self.take_batch()
        if batch is not None:
            await self.write(batch)

    async def abandon(self) -> None:
        """Give up (the import failed): nothing is pending in this class; subclasses may have a write running."""

    async def close(self, *, files: int | None = None) -> Report:
        await self.flush()
        if files is not None:
            self.report.files = files
        if self.run_id is not None:
            async with db.unit_of_work(join=True):
                r = self.report
                r.processes_new, r.processes_changed, r.processes_unchanged = await q.finish_run(
                    self.run_id, files=r.files, releases=r.releases, records=r.records, releases_new=r.releases_new,
                    refused=r.refused)
        return self.report


@dataclass
class _Outcome:
    statuses: dict[str, int] = field(default_factory=dict)
    releases_new: int = 0


def _compiled_row(ocid: str, publisher_id: int, source: str, version: str, compiled: dict[str, Any], raw: bytes,
                  hash_: bytes) -> tuple[q.CompiledRow, list[q.PartyRow]]:
    s = domain.summarise(compiled)
    row = q.CompiledRow(ocid=ocid, publisher_id=publisher_id, source=source, hash=hash_,
                        release_date=str(compiled.get("date") or ""), version=version, date=s.date,
                        buyer_id=s.buyer_id, buyer_name=s.buyer_name, buyer_ruc=s.buyer_ruc,
                        tender_status=s.tender_status, procurement_method=s.procurement_method,
                        award_count=s.award_count, contract_count=s.contract_count, data=raw.decode())
    parties = [q.PartyRow(ocid=ocid, party_id=p.party_id, name=p.name, ruc=p.ruc, roles=p.roles) for p in s.parties]
    return row, parties


def _merge(base: dict[str, Any] | None, history: list[dict[str, Any]], fresh: list[domain.Release],
           refuse: Callable[[str, str], None], version: str) -> tuple[dict[str, Any] | None, list[domain.Release]]:
    """Merge `fresh` (after `history`) on top of `base`; a release that breaks the merge is refused alone.
    (A 1.0 process is always merged from all its releases: `base` is None then.)"""
    def merge(b: dict[str, Any] | None, releases: list[dict[str, Any]]) -> dict[str, Any]:
        return domain.compile_releases(b, releases, version=version)

    try:
        return merge(base, [*history, *(r.value() for r in fresh)]), fresh
    except Exception:  # noqa: BLE001 - ocdsmerge and the upgrade raise assorted errors on malformed data
        pass
    taken: list[domain.Release] = []
    compiled = None
    for r in sorted(fresh, key=lambda x: x.date):
        try:
            compiled = merge(base, [*history, *(x.value() for x in taken), r.value()])
        except Exception as exc:  # noqa: BLE001
            refuse(r.where, f"cannot be merged with the process's other releases: {type(exc).__name__} {exc}")
            continue
        taken.append(r)
    return compiled, taken


async def _write_batch(releases: list[domain.Release], records: list[_RecordCompiled],
                       refuse: Callable[[str, str], None]) -> _Outcome:
    """Steps 1-3 of the module docstring, in the caller's transaction, under the compile lock."""
    out = _Outcome()
    unique: dict[bytes, domain.Release] = {}
    for r in releases:
        unique.setdefault(r.hash, r)
    known = await q.known_hashes(list(unique)) if unique else set()
    by_ocid: dict[str, list[domain.Release]] = {}
    for h, r in unique.items():
        if h not in known:
            by_ocid.setdefault(r.ocid, []).append(r)
    rec_by_ocid: dict[str, _RecordCompiled] = {}
    for rc in records:
        if rc.ocid not in rec_by_ocid or rc.date >= rec_by_ocid[rc.ocid].date:
            rec_by_ocid[rc.ocid] = rc
    to_compile = sorted(set(by_ocid) | set(rec_by_ocid))
    new_per_publisher: dict[int, list[int]] = {}
    # Stored compiled releases are read and written a chunk at a time (memory), and a chunk is compiled (this
    # process's CPU) while the previous one is written (PostgreSQL's): the writes run in a task on the
    # transaction's connection, and compiling touches no connection. On the connection: read chunk 0; read
    # chunk 1, write chunk 0 (while chunk 1 compiles); read chunk 2, write chunk 1 (while chunk 2 compiles)...
    chunks = [to_compile[i:i + COMPILE_CHUNK] for i in range(0, len(to_compile), COMPILE_CHUNK)]
    writing: asyncio.Task[None] | None = None
    try:
        stored, history = await _stored(chunks[0], by_ocid) if chunks else ({}, {})
        for i, ocids in enumerate(chunks):
            written = await _compile_chunk(ocids, by_ocid, rec_by_ocid, stored, history, new_per_publisher, out,
                                           refuse)
            if writing is not None:
                await writing
            if i + 1 < len(chunks):
                stored, history = await _stored(chunks[i + 1], by_ocid)
            writing = asyncio.create_task(_store_chunk(written))
        if writing is not None:
            await writing
            writing = None
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
            with contextlib.suppress(BaseException):  # already failing: the first error is the one raised
                await writing
    await q.count_publishers({pid: (c[0], c[1]) for pid, c in new_per_publisher.items()})
    return out


async def _stored(ocids: list[str], by_ocid: dict[str, list[domain.Release]],
                  ) -> tuple[dict[str, q.StoredCompiled], dict[str, list[q.StoredRelease]]]:
    """The stored compiled releases of these processes, and all the stored releases of those compiled from all
    their releases again: a release older than what was merged, or a process published in 1.0 (its compiled
    release is stored upgraded, so 1.0's rules cannot merge on top of it)."""
    stored = await q.stored_compiled(ocids)
    full = [o for o in ocids if o in by_ocid and o in stored and stored[o].source == "releases" and (
        min(r.date for r in by_ocid[o]) < stored[o].release_date or stored[o].version == "1.0"
        or any(r.version == "1.0" for r in by_ocid[o]))]
    return stored, (await q.imported_releases(full) if full else {})


@dataclass(slots=True)
class _Chunk:
    """What a compiled chunk writes."""

    taken: list[domain.Release]
    new_rows: list[q.CompiledRow]  # processes not stored yet: COPY
    new_parties: list[q.PartyRow]
    changed_rows: list[q.CompiledRow]
    changed_parties: list[q.PartyRow]


async def _store_chunk(chunk: _Chunk) -> None:
    # Under the compile lock the releases' hashes and the new processes were checked absent: COPY them.
    await q.copy_releases([
        q.ReleaseRow(hash=r.hash, publisher_id=r.publisher_id, ocid=r.ocid, release_id=r.release_id, date=r.date,
                     version=r.version, tags=r.tags, data=r.json.decode()) for r in chunk.taken])
    await q.copy_new_compiled(chunk.new_rows, chunk.new_parties)
    await q.upsert_compiled(chunk.changed_rows)
    await q.replace_parties([r.ocid for r in chunk.changed_rows], chunk.changed_parties)


async def _compile_chunk(ocids: list[str], by_ocid: dict[str, list[domain.Release]],
                         rec_by_ocid: dict[str, _RecordCompiled], stored: dict[str, q.StoredCompiled],
                         history: dict[str, list[q.StoredRelease]], new_per_publisher: dict[int, list[int]],
                         out: _Outcome, refuse: Callable[[str, str], None]) -> _Chunk:
    """Compile these processes (part of a batch); what to write. Yields to the event loop as it goes, so the
    previous chunk's writes are sent meanwhile."""
    chunk = _Chunk([], [], [], [], [])
    for n, ocid in enumerate(ocids):
        if n % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)
        s = stored.get(ocid)
        fresh = by_ocid.get(ocid, [])
        rc = rec_by_ocid.get(ocid)
        compiled: dict[str, Any] | None = None
        source = s.source if s else "releases"
        version = s.version if s else "1.1"
        ok: list[domain.Release] = []
        if rc is not None and (s is None or s.source == "record" or rc.date >= s.release_date):
            ok = fresh
            compiled, source, version = domain.decode(rc.json), "record", "1.1"
        elif fresh:
            old = history.get(ocid, [])
            version = "1.0" if any(r.version == "1.0" for r in fresh) or any(x.version == "1.0" for x in old) \
                else "1.1"
            if s is not None and s.source == "record":
                version = "1.1"  # on top of the publisher's compiled release (1.1 already): 1.1's rules
            if ocid in history:
                compiled, ok = _merge(None, [domain.decode(x.data) for x in old], fresh, refuse, version)
            else:
                base = domain.decode(s.data) if s is not None and version == "1.1" else None
                compiled, ok = _merge(base, [], fresh, refuse, version)
            source = "releases"
        chunk.taken += ok
        publisher_id = s.publisher_id if s else (fresh[0].publisher_id if fresh else rc.publisher_id if rc else 0)
        counts = new_per_publisher.setdefault(publisher_id, [0, 0])
        counts[0] += len(ok)
        if compiled is None:
            out.statuses[ocid] = UNCHANGED
            continue
        raw = domain.canonical(compiled)
        h = domain.digest(raw)
        if s is not None and h == s.hash:
            out.statuses[ocid] = UNCHANGED
            continue
        out.statuses[ocid] = CHANGED if s else NEW
        if s is None:
            counts[1] += 1
        row, parties = _compiled_row(ocid, publisher_id, source, version, compiled, raw, h)
        if s is None:
            chunk.new_rows.append(row)
            chunk.new_parties += parties
        else:
            chunk.changed_rows.append(row)
            chunk.changed_parties += parties
    out.releases_new += len(chunk.taken)
    return chunk


# --- our own processes ----------------------------------------------------------------------------------------

async def own_publisher(prefix: str) -> int:
    """The id of the "Mercado Abierto" publisher (created on first use, with our ocid prefix)."""
    pid = await q.own_publisher_id()
    if pid is not None:
        return pid
    pid = await q.insert_publisher(slug=OWN_SLUG, name=OWN_NAME, uri=OWN_URI, uid="",
                                   prefixes=[prefix] if prefix else [], own=True)
    if pid is None:  # created meanwhile
        pid = await q.own_publisher_id()
    assert pid is not None
    return pid


async def compile_own(new: dict[str, list[dict[str, Any]]]) -> None:
    """Compile our processes whose releases were just stored in `ocds_release` (the caller's transaction).
    `new` maps each ocid to its new releases. A process without a compiled release yet, or whose new
    release is dated before what was merged, is compiled from all its releases."""
    if not new:
        return
    await q.lock_compile()
    ocids = sorted(new)
    pid = await own_publisher(domain.ocid_prefix(ocids[0]))
    stored = await q.stored_compiled(ocids)
    full = [o for o in ocids if o not in stored or min(r["date"] for r in new[o]) < stored[o].release_date]
    history = await q.own_releases(full) if full else {}
    rows: list[q.CompiledRow] = []
    parties: list[q.PartyRow] = []
    processes = 0
    for ocid in ocids:
        s = stored.get(ocid)
        if ocid in full:
            compiled = domain.compile_releases(None, [domain.decode(x) for x in history.get(ocid, [])])
        else:
            assert s is not None
            compiled = domain.compile_releases(domain.decode(s.data), new[ocid])
        raw = domain.canonical(compiled)
        h = domain.digest(raw)
        if s is not None and s.hash == h:
            continue
        processes += s is None
        row, ps = _compiled_row(ocid, pid, "own", "1.1", compiled, raw, h)
        rows.append(row)
        parties += ps
    await q.upsert_compiled(rows)
    await q.replace_parties([r.ocid for r in rows], parties)
    await q.count_publishers({pid: (sum(len(v) for v in new.values()), processes)})


async def backfill_own(limit: int = 500) -> int:
    """Compile our processes that have releases but no compiled release (published before compiled releases
    existed). Returns how many; runs in the caller's transaction."""
    ocids = await q.own_without_compiled(limit)
    if not ocids:
        return 0
    history = await q.own_releases(ocids)
    await compile_own({o: [domain.decode(x) for x in history.get(o, [])] for o in ocids})
    return len(ocids)


# --- reads ------------------------------------------------------------------------------------------------------

async def list_publishers() -> list[q.PublisherRow]:
    return await q.publishers()


async def public_publishers() -> list[PublisherRead]:
    """Every publisher with its counts (public: GET /api/v1/oversight/publishers)."""
    return [PublisherRead(slug=p.slug, name=p.name, uri=p.uri, ocid_prefixes=p.ocid_prefixes, own=p.own,
                          processes=p.process_count, releases=p.release_count, last_import_at=p.last_import_at,
                          harvested=p.feed_url is not None, last_harvest_at=p.last_harvest_at)
            for p in await q.publishers()]

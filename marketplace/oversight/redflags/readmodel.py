"""The red-flag read model: Cardinal's indicators and our own (MA-*) stored per process and organisation,
kept up to date from the compiled releases' change feed, served in keyset pages.

Two jobs keep it (both under one advisory try-lock, queries.LOCK, each in its unit of work):

* `sync()` (every few seconds) reads the compiled releases changed since its cursor (`ocds_compiled`'s
  (txid, seq) feed below the watermark: ours, compiled by the OCDS publication, and imported ones alike),
  skips the unchanged (same hash), and for each changed process: evaluates it (Engine.evaluate, the
  per-process pass), replaces its own flags, takes its old contribution out of the population tallies and
  puts the new one in, judges its winner-to-runner-up ratio (R024, R058) and the organisations it touches
  (R025, R038, R048) against the publisher's LAST fences, and moves the cursor, all in one transaction.
  Only what changed is recomputed.
* `refresh_population()` (every minute, for each publisher that changed and whose fences are older than
  REDFLAG_FENCES_MINUTES) recomputes the fences from the tallies, with the engine's own Population.finalize
  (so results equal `marketplace redflags run` over the same compiled releases), and rewrites the
  publisher's population flags. Quartile fences move as data arrives; between two passes a new process is
  judged against the previous fences.

* `apply_settings()` (before each population pass) recomputes, batch after batch, each publisher whose
  Cardinal settings changed (publishers_ini: its INI file in REDFLAG_SETTINGS_DIR, compared by digest).

Populations are per publisher: Cardinal runs over one dataset, and party ids, currencies and procurement
methods mean nothing across publishers. So are settings: each publisher runs its own Cardinal settings file
(publishers_ini; Cardinal's defaults when none is registered), its preparation included. Each publisher's
main currency is its file's, else fixed the first time one is met (ours: PEN), so a process's results do not
depend on the order processes arrive in.

Where our own data knows better than bare OCDS (our processes only), the flag says so:
* R030: a reverse auction re-dates the bids it re-prices (opening_entry takes the auction bid's time, after
  the submission deadline). A bid whose date is its live auction bid's is judged by its sealed bid's receipt
  time instead; when that clears it, R030 is not raised and the process's notes say why.
* MA-AMEND: a contract whose value amendments raised by more than REDFLAG_AMENDMENT_MAX_PCT in total.
* MA-STAGE: a tender stuck in a stage past STAGE_LIMIT_DAYS (oversight's open stage alarms).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec

from marketplace.core import clock
from marketplace.core.db import unit_of_work
from marketplace.core.errors import InvalidInput
from marketplace.core.i18n import N_
from marketplace.oversight.imports import domain as import_domain
from marketplace.oversight.imports import queries as import_q
from marketplace.oversight.ocds.build import bid_detail_id, ts
from marketplace.oversight.redflags import publishers_ini
from marketplace.oversight.redflags import queries as q
from marketplace.oversight.redflags.engine import Engine, Population, decode_line
from marketplace.oversight.redflags.indicators import r030
from marketplace.oversight.redflags.model import ProcessResult, Results
from marketplace.oversight.redflags.prepare import prepare_release
from marketplace.oversight.redflags.schemas import RedFlagPage, RedFlagRead
from marketplace.oversight.redflags.settings import INDICATORS, PrepareSettings
from marketplace.oversight.redflags.settings import Settings as CardinalSettings

OWN_CURRENCY = "PEN"
POPULATION_CODES = ("R025", "R038", "R048")
RATIO_CODES = ("R024", "R058")
# Cardinal's output groups and the read model's scopes.
SCOPES = {"OCID": "process", "Tenderer": "tenderer", "Buyer": "buyer", "ProcuringEntity": "procuring_entity"}
GROUPS = {v: k for k, v in SCOPES.items()}
R038_KINDS = {"r038_buyer": "Buyer", "r038_pe": "ProcuringEntity", "r038_tenderer": "Tenderer"}
_json = msgspec.json.Encoder()
NAN = float("nan")


@dataclass
class _Chosen:
    """A publisher's Cardinal settings in the read model (publishers_ini: REDFLAG_SETTINGS_DIR), with its main
    currency: the file's, else ours (PEN) for our own processes, else the first one met (redflag_publisher)."""
    choice: publishers_ini.Choice
    settings: CardinalSettings

    @property
    def prepare(self) -> PrepareSettings | None:
        p = self.choice.settings.prepare
        return None if p == NO_PREPARE else p


NO_PREPARE = PrepareSettings()


def _chosen(choice: publishers_ini.Choice, currency: str | None) -> _Chosen:
    s = choice.settings
    if s.currency is None and currency is not None:
        s = dataclasses.replace(s, currency=currency)
    return _Chosen(choice, s)


async def _choices(app_settings: Any, states: dict[int, q.PublisherState], ocids: dict[int, str],
                   own: int | None) -> dict[int, _Chosen]:
    """Each publisher's settings (by its slug, else the prefix of one of its ocids: `ocids` for a publisher
    met in this batch, else the one stored)."""
    registry = publishers_ini.registry(publishers_ini.folder_of(app_settings))
    slugs = await q.slugs(list(states))
    out = {}
    for pid, state in states.items():
        choice = registry.choose(slugs.get(pid), state.ocid_sample or ocids.get(pid))
        out[pid] = _chosen(choice, state.currency or (OWN_CURRENCY if pid == own else None))
    return out


def prepared(release: Any, prepare: PrepareSettings | None) -> Any:
    """The release as the indicators should see it: prepared as `marketplace redflags prepare` does, when its
    publisher's settings file has a preparation (Prozorro's, Armenia's: their bid statuses are not OCDS's)."""
    return release if prepare is None or not isinstance(release, dict) else prepare_release(release, prepare)


def _dumps(value: Any) -> str:
    return _json.encode(value).decode()


def _float(value: Any) -> float:
    return NAN if value is None else float(value)


@dataclass
class SyncReport:
    read: int = 0  # compiled releases read from the feed
    changed: int = 0  # processes evaluated again
    removed: int = 0  # processes that left the model (cancelled, excluded)
    flags: int = 0  # flag rows written


# ------------------------------------------------------------------------------------------ the sync job


class _Process:
    __slots__ = ("row", "release", "result", "notes", "extra", "date", "buyer_id", "buyer_ruc", "parties", "rucs",
                 "region")

    def __init__(self, row: import_q.CompiledFeedRow, release: Any, result: ProcessResult | None) -> None:
        self.row = row
        self.release = release
        self.result = result
        self.notes: list[dict[str, Any]] = []
        self.extra: list[tuple[str, float, dict[str, Any]]] = []  # our own flags: (code, value, evidence)
        self.date = clock.now()
        self.buyer_id: str | None = None
        self.buyer_ruc: str | None = None
        self.parties: dict[str, Any] = {}
        self.rucs: dict[str, str | None] = {}
        self.region: str | None = None  # our own processes only (q.regions): OCDS has no ubigeo
        if isinstance(release, dict):
            date = release.get("date")
            parsed = import_domain.parse_date(date) if isinstance(date, str) else None
            if parsed is not None:
                self.date = parsed
            for party in release.get("parties") or ():
                if isinstance(party, dict) and isinstance(party.get("id"), str):
                    self.parties[party["id"]] = party
            buyer = release.get("buyer")
            if isinstance(buyer, dict) and isinstance(buyer.get("id"), str):
                self.buyer_id = buyer["id"]
                self.buyer_ruc = self.ruc(buyer["id"])

    def ruc(self, party_id: str) -> str | None:
        """The party's RUC (from its identifiers in `parties`, else its id), read when a flag names it."""
        if party_id not in self.rucs:
            self.rucs[party_id] = import_domain.ruc_of(self.parties.get(party_id) or {"id": party_id})
        return self.rucs[party_id]

    def tender_id(self) -> UUID | None:
        tender = self.release.get("tender") if isinstance(self.release, dict) else None
        try:
            return UUID(str(tender.get("id"))) if isinstance(tender, dict) else None
        except ValueError:
            return None


async def sync(settings: Any, *, limit: int) -> SyncReport:
    """Bring the read model up to the compiled releases committed so far (at most `limit` of them)."""
    report = SyncReport()
    if not await q.try_lock():
        return report  # another worker is at it
    txid, seq = await q.cursor()
    rows = await import_q.compiled_feed(txid=str(txid), seq=seq, limit=limit)
    report.read = len(rows)
    if rows:
        await _apply(settings, rows, report)
        await q.set_cursor(int(rows[-1].txid), rows[-1].seq)
    await q.sync_stage_alarms()
    return report


async def sync_all(settings: Any, *, batch: int, seconds: float = 60, max_batches: int | None = None) -> int:
    """`sync()` batch after batch, each in its own unit of work, until the feed is read (or `seconds` pass, or
    `max_batches` were taken). Returns the processes evaluated."""
    started = time.monotonic()
    changed = 0
    batches = 0
    while True:
        async with unit_of_work():
            report = await sync(settings, limit=batch)
        changed += report.changed
        batches += 1
        if report.read < batch or time.monotonic() - started > seconds or batches == max_batches:
            return changed


async def _apply(settings: Any, rows: list[import_q.CompiledFeedRow], report: SyncReport) -> None:
    latest = {r.ocid: r for r in rows}  # a process changed twice in the batch: its newest state
    stored = await q.processes(list(latest))
    todo = [r for r in latest.values()
            if (s := stored.get(r.ocid)) is None or s.hash != r.hash or s.publisher_id != r.publisher_id]
    if not todo:
        return
    pids = sorted({r.publisher_id for r in todo} | {stored[r.ocid].publisher_id for r in todo if r.ocid in stored})
    states = await q.publisher_states(pids)
    own = await import_q.own_publisher_id()
    samples = {r.publisher_id: r.ocid for r in reversed(todo)}  # the first ocid met of each publisher
    chosen = await _choices(settings, states, samples, own)
    engines: dict[int, Engine] = {}
    procs: list[_Process] = []
    for r in todo:
        engine = engines.get(r.publisher_id)
        if engine is None:
            engine = engines[r.publisher_id] = Engine(chosen[r.publisher_id].settings)
        try:
            release = prepared(decode_line(r.data), chosen[r.publisher_id].prepare)
        except ValueError:
            release = None
        procs.append(_Process(r, release, engine.evaluate(release)))
    currencies = {pid: e.currency.value for pid, e in engines.items()
                  if e.currency.value is not None and states[pid].currency is None}
    await _own_knowledge(settings, [p for p in procs if p.row.publisher_id == own and p.result is not None])

    # The population tallies: each old contribution out, each new one in.
    deltas: dict[q.Tally, list[int]] = defaultdict(lambda: [0, 0])
    for p in procs:
        old = stored.get(p.row.ocid)
        if old is not None:
            _contribute(deltas, old.publisher_id, ProcessResult.from_dict(msgspec.json.decode(old.parts)), -1)
        if p.result is not None:
            _contribute(deltas, p.row.publisher_id, p.result, 1)

    metas = {pid: _meta(s.meta) for pid, s in states.items()}
    process_rows: list[q.ProcessRow] = []
    flags: list[q.FlagRow] = []
    for p in procs:
        if p.result is None:
            continue
        process_rows.append(_process_row(p))
        flags += _process_flags(p)
        flags += _ratio_flags(p.row.publisher_id, metas[p.row.publisher_id], p.row.ocid, p.result.second_lowest,
                              p.date, p.buyer_id, p.buyer_ruc, p.ruc, p.region)
    gone = [p.row.ocid for p in procs if p.result is None and p.row.ocid in stored]
    report.changed = len(procs) - len([p for p in procs if p.result is None])
    report.removed = len(gone)

    # Writes last (the watermark of every feed waits for this transaction from its first write).
    await q.delete_process_flags([p.row.ocid for p in procs])
    await q.delete_processes(gone)
    await q.upsert_processes(process_rows)
    await q.apply_tallies(deltas)
    entity_flags, entity_keys = await _judge_entities(metas, deltas, chosen)
    for pid, keys in entity_keys.items():
        await q.delete_entity_flags(pid, keys)
    flags += entity_flags
    await q.insert_flags(flags)
    report.flags = len(flags)
    await q.touch_publishers(pids, currencies, {pid: (c.choice.file, c.choice.digest) for pid, c in chosen.items()},
                             samples)


def _contribute(deltas: dict[q.Tally, list[int]], pid: int, result: ProcessResult, sign: int) -> None:
    """What Population._apply adds, as tally deltas."""
    def bump(kind: str, key: str, sub: str, a: int, b: int) -> None:
        d = deltas[(pid, kind, key, sub)]
        d[0] += a
        d[1] += b

    if result.r025 is not None:
        winner, tenderers = result.r025
        for tid in tenderers:
            bump("r025", tid, "", sign * (tid == winner), sign)
    part = result.r038
    if part is not None:
        if part.buyer_id is not None:
            bump("r038_buyer", part.buyer_id, "", sign * part.disqualified, sign * part.submitted)
        if part.procuring_entity_id is not None:
            bump("r038_pe", part.procuring_entity_id, "", sign * part.disqualified, sign * part.submitted)
        for tid, d, n in part.tenderers:
            bump("r038_tenderer", tid, "", sign * d, sign * n)
    if result.r048 is not None:
        for supplier, codes in result.r048:
            bump("r048", supplier, "", sign, sign)
            for code in codes:
                bump("r048_code", supplier, code, sign, sign)


def _meta(text: str) -> dict[str, dict[str, float]]:
    raw = msgspec.json.decode(text or "{}")
    return {code: {k: _float(v) for k, v in values.items()} for code, values in raw.items()}


def _process_row(p: _Process) -> q.ProcessRow:
    assert p.result is not None
    ratio = p.result.second_lowest
    return q.ProcessRow(
        ocid=p.row.ocid, publisher_id=p.row.publisher_id, hash=p.row.hash, date=p.date, buyer_id=p.buyer_id,
        buyer_ruc=p.buyer_ruc, ratio=ratio[0] if ratio else None, ratio_winner=ratio[1] if ratio else None,
        ratio_runner_up=ratio[2] if ratio else None, parts=_dumps(p.result.as_dict()), notes=_dumps(p.notes),
        region=p.region)


def _process_flags(p: _Process) -> list[q.FlagRow]:
    """The process's own flags (OCID group) and the tenderers they name (Tenderer group), and ours."""
    assert p.result is not None
    r = p.result
    pid = p.row.publisher_id
    ocid = p.row.ocid
    out: list[q.FlagRow] = []
    for code, value in r.flags.items():
        out.append(q.FlagRow(code=code, scope="process", subject=ocid, ocid=ocid, origin="process", publisher_id=pid,
                             buyer_id=p.buyer_id, buyer_ruc=p.buyer_ruc, supplier_id=None, supplier_ruc=None,
                             value=value, evidence=_dumps(r.evidence.get(code, {})), date=p.date, region=p.region))
    for tid, codes in r.tenderers.items():
        for code, value in codes.items():
            out.append(q.FlagRow(code=code, scope="tenderer", subject=tid, ocid=ocid, origin="process",
                                 publisher_id=pid, buyer_id=p.buyer_id, buyer_ruc=p.buyer_ruc, supplier_id=tid,
                                 supplier_ruc=p.ruc(tid), value=value,
                                 evidence=_dumps(r.evidence.get(code, {})), date=p.date, region=p.region))
    for code, value, evidence in p.extra:
        out.append(q.FlagRow(code=code, scope="process", subject=ocid, ocid=ocid, origin="process", publisher_id=pid,
                             buyer_id=p.buyer_id, buyer_ruc=p.buyer_ruc, supplier_id=None, supplier_ruc=None,
                             value=value, evidence=_dumps(evidence), date=p.date, region=p.region))
    return out


def _ratio_flags(pid: int, meta: dict[str, dict[str, float]], ocid: str, ratio: tuple[float, str, str] | None,
                 date: datetime, buyer_id: str | None, buyer_ruc: str | None, ruc: Any,
                 region: str | None = None) -> list[q.FlagRow]:
    """R024 and R058 of one process, judged as r024/r058.finalize judge it, against these fences."""
    if ratio is None:
        return []
    value, winner, other = ratio
    out: list[q.FlagRow] = []

    def add(code: str, evidence: dict[str, Any], tenderers: tuple[str, ...]) -> None:
        text = _dumps({"ratio": value, "winner": winner, "runner_up": other, **evidence})
        out.append(q.FlagRow(code=code, scope="process", subject=ocid, ocid=ocid, origin="ratio", publisher_id=pid,
                             buyer_id=buyer_id, buyer_ruc=buyer_ruc, supplier_id=None, supplier_ruc=None,
                             value=value, evidence=text, date=date, region=region))
        for tid in dict.fromkeys(tenderers):
            out.append(q.FlagRow(code=code, scope="tenderer", subject=tid, ocid=ocid, origin="ratio",
                                 publisher_id=pid, buyer_id=buyer_id, buyer_ruc=buyer_ruc, supplier_id=tid,
                                 supplier_ruc=ruc(tid), value=0.0, evidence=text, date=date, region=region))

    m024 = meta.get("R024")
    if m024 is not None:
        fence, q1 = m024.get("lower_fence", NAN), m024.get("q1", 1.0)
        if q1 > 0.0 and fence > 0.0 and value <= fence:
            add("R024", {"lower_fence": fence}, (winner, other))
    m058 = meta.get("R058")
    if m058 is not None:
        fence = m058.get("upper_fence", NAN)
        if fence > 0.0 and value >= fence:
            add("R058", {"upper_fence": fence}, (winner,))
    return out


async def _judge_entities(metas: dict[int, dict[str, dict[str, float]]], deltas: dict[q.Tally, list[int]],
                          chosen: dict[int, _Chosen]) -> tuple[list[q.FlagRow], dict[int, list[tuple[str, str, str]]]]:
    """The organisations whose tallies moved, judged against their publisher's last fences (as the indicators'
    finalize judges them). Returns the flags and, per publisher, the (code, scope, subject)s to replace."""
    touched: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for (pid, kind, key, _sub), d in deltas.items():
        if d[0] or d[1]:
            touched[pid][kind].add(key)
    flags: list[q.FlagRow] = []
    keys: dict[int, list[tuple[str, str, str]]] = {}
    now = clock.now()
    for pid, kinds in touched.items():
        meta = metas.get(pid) or {}
        if not meta:
            continue  # no population pass yet: the first one judges everybody
        s = chosen[pid].settings.indicators
        subjects = sorted(set().union(*kinds.values()))
        found = await q.tallies(pid, list(kinds) + (["r048_code"] if "r048" in kinds else []), subjects)
        by_kind: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
        variety: dict[str, int] = defaultdict(int)
        for t in found:
            if t["kind"] == "r048_code":
                variety[t["key"]] += 1
            else:
                by_kind[t["kind"]][t["key"]] = (t["a"], t["b"])
        replace: list[tuple[str, str, str]] = []
        for kind, members in kinds.items():
            if kind.split("_")[0].upper() not in s:
                continue  # an indicator this publisher's settings leave out (its counts are on their way out)
            if kind == "r025":
                m = meta.get("R025", {})
                top, fence = m.get("upper_fence", NAN), m.get("lower_fence", NAN)
                for key in members:
                    replace.append(("R025", "tenderer", key))
                    wins, n = by_kind["r025"].get(key, (0, 0))
                    if n and n >= top and wins / n <= fence:
                        flags.append(_entity_row(pid, "R025", "tenderer", key, wins / n, now, {
                            "wins": wins, "processes": n, "upper_fence": top, "lower_fence": fence}))
            elif kind in R038_KINDS:
                group = R038_KINDS[kind]
                scope = SCOPES[group]
                m = meta.get("R038", {})
                fence = m.get(f"{group}_upper_fence", NAN)
                minimum = (s["R038"].minimum_submitted_bids if group == "Tenderer"
                           else s["R038"].minimum_contracting_processes)
                for key in members:
                    replace.append(("R038", scope, key))
                    dq, n = by_kind[kind].get(key, (0, 0))
                    if n and n >= minimum and fence > 0.0 and dq / n >= fence:
                        flags.append(_entity_row(pid, "R038", scope, key, dq / n, now, {
                            "disqualified": dq, "submitted": n, "upper_fence": fence}))
            elif kind == "r048":
                fence = meta.get("R048", {}).get("upper_fence", NAN)
                for key in members:
                    replace.append(("R048", "tenderer", key))
                    processes = by_kind["r048"].get(key, (0, 0))[0]
                    v = float(variety.get(key, 0))
                    if processes >= s["R048"].minimum_contracting_processes and v >= fence:
                        flags.append(_entity_row(pid, "R048", "tenderer", key, v, now, {
                            "variety": v, "processes": processes, "upper_fence": fence}))
        keys[pid] = replace
    return flags, keys


def _entity_row(pid: int, code: str, scope: str, key: str, value: float, date: datetime,
                evidence: dict[str, Any]) -> q.FlagRow:
    ruc = import_domain.ruc_of({"id": key})
    return q.FlagRow(code=code, scope=scope, subject=key, ocid=None, origin="population", publisher_id=pid,
                     buyer_id=key if scope == "buyer" else None, buyer_ruc=ruc if scope == "buyer" else None,
                     supplier_id=key if scope == "tenderer" else None,
                     supplier_ruc=ruc if scope == "tenderer" else None, value=value, evidence=_dumps(evidence),
                     date=date)


# ------------------------------------------------------------------- what our own data knows better


async def _own_knowledge(settings: Any, procs: list[_Process]) -> None:
    by_tender = {t: p for p in procs if (t := p.tender_id()) is not None}
    if not by_tender:
        return
    ids = list(by_tender)
    for tid, region in (await q.regions(ids)).items():
        by_tender[tid].region = region
    redated: dict[UUID, dict[str, dict[str, Any]]] = defaultdict(dict)
    if any(p.result is not None and "R030" in p.result.flags for p in procs):
        for b in await q.auction_bids(ids):
            redated[b["tender_id"]][bid_detail_id(b["bid_id"], b["number"])] = b
    for tid, p in by_tender.items():
        if p.result is not None and "R030" in p.result.flags and redated.get(tid):
            _unless_auction_redated(p, redated[tid])
    limit = Decimal(settings.redflags.amendment_max_pct)
    for c in await q.amended_contracts(ids):
        pct = Decimal(c["cumulative_change_pct"])
        if pct > limit:
            currency = c["currency"].strip()
            by_tender[c["tender_id"]].extra.append(("MA-AMEND", float(pct), {
                "contract_id": str(c["id"]), "original_value": {"amount": c["original_value_cents"],
                                                                "currency": currency},
                "value": {"amount": c["value_cents"], "currency": currency},
                "cumulative_change_pct": float(pct), "amendment_max_pct": float(limit)}))


def _unless_auction_redated(p: _Process, auctioned: dict[str, dict[str, Any]]) -> None:
    """R030 again with each auction-dated bid at its sealed bid's receipt time; when that clears the process,
    R030 is dropped and the notes say which bids a live auction re-dated."""
    assert p.result is not None
    release = p.release
    bids = release.get("bids")
    details = bids.get("details") if isinstance(bids, dict) else None
    if not isinstance(details, list):
        return
    changed: list[dict[str, Any]] = []
    redone = []
    for d in details:
        info = auctioned.get(str(d.get("id"))) if isinstance(d, dict) else None
        if (info is not None and info["price_at"] != info["initial_received_at"]
                and d.get("date") == ts(info["price_at"])):
            sealed = ts(info["initial_received_at"])
            redone.append({**d, "date": sealed})
            changed.append({"bid": d.get("id"), "date": d.get("date"), "sealed_bid_received_at": sealed,
                            "auction_id": str(info["auction_id"]), "auction_started_at": ts(info["started_at"]),
                            "auction_closed_at": ts(info["closed_at"])})
        else:
            redone.append(d)
    if not changed:
        return
    check = ProcessResult(p.row.ocid)
    r030.evaluate({**release, "bids": {**bids, "details": redone}}, check)
    if "R030" in check.flags:
        return  # late even by its sealed bid: a late bid indeed
    r = p.result
    evidence = r.evidence.pop("R030", {})
    del r.flags["R030"]
    for tid in list(r.tenderers):
        r.tenderers[tid].pop("R030", None)
        if not r.tenderers[tid]:
            del r.tenderers[tid]
    p.notes.append({"code": "R030", "raised": False, "reason": "bids_redated_by_live_auction",
                    "end_date": evidence.get("end_date"), "bids": changed})


# ------------------------------------------------------------------- a publisher's settings changed


@dataclass
class SettingsReport:
    started: list[int]  # publishers whose settings changed: their model emptied, to be computed again
    evaluated: int = 0  # processes evaluated again
    finished: list[int] = dataclasses.field(default_factory=list)  # recomputed in full (fences now due)


async def apply_settings(settings: Any, *, batch: int, seconds: float = 60) -> SettingsReport:
    """Recompute the publishers whose settings changed (REDFLAG_SETTINGS_DIR: a file edited, another file
    chosen): each one's flags, tallies and fences are dropped and its compiled releases evaluated again under
    the new settings, `batch` at a time, each batch in its own unit of work (so a national publisher does not
    hold one transaction for the whole pass), until done or `seconds` pass; the next run goes on from
    `rebuild_after`. Meanwhile the sync job goes on with the same settings, and a process it evaluated is
    skipped here (same hash). Then the population pass computes the fences (the publisher is due at once)."""
    started = time.monotonic()
    report = SettingsReport(started=[])
    while True:
        async with unit_of_work():
            if not await q.try_lock():
                return report
            pid = await _next_rebuild(settings, report)
            if pid is None:
                return report
            done = await _rebuild_batch(settings, pid, batch, report)
        if done:
            report.finished.append(pid)
        if time.monotonic() - started >= seconds:  # at least one batch per run
            return report


async def _next_rebuild(settings: Any, report: SettingsReport) -> int | None:
    """The publisher to recompute next: one under way, else one whose settings' digest changed (emptied
    now). A digest changed again during a recomputation starts it over."""
    states = await q.publisher_states(await q.publisher_ids())
    chosen = await _choices(settings, states, {}, await import_q.own_publisher_id())
    pending = None
    for pid, state in states.items():
        digest = chosen[pid].choice.digest
        # A publisher computed before the settings were kept was computed with Cardinal's defaults.
        if (state.settings_hash or publishers_ini.DEFAULTS.digest) != digest:
            await q.reset_publisher(pid, chosen[pid].choice.file, digest)
            report.started.append(pid)
            return pid
        elif state.rebuild_after is not None and pending is None:
            pending = pid
    return pending


async def _rebuild_batch(settings: Any, pid: int, batch: int, report: SettingsReport) -> bool:
    after = (await q.publisher_states([pid]))[pid].rebuild_after or ""
    rows = await q.compiled_of(pid, after=after, limit=batch)
    if rows:
        sync_report = SyncReport(read=len(rows))
        await _apply(settings, rows, sync_report)
        report.evaluated += sync_report.changed
    done = len(rows) < batch
    await q.set_rebuild_after(pid, None if done else rows[-1].ocid)
    return done


# ---------------------------------------------------------------------------------- the population pass


async def refresh_population(settings: Any, *, force: bool = False) -> list[int]:
    """Recompute the fences and the population flags of each publisher that changed and whose fences are
    older than REDFLAG_FENCES_MINUTES (every publisher with `force`). Returns the publishers done."""
    if not await q.try_lock():
        return []
    now = clock.now()
    cutoff = now if force else now - timedelta(minutes=settings.redflags.fences_minutes)
    done = []
    for pid in await q.due_publishers(cutoff, force=force):
        await _population(settings, pid, now)
        done.append(pid)
    return done


async def _population(settings: Any, pid: int, now: datetime) -> None:
    states = await q.publisher_states([pid])
    chosen = (await _choices(settings, states, {}, await import_q.own_publisher_id()))[pid]
    population = Population(chosen.settings)
    tally: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    for t in await q.tallies(pid, ["r025", "r038_buyer", "r038_pe", "r038_tenderer", "r048", "r048_code"]):
        if t["kind"] == "r048_code":
            entry = population.r048.setdefault(t["key"], [0, {}])
            entry[1][t["sub"]] = t["a"]
        elif t["kind"] == "r048":
            population.r048.setdefault(t["key"], [0, {}])[0] = t["a"]
        else:
            tally[t["kind"]][t["key"]] = (t["a"], t["b"])
    population.r025 = tally["r025"]
    population.r038_buyer = tally["r038_buyer"]
    population.r038_procuring_entity = tally["r038_pe"]
    population.r038_tenderer = tally["r038_tenderer"]
    processes = {r["ocid"]: r for r in await q.ratios(pid)}
    population.ratios = {o: (r["ratio"], r["ratio_winner"], r["ratio_runner_up"]) for o, r in processes.items()}
    results = population.finalize(Results())
    meta = {code: dict(values) for code, values in results.meta_values.items()}

    flags: list[q.FlagRow] = []
    for ocid, r in processes.items():
        flags += _ratio_flags(pid, meta, ocid, population.ratios[ocid], r["date"], r["buyer_id"], r["buyer_ruc"],
                              lambda tid: import_domain.ruc_of({"id": tid}), r["region"])
    for group, members in results.groups.items():
        if group == "OCID":
            continue
        scope = SCOPES[group]
        for key, codes in members.items():
            for code, value in codes.items():
                if code not in POPULATION_CODES:
                    continue  # R024/R058's tenderers come with their process, above
                flags.append(_entity_row(pid, code, scope, key, value, now,
                                         _population_evidence(code, group, key, population, meta)))
    await q.delete_population_flags(pid)
    await q.insert_flags(flags)
    await q.set_fences(pid, _dumps({c: {k: (None if math.isnan(v) else v) for k, v in m.items()}
                                    for c, m in meta.items()}), now)


def _population_evidence(code: str, group: str, key: str, population: Population,
                         meta: dict[str, dict[str, float]]) -> dict[str, Any]:
    m = meta.get(code, {})
    if code == "R025":
        wins, n = population.r025[key]
        return {"wins": wins, "processes": n, "upper_fence": m.get("upper_fence"), "lower_fence": m.get("lower_fence")}
    if code == "R038":
        table = {"Buyer": population.r038_buyer, "ProcuringEntity": population.r038_procuring_entity,
                 "Tenderer": population.r038_tenderer}[group]
        d, n = table[key]
        return {"disqualified": d, "submitted": n, "upper_fence": m.get(f"{group}_upper_fence")}
    processes, counter = population.r048[key]
    return {"variety": float(sum(1 for v in counter.values() if v > 0)), "processes": processes,
            "upper_fence": m.get("upper_fence")}


# ------------------------------------------------------------------------------------ Cardinal's shape


async def as_results(publisher_id: int) -> dict[str, Any]:
    """The read model's flags of one publisher in Cardinal's output shape (without Meta): what
    `marketplace redflags run` prints for the same compiled releases."""
    out = Results()
    for f in await q.all_flags(publisher_id):
        if f["code"].startswith("MA-"):
            continue
        out.set(GROUPS[f["scope"]], f["subject"], f["code"], f["value"])
    return out.as_dict(meta=False)


# ------------------------------------------------------------------------------------------ the public page

CODES = frozenset(INDICATORS) | {"MA-AMEND", "MA-STAGE"}
MAX_LIMIT = q.MAX_LIMIT


def encode_cursor(date: datetime, flag_id: int) -> str:
    return base64.urlsafe_b64encode(f"{date.isoformat()}|{flag_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, flag_id = text.partition("|")
        parsed = datetime.fromisoformat(when)
        if parsed.tzinfo is None or not flag_id.isascii() or not flag_id.isdigit() or len(flag_id) > 18:
            raise ValueError(cursor)
        return parsed, int(flag_id)
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise InvalidInput(N_("This cursor is not one we gave out"), field="query.cursor", rule="cursor") from exc


def _party_filter(value: str | None, id_column: str, ruc_column: str) -> dict[str, str]:
    """A party given by its OCDS id, or by an 11-digit RUC (matched on the RUC read from its identifiers)."""
    if value is None:
        return {}
    return {ruc_column: value} if len(value) == 11 and value.isdigit() else {id_column: value}


async def page(*, code: str | None = None, buyer: str | None = None, supplier: str | None = None,
               publisher: str | None = None, ocid: str | None = None, date_from: datetime | None = None,
               date_to: datetime | None = None, region: str | None = None, cursor: str | None = None,
               limit: int = 50) -> RedFlagPage:
    """One page of flags, newest first (keyset on (date, id); each filter has its index). `region` (an
    ubigeo's first 2 digits) matches our own processes only: imported ones carry no ubigeo."""
    if code is not None and code not in CODES:
        raise InvalidInput(N_("Unknown red flag"), field="query.code", rule="enum")
    if region is not None and not (len(region) == 2 and region.isascii() and region.isdigit()):
        raise InvalidInput(N_("A region is the first 2 digits of an ubigeo"), field="query.region", rule="pattern")
    after = decode_cursor(cursor) if cursor else None
    if any(v is not None and not v.isprintable() for v in (buyer, supplier, publisher, ocid)):
        return RedFlagPage(items=[], next_cursor=None)  # ids are printable text: this names nothing stored
    filters: dict[str, Any] = {"code": code, "ocid": ocid, "region": region,
                               **_party_filter(buyer, "buyer_id", "buyer_ruc"),
                               **_party_filter(supplier, "supplier_id", "supplier_ruc")}
    slugs = await q.publisher_slugs()
    if publisher is not None:
        ids = [i for i, slug in slugs.items() if slug == publisher]
        if not ids:
            return RedFlagPage(items=[], next_cursor=None)
        filters["publisher_id"] = ids[0]
    rows = await q.page(filters=filters, date_from=date_from, date_to=date_to, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [RedFlagRead(id=r.id, code=r.code, scope=r.scope, subject=r.subject, ocid=r.ocid,
                         publisher=slugs.get(r.publisher_id, str(r.publisher_id)), buyer_id=r.buyer_id,
                         buyer_ruc=r.buyer_ruc, supplier_id=r.supplier_id, supplier_ruc=r.supplier_ruc, value=r.value,
                         evidence=msgspec.json.decode(r.evidence), date=r.date, computed_at=r.computed_at,
                         region=r.region)
             for r in rows]
    return RedFlagPage(items=items, next_cursor=encode_cursor(rows[-1].date, rows[-1].id) if more else None)

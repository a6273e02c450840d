"""The red-flag engine: Cardinal's indicators over OCDS compiled releases, with Cardinal's results.

Two passes, so that a read model can update one process at once and the population indicators on a timer:

- `Engine.evaluate(release)` is the per-process pass: what one compiled release shows (R003, R018, R028,
  R030, R035, R036, R044, with their tenderers) and the few numbers it gives the population pass, in a
  ProcessResult. It keeps nothing of the release.
- `Population` adds (and removes) ProcessResults: counts per tenderer, buyer, procuring entity and
  supplier, and the winner-to-runner-up ratio per process. `finalize()` computes the quartile fences and
  flags R024, R025, R038, R048 and R058.

Cardinal's global rules hold for every indicator: a line that is not a JSON object with a string `ocid` is
skipped, as are cancelled processes (tender.status) and the procurementMethodDetails in `[exclusions]`;
amounts are compared only in the main currency; an organisation without an id is not counted.

`run(lines, settings)` streams JSON Lines through both passes; memory grows with the population's counts
and the flags, not with the releases.
"""

from __future__ import annotations

import gc
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from marketplace.oversight.redflags.indicators import (
    r003,
    r018,
    r024,
    r025,
    r028,
    r030,
    r035,
    r036,
    r038,
    r044,
    r048,
    r058,
    second_lowest,
)
from marketplace.oversight.redflags.indicators.common import is_cancelled, matches_procurement_method_details
from marketplace.oversight.redflags.model import MainCurrency, ProcessResult, Results
from marketplace.oversight.redflags.settings import Settings

_NONE: frozenset[str] = frozenset()


class Engine:
    """The per-process pass under one Settings (and its main currency, once observed)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.currency = MainCurrency(settings.currency)
        ind = settings.indicators
        self._r003 = ind.get("R003")
        self._r018 = ind.get("R018")
        self._r035 = ind.get("R035")
        self._r048 = ind.get("R048")
        self._second_lowest = "R024" in ind or "R058" in ind
        self._r025 = "R025" in ind
        self._r028 = "R028" in ind
        self._r030 = "R030" in ind
        self._r036 = "R036" in ind
        self._r038 = "R038" in ind
        self._r044 = "R044" in ind
        self._price_check = self._second_lowest or self._r028 or self._r036

    def evaluate(self, release: Any) -> ProcessResult | None:
        """What this compiled release contributes, or None when Cardinal's global rules leave it out."""
        if not isinstance(release, dict):
            return None
        ocid = release.get("ocid")
        if not isinstance(ocid, str) or is_cancelled(release):
            return None
        s = self.settings
        if not matches_procurement_method_details(release, _NONE, s.excluded_procurement_method_details):
            return None
        result = ProcessResult(ocid)
        compared = self._price_check and matches_procurement_method_details(
            release, s.price_comparison_procurement_methods, s.no_price_comparison_procurement_methods)
        # Cardinal's order: the runner-up ratio meets the main currency before R036 does.
        if self._second_lowest and compared:
            second_lowest.contribute(release, result, self.currency)
        if self._r003 is not None:
            r003.evaluate(release, result, self._r003)
        if self._r018 is not None:
            r018.evaluate(release, result, self._r018)
        if self._r025:
            r025.contribute(release, result)
        if self._r028 and compared:
            r028.evaluate(release, result)
        if self._r030:
            r030.evaluate(release, result)
        if self._r035 is not None:
            r035.evaluate(release, result, self._r035)
        if self._r036 and compared:
            r036.evaluate(release, result, self.currency)
        if self._r038:
            r038.contribute(release, result)
        if self._r044:
            r044.evaluate(release, result)
        if self._r048 is not None:
            r048.contribute(release, result, self._r048)
        return result


class Population:
    """The population pass: what the fences are computed from, updated one process at a time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ratios: dict[str, tuple[float, str, str]] = {}  # ocid -> (ratio, winner, runner-up)
        self.r025: dict[str, tuple[int, int]] = {}  # tenderer -> (processes won, processes with a valid bid)
        self.r038_buyer: dict[str, tuple[int, int]] = {}  # id -> (disqualified bids, submitted bids)
        self.r038_procuring_entity: dict[str, tuple[int, int]] = {}
        self.r038_tenderer: dict[str, tuple[int, int]] = {}
        self.r048: dict[str, list[Any]] = {}  # supplier -> [processes, Counter(code prefix -> processes)]

    def add(self, result: ProcessResult) -> None:
        self._apply(result, 1)

    def remove(self, result: ProcessResult) -> None:
        """Take back what `add(result)` added (a process that changed is removed, then added anew)."""
        self._apply(result, -1)

    def _apply(self, result: ProcessResult, sign: int) -> None:
        if result.second_lowest is not None:
            if sign > 0:
                self.ratios[result.ocid] = result.second_lowest
            else:
                self.ratios.pop(result.ocid, None)
        if result.r025 is not None:
            winner, tenderers = result.r025
            for tid in tenderers:
                _bump(self.r025, tid, sign * (tid == winner), sign)
        part = result.r038
        if part is not None:
            if part.buyer_id is not None:
                _bump(self.r038_buyer, part.buyer_id, sign * part.disqualified, sign * part.submitted)
            if part.procuring_entity_id is not None:
                _bump(self.r038_procuring_entity, part.procuring_entity_id, sign * part.disqualified,
                      sign * part.submitted)
            for tid, d, n in part.tenderers:
                _bump(self.r038_tenderer, tid, sign * d, sign * n)
        if result.r048 is not None:
            for supplier, codes in result.r048:
                entry = self.r048.get(supplier)
                if entry is None:
                    entry = self.r048[supplier] = [0, Counter()]
                entry[0] += sign
                counter: Counter[str] = entry[1]
                for code in codes:
                    counter[code] += sign
                    if counter[code] <= 0:
                        del counter[code]
                if entry[0] <= 0:
                    del self.r048[supplier]

    def finalize(self, out: Results) -> Results:
        ind = self.settings.indicators
        if "R024" in ind:
            r024.finalize(self.ratios, ind["R024"], out)
        if "R025" in ind:
            r025.finalize(self.r025, ind["R025"], out)
        if "R038" in ind:
            s = ind["R038"]
            r038.finalize("Buyer", self.r038_buyer, s.minimum_contracting_processes, s, out)
            r038.finalize("ProcuringEntity", self.r038_procuring_entity, s.minimum_contracting_processes, s, out)
            r038.finalize("Tenderer", self.r038_tenderer, s.minimum_submitted_bids, s, out)
        if "R048" in ind:
            r048.finalize(self.r048, ind["R048"], out)
        if "R058" in ind:
            r058.finalize(self.ratios, ind["R058"], out)
        return out


def _bump(table: dict[str, tuple[int, int]], key: str, numerator: int, denominator: int) -> None:
    """Add to a fraction's terms (kept as tuples: the garbage collector stops tracking tuples of ints)."""
    entry = table.get(key)
    if entry is None:
        table[key] = (numerator, denominator)
    elif entry[1] + denominator <= 0:
        del table[key]
    else:
        table[key] = (entry[0] + numerator, entry[1] + denominator)


# ---------------------------------------------------------------------------------------------- runs


@dataclass
class RunStats:
    lines: int = 0
    processes: int = 0  # lines that an indicator looked at
    invalid: list[int] = field(default_factory=list)  # line numbers that are not JSON (first 100)
    invalid_count: int = 0
    skipped: int = 0  # JSON that is not an object with a string ocid, cancelled, or excluded


_decoder = msgspec.json.Decoder()


def decode_line(line: bytes | str) -> Any:
    """One JSON Lines line (msgspec: several times faster than json), or raise ValueError."""
    try:
        return _decoder.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from exc


def is_blank(line: bytes | str) -> bool:
    return not line.strip()


def run(lines: Iterable[bytes | str], settings: Settings) -> tuple[Results, RunStats]:
    """Both passes over JSON Lines (one compiled release per line), as `ocdscardinal indicators` does.

    The cyclic garbage collector is paused meanwhile: decoded releases and the engine's tables hold no
    reference cycles (reference counting frees each release), and its full collections, walking the growing
    tables again and again, took a third of the time at 100k releases."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _run(lines, settings)
    finally:
        if paused:
            gc.enable()


def _run(lines: Iterable[bytes | str], settings: Settings) -> tuple[Results, RunStats]:
    engine = Engine(settings)
    population = Population(settings)
    results = Results()
    stats = RunStats()
    for number, line in enumerate(lines, start=1):
        stats.lines = number
        try:
            release = decode_line(line)
        except ValueError:
            if not is_blank(line):
                stats.invalid_count += 1
                if len(stats.invalid) < 100:
                    stats.invalid.append(number)
            continue
        result = engine.evaluate(release)
        if result is None:
            stats.skipped += 1
            continue
        stats.processes += 1
        results.add_process(result)
        population.add(result)
    population.finalize(results)
    return results, stats


# ------------------------------------------------------------------------------------------- output


def format_number(x: float) -> str:
    """A float as serde_json (ryu) writes it: 1.0, 0.2, 1e16, 1.5e-7; NaN and infinities as null."""
    if math.isnan(x) or math.isinf(x):
        return "null"
    text = repr(float(x))
    if "e" not in text:
        return text
    mantissa, _, exponent = text.partition("e")
    exp = int(exponent)
    digits = mantissa.replace(".", "").replace("-", "")
    point = exp + 1  # position of the decimal point after the first digit
    sign = "-" if mantissa.startswith("-") else ""
    if -5 < point <= 0:  # ryu writes 0.00001234 where Python writes 1.234e-05
        return f"{sign}0.{'0' * -point}{digits}"
    return f"{mantissa}e{exp}"


def _dump(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{msgspec.json.encode(k).decode()}:{_dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return format_number(value)
    return msgspec.json.encode(value).decode()


def to_json(results: Results, *, meta: bool = True) -> str:
    """Cardinal's output text: compact JSON, numbers written as serde_json writes them."""
    return _dump(results.as_dict(meta=meta))

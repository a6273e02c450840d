"""What one compiled release contributes to the red flags (the per-process pass keeps nothing else).

A ProcessResult holds the process's own flags (OCID group, and the tenderers those flags name) and the few
numbers the population indicators need from it: the winner-to-runner-up ratio (R024, R058), who bid validly
and who won (R025), disqualified and submitted bid counts (R038), the classification codes awarded to each
supplier (R048). A read model can store it per ocid and rebuild the population pass from the stored parts,
without reading a release again; `as_dict()`/`from_dict()` give it a JSON shape for that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marketplace.oversight.redflags.stats import round4


@dataclass(slots=True)
class R038Part:
    buyer_id: str | None
    procuring_entity_id: str | None
    disqualified: int
    submitted: int
    # per tenderer: (id, disqualified bids, submitted bids) in this process
    tenderers: tuple[tuple[str, int, int], ...]


@dataclass(slots=True)
class ProcessResult:
    ocid: str
    flags: dict[str, float] = field(default_factory=dict)  # code -> value, for the OCID group
    tenderers: dict[str, dict[str, float]] = field(default_factory=dict)  # tenderer id -> code -> value
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)  # code -> what the flag rests on
    second_lowest: tuple[float, str, str] | None = None  # (ratio, winner id, lowest other valid bidder id)
    r025: tuple[str, tuple[str, ...]] | None = None  # (winner id, ids of the valid single tenderers)
    r038: R038Part | None = None
    r048: tuple[tuple[str, tuple[str, ...]], ...] | None = None  # (supplier id, classification prefixes)

    def flag(self, code: str, value: float, **evidence: Any) -> None:
        self.flags[code] = value
        if evidence:
            self.evidence[code] = evidence

    def flag_tenderer(self, tenderer_id: str, code: str, value: float) -> None:
        self.tenderers.setdefault(tenderer_id, {})[code] = value

    def as_dict(self) -> dict[str, Any]:
        return {
            "ocid": self.ocid, "flags": self.flags, "tenderers": self.tenderers, "evidence": self.evidence,
            "second_lowest": list(self.second_lowest) if self.second_lowest else None,
            "r025": [self.r025[0], list(self.r025[1])] if self.r025 else None,
            "r038": None if self.r038 is None else {
                "buyer_id": self.r038.buyer_id, "procuring_entity_id": self.r038.procuring_entity_id,
                "disqualified": self.r038.disqualified, "submitted": self.r038.submitted,
                "tenderers": [list(t) for t in self.r038.tenderers]},
            "r048": None if self.r048 is None else [[s, list(codes)] for s, codes in self.r048],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProcessResult:
        r038 = d.get("r038")
        return cls(
            ocid=d["ocid"], flags=dict(d.get("flags") or {}),
            tenderers={k: dict(v) for k, v in (d.get("tenderers") or {}).items()},
            evidence=dict(d.get("evidence") or {}),
            second_lowest=tuple(d["second_lowest"]) if d.get("second_lowest") else None,
            r025=(d["r025"][0], tuple(d["r025"][1])) if d.get("r025") else None,
            r038=None if r038 is None else R038Part(
                r038["buyer_id"], r038["procuring_entity_id"], r038["disqualified"], r038["submitted"],
                tuple((t[0], t[1], t[2]) for t in r038["tenderers"])),
            r048=None if d.get("r048") is None else tuple((s, tuple(c)) for s, c in d["r048"]),
        )


class MainCurrency:
    """Cardinal's main currency: the configured one, else the first currency an amount-comparing indicator
    (R024/R058's runner-up ratio, R036) meets. Amounts in any other currency are skipped. "First" depends on
    the order of the input, so a read model that updates processes one by one sets `currency`."""

    __slots__ = ("value",)

    def __init__(self, configured: str | None) -> None:
        self.value = configured

    def accepts(self, currency: str) -> bool:
        if self.value is None:
            self.value = currency
        return currency == self.value


GROUPS: tuple[str, ...] = ("OCID", "Buyer", "ProcuringEntity", "Tenderer")


class Results:
    """Cardinal's output: group -> identifier -> indicator code -> value, and the fences used (Meta)."""

    __slots__ = ("groups", "meta_values")

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, dict[str, float]]] = {g: {} for g in GROUPS}
        self.meta_values: dict[str, dict[str, float]] = {}

    def set(self, group: str, key: str, code: str, value: float) -> None:
        entry = self.groups[group].get(key)
        if entry is None:
            self.groups[group][key] = {code: value}
        else:
            entry[code] = value

    def meta(self, code: str, **values: float) -> None:
        self.meta_values.setdefault(code, {}).update(values)

    def add_process(self, result: ProcessResult) -> None:
        for code, value in result.flags.items():
            self.set("OCID", result.ocid, code, value)
        for tenderer, flags in result.tenderers.items():
            for code, value in flags.items():
                self.set("Tenderer", tenderer, code, value)

    def as_dict(self, *, meta: bool = True) -> dict[str, Any]:
        """Cardinal's shape: only the groups that have results, then Meta (values rounded to 4 decimals)."""
        out: dict[str, Any] = {g: v for g, v in self.groups.items() if v}
        if meta and self.meta_values:
            out["Meta"] = {code: {k: round4(v) for k, v in values.items()} for code, values in self.meta_values.items()}
        return out

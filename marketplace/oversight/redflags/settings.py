"""Cardinal's settings file: the same INI sections, names and defaults, read into frozen objects.

One file configures both steps, as in Cardinal (`ocdscardinal init` writes one):

    currency = USD                                   ; the main currency (else the first one observed)
    no_price_comparison_procurement_methods = A|B    ; procurementMethodDetails without price competition
    price_comparison_procurement_methods = C         ; or: only these have it (wins over the line above)

    [defaults] [redactions] [corrections] [modifications] [codelists.bid_status] [codelists.award_status]
                                                     ; the `prepare` step (marketplace.oversight.redflags.prepare)
    [exclusions]
    procurement_method_details = Random Selection    ; processes every indicator skips
    [R003] ... [R058]                                ; a section enables its indicator; its keys tune it
    [R003.procurement_method_details]
    emergency = 10                                   ; R003's threshold per procurementMethodDetails

Values separated by `|` are sets. An unknown section or key is refused (Cardinal refuses them too), naming
it, so that a typo never silently runs the defaults. Two keys are ours, beside Cardinal's in its sections
(Cardinal would refuse them): `[corrections] bid_status_by_award_status` and
`[modifications] tenderer_id_from_identifier` (see prepare.py).
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

ROOT = "__root__"  # the keys before the first section header

# Cardinal's indicators that this engine computes, in Cardinal's order.
INDICATORS: tuple[str, ...] = ("R003", "R018", "R024", "R025", "R028", "R030", "R035", "R036", "R038", "R044",
                               "R048", "R058")

# Our own flags that Cardinal lacks (contract value raised by amendments, stage alarms) take codes with this
# prefix (MA-AMEND, MA-STAGE, ...), so that they can never collide with Cardinal's R### codes.
OUR_CODE_PREFIX = "MA-"


class SettingsError(ValueError):
    """A settings file that cannot be used; the message names the section and key at fault."""


def pipe_set(value: str) -> frozenset[str]:
    """Rust's `split_terminator('|')`: "a|b|" is {a, b}, "" is empty, "a||b" keeps the empty middle value."""
    parts = value.split("|")
    if parts and parts[-1] == "":
        parts.pop()
    return frozenset(parts)


@dataclass(frozen=True)
class R003Settings:
    threshold: int = 15
    procurement_methods: frozenset[str] = frozenset()  # empty: every method
    procurement_method_details: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class R018Settings:
    procurement_methods: frozenset[str] = frozenset({"open", "selective"})


@dataclass(frozen=True)
class ThresholdSettings:
    """R024 (lower fence) and R058 (upper fence): a fixed ratio instead of the quartile fence."""
    threshold: float | None = None


@dataclass(frozen=True)
class R025Settings:
    percentile: int = 75
    threshold: float | None = None


@dataclass(frozen=True)
class R035Settings:
    threshold: int = 1


@dataclass(frozen=True)
class R038Settings:
    threshold: float | None = None
    minimum_submitted_bids: int = 2
    minimum_contracting_processes: int = 2


@dataclass(frozen=True)
class R048Settings:
    digits: int = 2
    threshold: int | None = None
    minimum_contracting_processes: int = 20


@dataclass(frozen=True)
class NoSettings:
    pass


@dataclass(frozen=True)
class PrepareSettings:
    # [defaults]
    default_currency: str | None = None
    default_item_classification_scheme: str | None = None
    default_bid_status: str | None = None
    default_award_status: str | None = None
    default_party_roles: bool = False
    # [redactions]
    redact_amounts: tuple[float, ...] = ()
    redact_organization_ids: frozenset[str] = frozenset()
    # [corrections]
    award_status_by_contract_status: bool = False
    bid_status_by_award_status: bool = False  # ours
    # [modifications]
    move_auctions: bool = False
    prefix_buyer_or_procuring_entity_id: str = ""
    prefix_tenderer_or_supplier_id: str = ""
    split_procurement_method_details: str | None = None
    tenderer_id_from_identifier: bool = False  # ours
    # [codelists.*]
    bid_status_codes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    award_status_codes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Settings:
    currency: str | None = None
    no_price_comparison_procurement_methods: frozenset[str] = frozenset()
    price_comparison_procurement_methods: frozenset[str] = frozenset()
    excluded_procurement_method_details: frozenset[str] = frozenset()
    # enabled indicator code -> its settings object
    indicators: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    prepare: PrepareSettings = field(default_factory=PrepareSettings)

    def enabled(self, code: str) -> bool:
        return code in self.indicators

    @classmethod
    def all_indicators(cls, **kwargs: Any) -> Settings:
        """Every indicator with its defaults (what `[R003]` ... `[R058]` with no keys gives)."""
        return parse("\n".join(f"[{code}]" for code in INDICATORS), **kwargs)


# ------------------------------------------------------------------------------------------- parsing


def load(path: str | Path) -> Settings:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read the settings file {path}: {exc.strerror or exc}") from exc
    return parse(text)


def parse(text: str, **root: str) -> Settings:
    """Settings from INI text. `root` adds top-level keys (as if written before the first section)."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"),
                                       comment_prefixes=(";", "#"), default_section="__no_defaults__")
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case (codelists)
    try:
        parser.read_string(f"[{ROOT}]\n{text}")
    except configparser.Error as exc:
        raise SettingsError(f"settings file: {_one_line(exc)}") from exc
    for key, value in root.items():
        parser.set(ROOT, key, value)
    sections = {name: dict(parser.items(name)) for name in parser.sections()}
    return _build(sections)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class _Section:
    """One section's keys, taken one by one; whatever is left over is an unknown key."""

    def __init__(self, name: str, values: dict[str, str]) -> None:
        self.name = name
        self.values = dict(values)

    def _where(self, key: str) -> str:
        return key if self.name == ROOT else f"[{self.name}] {key}"

    def text(self, key: str) -> str | None:
        return self.values.pop(key, None)

    def integer(self, key: str, *, minimum: int | None = None) -> int | None:
        raw = self.values.pop(key, None)
        if raw is None:
            return None
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingsError(f"{self._where(key)} = {raw!r}: not an integer") from None
        if minimum is not None and value < minimum:
            raise SettingsError(f"{self._where(key)} = {raw!r}: must be {minimum} or more")
        return value

    def number(self, key: str) -> float | None:
        raw = self.values.pop(key, None)
        if raw is None:
            return None
        try:
            return float(raw.strip())
        except ValueError:
            raise SettingsError(f"{self._where(key)} = {raw!r}: not a number") from None

    def boolean(self, key: str) -> bool | None:
        raw = self.values.pop(key, None)
        if raw is None:
            return None
        word = raw.strip().lower()
        if word in ("true", "1", "yes", "on"):
            return True
        if word in ("false", "0", "no", "off"):
            return False
        raise SettingsError(f"{self._where(key)} = {raw!r}: not true or false")

    def done(self) -> None:
        if self.values:
            key = next(iter(self.values))
            raise SettingsError(f"{self._where(key)}: unknown setting")


def _build(sections: dict[str, dict[str, str]]) -> Settings:
    known = {ROOT, "defaults", "redactions", "corrections", "modifications", "codelists.bid_status",
             "codelists.award_status", "exclusions", "R003.procurement_method_details", *INDICATORS}
    for name in sections:
        if name not in known:
            raise SettingsError(f"[{name}]: unknown section (known: exclusions, defaults, redactions, corrections, "
                                f"modifications, codelists.bid_status, codelists.award_status, "
                                f"{', '.join(INDICATORS)})")

    def section(name: str) -> _Section:
        return _Section(name, sections.get(name, {}))

    root = section(ROOT)
    currency = root.text("currency")
    no_pc = root.text("no_price_comparison_procurement_methods")
    pc = root.text("price_comparison_procurement_methods")
    root.done()

    exclusions = section("exclusions")
    excluded = exclusions.text("procurement_method_details")
    exclusions.done()

    indicators: dict[str, Any] = {}
    for code in INDICATORS:
        if code in sections:
            indicators[code] = _indicator(code, section(code))
    if "R003.procurement_method_details" in sections:
        by_details = section("R003.procurement_method_details")
        thresholds: dict[str, int] = {}
        for key in list(by_details.values):
            days = by_details.integer(key)
            assert days is not None  # the key is there: integer() returns a number or raises
            thresholds[key] = days
        base = indicators.get("R003", R003Settings())
        indicators.setdefault("R003", base)
        indicators["R003"] = R003Settings(threshold=base.threshold, procurement_methods=base.procurement_methods,
                                          procurement_method_details=MappingProxyType(thresholds))

    return Settings(
        currency=currency.strip() if currency is not None else None,
        no_price_comparison_procurement_methods=pipe_set(no_pc) if no_pc is not None else frozenset(),
        price_comparison_procurement_methods=pipe_set(pc) if pc is not None else frozenset(),
        excluded_procurement_method_details=pipe_set(excluded) if excluded is not None else frozenset(),
        indicators=MappingProxyType(indicators),
        prepare=_prepare(section),
    )


def _indicator(code: str, s: _Section) -> Any:
    result: Any
    if code == "R003":
        methods = s.text("procurement_methods")
        result = R003Settings(threshold=_or(s.integer("threshold"), 15),
                              procurement_methods=pipe_set(methods) if methods is not None else frozenset())
    elif code == "R018":
        methods = s.text("procurement_methods")
        result = R018Settings(procurement_methods=pipe_set(methods) if methods is not None
                              else R018Settings().procurement_methods)
    elif code in ("R024", "R058"):
        result = ThresholdSettings(threshold=s.number("threshold"))
    elif code == "R025":
        result = R025Settings(percentile=_or(s.integer("percentile", minimum=0), 75), threshold=s.number("threshold"))
    elif code == "R035":
        result = R035Settings(threshold=max(_or(s.integer("threshold", minimum=0), 1), 1))
    elif code == "R038":
        result = R038Settings(threshold=s.number("threshold"),
                              minimum_submitted_bids=_or(s.integer("minimum_submitted_bids", minimum=0), 2),
                              minimum_contracting_processes=_or(
                                  s.integer("minimum_contracting_processes", minimum=0), 2))
    elif code == "R048":
        result = R048Settings(digits=_or(s.integer("digits", minimum=0), 2),
                              threshold=s.integer("threshold", minimum=0),
                              minimum_contracting_processes=_or(
                                  s.integer("minimum_contracting_processes", minimum=0), 20))
    else:  # R028, R030, R036, R044: not configurable
        result = NoSettings()
    s.done()
    return result


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _prepare(section: Any) -> PrepareSettings:
    d = section("defaults")
    r = section("redactions")
    c = section("corrections")
    m = section("modifications")
    amounts_text = r.text("amount")
    amounts: list[float] = []
    for part in (amounts_text or "").split("|"):
        try:
            amounts.append(float(part))
        except ValueError:  # Cardinal drops what does not parse as a number
            continue
    ids = r.text("organization_id")
    out = PrepareSettings(
        default_currency=d.text("currency"),
        default_item_classification_scheme=d.text("item_classification_scheme"),
        default_bid_status=d.text("bid_status"),
        default_award_status=d.text("award_status"),
        default_party_roles=bool(d.boolean("party_roles")),
        redact_amounts=tuple(sorted(amounts)),
        redact_organization_ids=pipe_set(ids) if ids is not None else frozenset(),
        award_status_by_contract_status=bool(c.boolean("award_status_by_contract_status")),
        bid_status_by_award_status=bool(c.boolean("bid_status_by_award_status")),
        move_auctions=bool(m.boolean("move_auctions")),
        prefix_buyer_or_procuring_entity_id=m.text("prefix_buyer_or_procuring_entity_id") or "",
        prefix_tenderer_or_supplier_id=m.text("prefix_tenderer_or_supplier_id") or "",
        split_procurement_method_details=m.text("split_procurement_method_details"),
        tenderer_id_from_identifier=bool(m.boolean("tenderer_id_from_identifier")),
        bid_status_codes=MappingProxyType(dict(section("codelists.bid_status").values)),
        award_status_codes=MappingProxyType(dict(section("codelists.award_status").values)),
    )
    for s in (d, r, c, m):
        s.done()
    return out

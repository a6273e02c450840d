"""Imported OCDS: the pure rules (no I/O).

* What a release must have to be taken (`check_release`), and the 1.0 -> 1.1 upgrade (ocdskit's own rules).
* A release's identity: the BLAKE2b hash of its canonical JSON (keys sorted, amounts as exact decimals), which
  is also what is stored (jsonb keeps no key order anyway).
* Compiling: ocdsmerge's compiled release, built from nothing or on top of the stored compiled release
  (`ocdsmerge.merge.CompiledRelease(data=...)`: merging on top of a compiled release gives the same result as
  merging every release again, because a compiled release is the flattened union of its releases in date order;
  only a release dated before the stored one forces a compilation from all releases, done by the service).
* A record's compiled release when its publisher gives one (or only a versioned release).
* The columns and parties read models need, with the RUC read from Peruvian identifiers.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec
from stdnum.pe import ruc as pe_ruc

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "ocds" / "release-schema.json"

_canonical = msgspec.json.Encoder(decimal_format="number", order="sorted")
_decoder = msgspec.json.Decoder(float_hook=Decimal)

OCID_PREFIX_RE = re.compile(r"^(ocds-[a-z0-9]{6})-", re.IGNORECASE)
# The sections read models project must have the schema's shape; the others are stored as given (Armenia's
# `planning` is an array, for one, and the rest of such a release is still worth having).
OBJECT_FIELDS = ("tender", "buyer")
ARRAY_FIELDS = ("parties", "awards", "contracts")


class Refused(Exception):
    """A release or record that is not taken; `reason` says why (shown to the person importing)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def canonical(value: Any) -> bytes:
    return _canonical.encode(value)


def digest(raw: bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=16).digest()


def decode(raw: str | bytes) -> Any:
    """JSON with non-integer numbers as exact Decimals (amounts)."""
    return _decoder.decode(raw)


# OCDS 1.0's organisations (tenderers, suppliers) have no `id`: its schema merges those arrays whole, where
# 1.1's organisation references merge by id. ocdskit compiles 1.0 data by 1.0's rules; so do we.
RULES_10_WHOLE_LIST = [("tender", "tenderers"), ("awards", "suppliers")]


@lru_cache(maxsize=1)
def merge_rules_10() -> dict[tuple[str, ...], str]:
    rules = dict(merger().merge_rules)
    for path in RULES_10_WHOLE_LIST:
        rules[path] = "wholeListMerge"
    return rules


@lru_cache(maxsize=1)
def merger() -> Any:
    """ocdsmerge with the bundled OCDS 1.1 release schema (core + lots + bids: their merge rules)."""
    import ocdsmerge  # lazy: jsonref and requests load only when something is compiled
    from ocdsmerge.exceptions import OCDSMergeWarning  # lazy: with ocdsmerge

    # Publishers' data repeats ids within arrays often (merged by id, as the standard says); one warning per
    # occurrence would bury the import's own report.
    warnings.filterwarnings("ignore", category=OCDSMergeWarning)
    return ocdsmerge.Merger(schema=decode(SCHEMA_PATH.read_bytes()))


# --- publishers -------------------------------------------------------------------------------------------

def placeholder_name(prefix: str) -> str:
    """The name of a publisher known only by its prefix (renamed when a package names it)."""
    return f"OCDS {prefix}"


def ocid_prefix(ocid: str) -> str:
    """The registered prefix of an ocid (`ocds-` and 6 characters), lower case; '' when it has none."""
    m = OCID_PREFIX_RE.match(ocid)
    return m.group(1).lower() if m else ""


def slugify(text: str, fallback: str = "publisher") -> str:
    """A short ASCII handle for a name (`fallback` when nothing of it is ASCII, e.g. a Cyrillic name)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:60].strip("-") or fallback


# --- releases ---------------------------------------------------------------------------------------------

def parse_date(value: str) -> datetime | None:
    """An OCDS date-time as an aware UTC datetime; None when it is not one (the string still orders merges)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def check_release(release: Any) -> None:
    """Raise Refused unless `release` has what merging and storing it need (ocid, id, date) and the sections
    read models project (buyer, tender, parties, awards, contracts) are shaped as the schema says."""
    if not isinstance(release, dict):
        raise Refused(f"a release must be a JSON object, not {type(release).__name__}")
    ocid = release.get("ocid")
    if not isinstance(ocid, str) or not ocid.strip():
        raise Refused("'ocid' is missing" if ocid is None else "'ocid' must be a non-empty string")
    rid = release.get("id")
    if rid is None:
        raise Refused("'id' is missing")
    if not isinstance(rid, (str, int)) or isinstance(rid, bool) or str(rid) == "":
        raise Refused("'id' must be a non-empty string")
    date = release.get("date")
    if date is None:
        raise Refused("'date' is missing")
    if not isinstance(date, str) or not date.strip():
        raise Refused("'date' must be a date-time string")
    tag = release.get("tag")
    if tag is not None and not (isinstance(tag, list) and all(isinstance(t, str) for t in tag)):
        raise Refused("'tag' must be an array of strings")
    for key in OBJECT_FIELDS:
        if release.get(key) is not None and not isinstance(release[key], dict):
            raise Refused(f"'{key}' must be an object")
    for key in ARRAY_FIELDS:
        value = release.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(x, dict) for x in value)):
            raise Refused(f"'{key}' must be an array of objects")


def needs_upgrade(release_or_record: dict[str, Any], version: str | None, *, in_package: bool) -> bool:
    """ocdskit's reading of the version: a package states it (no `version`: 1.0); a bare release or record
    without a stated version is 1.0 when it has no `parties` (in any of a record's releases)."""
    stated = version if in_package else release_or_record.get("version")
    if isinstance(stated, str) and stated:
        return stated.startswith("1.0")
    if in_package:
        return True
    releases = release_or_record.get("releases")
    if isinstance(releases, list) and ("ocid" in release_or_record or "compiledRelease" in release_or_record
                                       or "versionedRelease" in release_or_record):  # a record
        compiled = release_or_record.get("compiledRelease")
        return not (any(isinstance(r, dict) and "parties" in r for r in releases)
                    or isinstance(compiled, dict) and "parties" in compiled)
    return "parties" not in release_or_record


def upgrade_release(release: dict[str, Any]) -> None:
    """OCDS 1.0 -> 1.1 in place: organisations into `parties`, amendments, transactions (ocdskit)."""
    from ocdskit.upgrade import upgrade_release_10_11  # lazy: only 1.0 input needs ocdskit

    # ocdskit logs each party that differs between two roles; the import reports what it refuses, not that.
    logging.getLogger("ocdskit").setLevel(logging.ERROR)
    try:
        upgrade_release_10_11(release, reorder=False)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise Refused(f"cannot upgrade from OCDS 1.0: {type(exc).__name__} {exc}") from exc


@dataclass(slots=True)
class Release:
    """A release ready to store: its identity, columns and canonical JSON."""

    ocid: str
    release_id: str
    date: str
    version: str  # "1.0" or "1.1": the rules it merges by
    tags: list[str]
    hash: bytes
    json: bytes  # canonical JSON; the parsed release is not kept (a batch holds thousands): `value()` decodes it
    where: str
    publisher_id: int = 0

    def value(self) -> dict[str, Any]:
        release: dict[str, Any] = decode(self.json)  # a release is a JSON object (checked when read)
        return release


def prepare_release(release: Any, where: str, version: str = "1.1") -> Release:
    check_release(release)
    raw = canonical(release)
    tags = [t for t in (release.get("tag") or []) if isinstance(t, str)]
    return Release(ocid=release["ocid"].strip(), release_id=str(release["id"]), date=release["date"],
                   version=version, tags=tags, hash=digest(raw), json=raw, where=where)


# --- records ----------------------------------------------------------------------------------------------

def is_versioned_value(value: Any) -> bool:
    return isinstance(value, dict) and "releaseDate" in value and "value" in value and len(value) <= 4


def from_versioned(versioned: dict[str, Any]) -> dict[str, Any]:
    """The compiled release a versioned release stands for: each field's newest value."""
    newest = ""

    def last(node: Any) -> Any:
        nonlocal newest
        if isinstance(node, list) and node and all(is_versioned_value(v) for v in node):
            entry = node[-1]
            if isinstance(entry.get("releaseDate"), str) and entry["releaseDate"] > newest:
                newest = entry["releaseDate"]
            return entry["value"]
        if isinstance(node, dict):
            out = {k: last(v) for k, v in node.items()}
            return {k: v for k, v in out.items() if v is not None}
        if isinstance(node, list):
            return [last(v) for v in node]
        return node

    compiled: dict[str, Any] = last(versioned)
    ocid = compiled.get("ocid", "")
    compiled["tag"] = ["compiled"]
    compiled.setdefault("date", newest)
    compiled.setdefault("id", f"{ocid}-{compiled['date']}")
    return compiled


@dataclass(slots=True)
class RecordParts:
    ocid: str
    releases: list[dict[str, Any]] = field(default_factory=list)  # embedded full releases
    compiled: dict[str, Any] | None = None  # the publisher's compiled release, if any


def record_parts(record: Any) -> RecordParts:
    """Split a record into its embedded releases and its publisher's compiled release. Linked releases (a url
    and a date, no content) carry nothing to store; a record with neither is refused."""
    if not isinstance(record, dict):
        raise Refused(f"a record must be a JSON object, not {type(record).__name__}")
    compiled = record.get("compiledRelease")
    versioned = record.get("versionedRelease")
    if compiled is not None and not isinstance(compiled, dict):
        raise Refused("'compiledRelease' must be an object")
    if compiled is None and isinstance(versioned, dict):
        compiled = from_versioned(versioned)
    ocid = record.get("ocid")
    if ocid is None and compiled is not None:
        ocid = compiled.get("ocid")
    if not isinstance(ocid, str) or not ocid.strip():
        raise Refused("'ocid' is missing" if ocid is None else "'ocid' must be a non-empty string")
    releases = record.get("releases")
    if releases is not None and not isinstance(releases, list):
        raise Refused("'releases' must be an array")
    full = []
    for r in releases or []:
        if isinstance(r, dict) and ("id" in r or "ocid" in r) and set(r) - {"url", "date", "tag"}:
            if "ocid" not in r:
                r["ocid"] = ocid
            full.append(r)
    if compiled is not None:
        compiled = dict(compiled)
        compiled.setdefault("ocid", ocid)
        if not isinstance(compiled.get("date"), str):
            dates = [r["date"] for r in full if isinstance(r.get("date"), str)]
            compiled["date"] = max(dates) if dates else ""
    if not full and compiled is None:
        raise Refused("the record has neither a compiledRelease nor embedded releases (only links)")
    return RecordParts(ocid=ocid.strip(), releases=full, compiled=compiled)


# --- compiling --------------------------------------------------------------------------------------------

def compile_releases(base: dict[str, Any] | None, releases: list[dict[str, Any]], *,
                     version: str = "1.1") -> dict[str, Any]:
    """The compiled release of `releases` merged in date order on top of `base` (a compiled release, or None),
    by the merge rules of OCDS `version`. A 1.0 compiled release is then upgraded to 1.1 (ocdskit)."""
    from marketplace.oversight.imports.merge import (  # lazy: with merger() (ocdsmerge)
        CompiledRelease,
        Irregular,
        compile_direct,
    )

    rules = merge_rules_10() if version == "1.0" else merger().merge_rules
    try:
        compiled = compile_direct(base, releases, rules)
    except Irregular:  # what only ocdsmerge's flattened form merges as ocdsmerge does
        merged = CompiledRelease(data=base, merge_rules=rules)
        merged.extend(releases)
        compiled = merged.asdict()
    if version == "1.0":
        upgrade_release(compiled)
    return compiled


# --- read-model columns -----------------------------------------------------------------------------------

def ruc_of(party: dict[str, Any]) -> str | None:
    """The RUC of a party: an identifier or additional identifier in scheme PE-RUC, or an id `PE-RUC-<ruc>`;
    only an 11-digit number with a valid check digit counts."""
    candidates: list[Any] = []
    for ident in [party.get("identifier"), *(party.get("additionalIdentifiers") or [])]:
        if isinstance(ident, dict) and str(ident.get("scheme") or "").upper() == "PE-RUC":
            candidates.append(ident.get("id"))
    pid = party.get("id")
    if isinstance(pid, str) and pid.upper().startswith("PE-RUC-"):
        candidates.append(pid[7:])
    for c in candidates:
        text = str(c or "").strip()
        if len(text) == 11 and text.isdigit() and _valid_ruc(text):
            return text
    return None


@lru_cache(maxsize=65536)
def _valid_ruc(text: str) -> bool:
    """python-stdnum's check (the same organisations come back in every release: remembered)."""
    return pe_ruc.is_valid(text)


@dataclass(slots=True)
class Party:
    party_id: str
    name: str
    ruc: str | None
    roles: list[str]


@dataclass(slots=True)
class Summary:
    date: datetime | None
    buyer_id: str
    buyer_name: str
    buyer_ruc: str | None
    tender_status: str
    procurement_method: str
    award_count: int
    contract_count: int
    parties: list[Party]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def summarise(compiled: dict[str, Any]) -> Summary:
    parties: dict[str, Party] = {}
    for p in compiled.get("parties") or []:
        if not isinstance(p, dict):
            continue
        pid = _text(p.get("id"))
        if not pid:
            continue
        roles = [r for r in (p.get("roles") or []) if isinstance(r, str)] if isinstance(p.get("roles"), list) else []
        known = parties.get(pid)
        if known is None:
            parties[pid] = Party(party_id=pid, name=_text(p.get("name")), ruc=ruc_of(p), roles=roles)
        else:
            known.roles += [r for r in roles if r not in known.roles]
            known.ruc = known.ruc or ruc_of(p)
    buyer = b if isinstance(b := compiled.get("buyer"), dict) else {}
    buyer_id = _text(buyer.get("id"))
    buyer_party = parties.get(buyer_id) or next((p for p in parties.values() if "buyer" in p.roles), None)
    if not buyer_id and buyer_party:
        buyer_id = buyer_party.party_id
    buyer_ruc = buyer_party.ruc if buyer_party else ruc_of(buyer)
    tender = t if isinstance(t := compiled.get("tender"), dict) else {}
    awards = a if isinstance(a := compiled.get("awards"), list) else []
    contracts = c if isinstance(c := compiled.get("contracts"), list) else []
    date = compiled.get("date")
    return Summary(
        date=parse_date(date) if isinstance(date, str) else None,
        buyer_id=buyer_id, buyer_name=_text(buyer.get("name")) or (buyer_party.name if buyer_party else ""),
        buyer_ruc=buyer_ruc, tender_status=_text(tender.get("status")),
        procurement_method=_text(tender.get("procurementMethod")), award_count=len(awards),
        contract_count=len(contracts), parties=list(parties.values()))

"""Which Cardinal settings compute each publisher's red flags in the read model.

A folder (REDFLAG_SETTINGS_DIR; unset: `publishers/` beside this module) holds `publishers.ini`, the
registry, and the settings files it names, each in Cardinal's INI (settings.py: the same sections and names
as `marketplace redflags run --settings`, so the file an operator tunes is the file an auditor can run):

    [slugs]                      ; a publisher's slug (GET /api/v1/oversight/publishers) = its file
    mercado-abierto = mercado-abierto.ini
    [ocid_prefixes]              ; else: the start of its ocids = its file (the longest prefix wins)
    ocds-be6bcu- = prozorro.ini

A publisher matched by neither runs every indicator with Cardinal's defaults (as `marketplace redflags run`
without --settings). As in Cardinal, a settings file runs only the indicators it has a section for.

Each choice carries a digest of the settings as parsed (not of the file's bytes: a comment or a reordering
is no change). The read model keeps the digest it computed a publisher with; the population job recomputes
a publisher whose digest changed (readmodel.apply_settings). The files are read at each use (a few small
files; parsed once per content), so an edit needs no restart.
"""

from __future__ import annotations

import configparser
import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec

from marketplace.oversight.redflags import settings as settings_mod
from marketplace.oversight.redflags.settings import Settings, SettingsError

BUILTIN_DIR = Path(__file__).with_name("publishers")
REGISTRY = "publishers.ini"


@dataclass(frozen=True)
class Choice:
    file: str  # the settings file's name in the folder; '' for Cardinal's defaults
    settings: Settings
    digest: bytes  # sha256 of the settings as parsed (fingerprint())


@dataclass(frozen=True)
class Registry:
    folder: Path
    slugs: Mapping[str, str]
    prefixes: tuple[tuple[str, str], ...]  # longest first

    def file_for(self, slug: str | None, ocid: str | None) -> str:
        if slug is not None and slug in self.slugs:
            return self.slugs[slug]
        if ocid is not None:
            for prefix, name in self.prefixes:
                if ocid.startswith(prefix):
                    return name
        return ""

    def choose(self, slug: str | None, ocid: str | None) -> Choice:
        """The settings of a publisher with this slug, one of whose ocids is `ocid`."""
        name = self.file_for(slug, ocid)
        if not name:
            return DEFAULTS
        return _choice(self.folder / name)


def fingerprint(settings: Settings) -> bytes:
    """A digest of what the settings say (sets sorted, mappings by key), equal across processes."""
    return hashlib.sha256(msgspec.json.encode(_plain(settings))).digest()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"@": type(value).__name__,
                **{f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


_ALL = Settings.all_indicators()
DEFAULTS = Choice(file="", settings=_ALL, digest=fingerprint(_ALL))


def folder_of(app_settings: Any) -> Path:
    """REDFLAG_SETTINGS_DIR, or the built-in folder."""
    given = app_settings.redflags.settings_dir if app_settings is not None else None
    return Path(given) if given is not None else BUILTIN_DIR


def registry(folder: Path) -> Registry:
    """The folder's registry (read again when publishers.ini changes on disk). A folder without one: every
    publisher with Cardinal's defaults."""
    path = folder / REGISTRY
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Registry(folder=folder, slugs={}, prefixes=())
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from exc
    registry = _registry(path, text)
    for name in {*registry.slugs.values(), *dict(registry.prefixes).values()}:
        _choice(folder / name)  # every file it names must be there and valid: said at once, not later
    return registry


@lru_cache(maxsize=16)
def _registry(path: Path, text: str) -> Registry:
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"),
                                       comment_prefixes=(";", "#"), default_section="__no_defaults__")
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # slugs and prefixes keep their case
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise SettingsError(f"{path}: {' '.join(str(exc).split())}") from exc
    unknown = set(parser.sections()) - {"slugs", "ocid_prefixes"}
    if unknown:
        raise SettingsError(f"{path}: [{sorted(unknown)[0]}]: unknown section (known: slugs, ocid_prefixes)")
    slugs = dict(parser.items("slugs")) if parser.has_section("slugs") else {}
    prefixes = dict(parser.items("ocid_prefixes")) if parser.has_section("ocid_prefixes") else {}
    for name in {*slugs.values(), *prefixes.values()}:
        if not name or Path(name).name != name:
            raise SettingsError(f"{path}: {name!r}: a settings file's name in the same folder")
    return Registry(folder=path.parent, slugs=slugs,
                    prefixes=tuple(sorted(prefixes.items(), key=lambda kv: (-len(kv[0]), kv[0]))))


def _choice(path: Path) -> Choice:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"cannot read the settings file {path}: {exc}") from exc
    return _load(path.name, text)


@lru_cache(maxsize=64)
def _load(name: str, text: str) -> Choice:
    try:
        parsed = settings_mod.parse(text)
    except SettingsError as exc:
        raise SettingsError(f"{name}: {exc}") from exc
    return Choice(file=name, settings=parsed, digest=fingerprint(parsed))

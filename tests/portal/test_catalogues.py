"""The catalogues are complete: every message id the code and the templates use (extracted with babel, by
babel.cfg and the Makefile's keywords, exactly as `make messages` does) has its Spanish, English and Quechua
translation, plural messages with every form their language has (CLDR: es 3, en 2, qu 1), placeholders kept;
every problem type and every message the API raises speaks the three languages; and the API's errors come
from the same catalogues."""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
import string
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from marketplace.core import errors, i18n
from marketplace.portal import labels

ROOT = Path(__file__).resolve().parent.parent.parent
POT = i18n.LOCALE_DIR / "messages.pot"
# the keywords `make messages` gives pybabel: its defaults (gettext, ngettext, N_, ...) and N_plural
KEYWORDS = {**DEFAULT_KEYWORDS, "N_plural": (1, 2)}
PACKAGES = ("marketplace", "suppliers", "tenders", "search")  # the Python the API runs (babel.cfg's too)
FIX = "fill them in marketplace/core/locale/<lang>/LC_MESSAGES/messages.po (after `make messages`)"


@functools.cache
def _extract() -> dict[str | tuple[str, str], set[str]]:
    """msgid (a (singular, plural) pair for a plural message) -> the files that use it."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[str | tuple[str, str], set[str]] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True):
        msgid = message if isinstance(message, str) else (message[0], message[1])
        if msgid:
            found.setdefault(msgid, set()).add(filename)
    return found


def _po(lang: str):
    with (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def _catalog(lang: str) -> dict[str, str]:
    return {m.id: m.string for m in _po(lang) if m.id and isinstance(m.id, str)}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _what_is_missing(msgid: str | tuple[str, str], lang: str, cat) -> str | None:
    """Why `msgid` has no usable translation in `cat`, or None when it has one."""
    key = msgid if isinstance(msgid, str) else msgid[0]
    m = cat.get(key)
    if m is None:
        return "absent"
    if m.fuzzy:
        return "fuzzy"
    if isinstance(msgid, str):
        return None if isinstance(m.string, str) and m.string.strip() else "empty"
    forms = list(m.string) if isinstance(m.string, (tuple, list)) else [m.string]
    if len(forms) != cat.num_plurals:
        return f"{len(forms)} plural forms instead of {cat.num_plurals}"
    empty = [i for i, f in enumerate(forms) if not (f or "").strip()]
    return f"plural form(s) {empty} empty" if empty else None


def _report(missing: dict[str, list[str]], found) -> str:
    lines = [f"{len(missing)} message(s) lack a translation; {FIX}:"]
    for msgid, langs in sorted(missing.items(), key=lambda kv: str(kv[0])):
        where = ", ".join(sorted(found.get(msgid, ())))
        lines.append(f"  {msgid!r}: {'; '.join(langs)}  ({where})")
    return "\n".join(lines)


def test_babel_finds_the_messages_of_the_code_and_the_templates():
    found = _extract()
    assert "Tender not found" in found  # Python (N_ in tenders/)
    assert "Skip to main content" in found  # Jinja (templates/base.html)
    assert ("{n} tender found.", "{n} tenders found.") in found  # Jinja's ngettext
    assert any(isinstance(m, tuple) and any(f.startswith("tenders/") for f in files)
               for m, files in found.items())  # N_plural in Python
    assert any(f.startswith("marketplace/portal/templates/") for files in found.values() for f in files)
    assert len(found) > 400


def test_messages_pot_is_what_make_messages_extracts_now():
    """The committed template is current: a string added to the code without `make messages` shows here."""
    with POT.open("rb") as fh:
        pot = {m.id if isinstance(m.id, str) else tuple(m.id) for m in read_po(fh) if m.id}
    found = set(_extract())
    assert found == pot, ("run `make messages`: messages.pot lacks "
                          f"{sorted(map(str, found - pot))} and still has {sorted(map(str, pot - found))}")


def test_every_message_has_its_spanish_english_and_quechua_translation():
    """Every msgid (messages.pot: the code's and the templates') is translated, not fuzzy, with all its plural
    forms, in es, en and qu. The failure lists each message with what each language lacks."""
    found = _extract()
    missing: dict[str, list[str]] = {}
    for lang in i18n.SUPPORTED:
        cat = _po(lang)
        for msgid in found:
            why = _what_is_missing(msgid, lang, cat)
            if why:
                missing.setdefault(msgid, []).append(f"{lang} {why}")
    assert not missing, _report(missing, found)


@pytest.mark.parametrize("lang", i18n.SUPPORTED)
def test_plural_forms_are_cldrs(lang):
    """Each catalogue has as many plural forms as CLDR gives its language (Spanish: one, many, other;
    English: one, other; Quechua: other only), and its rule puts 1 in the first."""
    cat = _po(lang)
    tags = Locale.parse(i18n.BABEL_LOCALES[lang]).plural_form.tags | {"other"}  # 'other' is implicit
    assert cat.num_plurals == len(tags), (lang, cat.plural_forms, sorted(tags))
    choose = i18n.catalogue(lang).plural_index
    assert choose(1) == 0
    if lang == "es":  # "1 millón de convocatorias": the 'many' form
        assert (choose(2), choose(1_000_000)) == (2, 1)


def test_translations_keep_the_placeholders_and_catalogues_have_no_duplicates():
    wrong = []
    for lang in i18n.SUPPORTED:
        path = i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
        ids = re.findall(r'^msgid "(.*)"$', path.read_text(encoding="utf-8"), flags=re.M)
        dupes = sorted({i for i in ids if ids.count(i) > 1 and i})
        assert not dupes, f"{lang}: duplicate msgids {dupes}"
        for m in _po(lang):
            if not m.id:
                continue
            wanted = _fields(m.id) if isinstance(m.id, str) else _fields(m.id[0]) | _fields(m.id[1])
            for text in ([m.string] if isinstance(m.string, str) else list(m.string)):
                if text and _fields(text) != wanted:
                    wrong.append(f"{lang} {m.id!r}: {text!r} has {sorted(_fields(text))}, wants {sorted(wanted)}")
    assert not wrong, "translations must keep the msgid's {placeholders} exactly:\n" + "\n".join(wrong)


def test_catalogues_pass_babels_checks_so_make_messages_compiles():
    """What `pybabel compile` checks (babel's checkers, e.g. a '10% of' read as a %-format must keep a
    compatible '% o' in the translation), run here so that a bad entry fails a test, not the build."""
    for lang in i18n.SUPPORTED:
        cat = _po(lang)
        problems = [(m.id, str(e)) for m in cat if m.id and m.string for e in m.check(cat)]
        assert not problems, (lang, problems)


def test_the_portals_labels_cover_the_codes_they_name():
    from tenders.evaluation import domain as evaluation

    assert set(labels.FORMULAS) == set(evaluation.FORMULAS)  # the score sheet's formulas, in words
    assert set(labels.BONUSES) >= {p.code for p in evaluation.DEFAULT_POLICIES}


# ------------------------------------------------------------------------------------------------ the API


def _import_everything() -> None:
    """Every module of the application, so that every DomainError subclass exists."""
    for package in PACKAGES:
        mod = importlib.import_module(package)
        for info in pkgutil.walk_packages(mod.__path__, prefix=f"{package}."):
            if ".migrations" in info.name or info.name.endswith("piccolo_conf"):
                continue
            importlib.import_module(info.name)


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


def _problem_types() -> dict[str, set[str]]:
    """type -> its titles: every DomainError subclass, and the problems errors.py answers for HTTP errors."""
    _import_everything()
    types: dict[str, set[str]] = {}
    for cls in [errors.DomainError, *_subclasses(errors.DomainError)]:
        types.setdefault(cls.type, set()).add(cls.title)
    for type_, title in errors._HTTP_TYPES.values():
        types.setdefault(type_, set()).add(title)
    return types


def _python_messages() -> dict[str | tuple[str, str], set[str]]:
    return {m: files for m, files in _extract().items() if any(f.endswith(".py") for f in files)}


def test_every_problem_type_has_its_title_in_each_language():
    types = _problem_types()
    assert len(types) >= 15 and "deadline-passed" in types and "invalid-transition" in types
    missing: dict[str, list[str]] = {}
    for lang in i18n.SUPPORTED:
        cat = _po(lang)
        for type_, titles in types.items():
            for title in titles:
                why = _what_is_missing(title, lang, cat)
                if why:
                    missing.setdefault(title, []).append(f"{lang} {why} (problem type {type_})")
    assert not missing, _report(missing, _extract())


def test_every_message_the_api_raises_has_each_language():
    """N_() and N_plural() messages in the Python packages: the details and field messages of problems."""
    found = _python_messages()
    assert "Tender not found" in found and "The deadline must be in the future" in found
    missing: dict[str, list[str]] = {}
    for lang in i18n.SUPPORTED:
        cat = _po(lang)
        for msgid in found:
            why = _what_is_missing(msgid, lang, cat)
            if why:
                missing.setdefault(msgid, []).append(f"{lang} {why}")
    assert not missing, _report(missing, found)


def test_translating_takes_the_plural_form_of_the_number():
    singular, plural = "{n} tender found.", "{n} tenders found."
    assert i18n.ngettext(singular, plural, 1, "es") == "1 convocatoria encontrada."
    assert i18n.ngettext(singular, plural, 3, "es") == "3 convocatorias encontradas."
    assert i18n.ngettext(singular, plural, 1_000_000, "es", n="1 000 000") == "1 000 000 de convocatorias encontradas."
    assert i18n.ngettext(singular, plural, 1, "en") == "1 tender found."
    assert i18n.ngettext(singular, plural, 2, "en") == "2 tenders found."
    assert i18n.ngettext(singular, plural, 1, "qu") == "1 waqyakuy tarikun."
    assert i18n.ngettext(singular, plural, 5, "qu") == "5 waqyakuy tarikun."
    message = i18n.N_plural("The opening must be within {days} day of the deadline",
                            "The opening must be within {days} days of the deadline", "days")
    assert i18n.gettext(message, "en", days=1) == "The opening must be within 1 day of the deadline"
    assert i18n.gettext(message, "en", days=30) == "The opening must be within 30 days of the deadline"
    assert "30 días" in i18n.gettext(message, "es", days=30) and "1 día " in i18n.gettext(message, "es", days=1)


async def test_the_apis_errors_speak_the_same_catalogues(client):
    msgid = "Not a valid ubigeo (six digits naming a region, province or district)"
    for how, lang in (({"headers": {"Accept-Language": "es-PE"}}, "es"), ({"headers": {"Accept-Language": "en"}}, "en"),
                      ({"params": {"lang": "qu"}}, "qu"), ({"headers": {"Accept-Language": "qu-PE"}}, "qu")):
        r = await client.get("/api/v1/tenders", **{**how, "params": {"ubigeo": "999999", **how.get("params", {})}})
        assert r.status_code == 422 and r.json()["detail"] == i18n.catalog(lang)[msgid], (lang, r.text)

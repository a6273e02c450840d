"""The catalogues are complete: every message id the code and the templates use (extracted with babel, by
babel.cfg, exactly as `make messages` does) has its Spanish translation; Quechua covers the portal's main
texts; translations keep their placeholders; the API's errors come from the same catalogues."""

from __future__ import annotations

import re
import string
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from marketplace.core import i18n
from marketplace.portal import labels

ROOT = Path(__file__).resolve().parent.parent.parent
KEYWORDS = {"N_": None, "_": None, "gettext": None}
# The portal's main texts, which Quechua must cover: the frame, the home page, the not-found page, the
# shared fragments (place selector, tables, tender cards), and the tender page's sections.
MAIN_TEMPLATES = ("base.html", "home.html", "404.html", "_macros.html")
MAIN_TEXTS = ("Timeline", "Lots", "Documents", "Questions and answers", "Bid opening", "Score sheets", "Awards",
              "Contracts", "Award history", "Download CSV", "On this page", "Page not found", "Search",
              *labels.TENDER_STATES.values(), *labels.CATEGORIES.values())


def _extract() -> dict[str, set[str]]:
    """msgid -> the files that use it."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[str, set[str]] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True):
        msgid = message if isinstance(message, str) else message[0]
        if msgid:
            found.setdefault(msgid, set()).add(filename)
    return found


def _catalog(lang: str) -> dict[str, str]:
    with (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return {m.id: m.string for m in read_po(fh, locale=lang) if m.id}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_babel_finds_the_messages_of_the_code_and_the_templates():
    found = _extract()
    assert "Tender not found" in found  # Python (N_ in tenders/)
    assert "Skip to main content" in found  # Jinja (templates/base.html)
    assert any(f.startswith("marketplace/portal/templates/") for files in found.values() for f in files)
    assert len(found) > 400


def test_every_message_in_code_and_templates_has_its_spanish_translation():
    es = _catalog("es")
    missing = {m: sorted(files) for m, files in _extract().items() if not es.get(m)}
    assert not missing, "add these to marketplace/core/locale/es/LC_MESSAGES/messages.po:\n" + "\n".join(
        f"{m!r}  ({', '.join(files)})" for m, files in sorted(missing.items()))


def test_quechua_covers_the_portals_main_texts():
    qu = _catalog("qu")
    found = _extract()
    main = {m for m, files in found.items()
            if any(f.startswith("marketplace/portal/templates/") and Path(f).name in MAIN_TEMPLATES for f in files)}
    main |= set(MAIN_TEXTS)
    missing = sorted(m for m in main if not qu.get(m))
    assert not missing, f"Quechua lacks: {missing}"


def test_translations_keep_the_placeholders_and_catalogues_have_no_duplicates():
    for lang in i18n.SUPPORTED:
        path = i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
        ids = re.findall(r'^msgid "(.*)"$', path.read_text(encoding="utf-8"), flags=re.M)
        dupes = sorted({i for i in ids if ids.count(i) > 1 and i})
        assert not dupes, f"{lang}: duplicate msgids {dupes}"
        for msgid, text in _catalog(lang).items():
            if text:
                assert _fields(text) == _fields(msgid), (lang, msgid, text)


def test_catalogues_pass_babels_checks_so_make_messages_compiles():
    """What `pybabel compile` checks (babel's checkers, e.g. a '10% of' read as a %-format must keep a
    compatible '% o' in the translation), run here so that a bad entry fails a test, not the build."""
    for lang in i18n.SUPPORTED:
        with (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
            cat = read_po(fh, locale=lang)
        problems = [(m.id, str(e)) for m in cat if m.id and m.string for e in m.check(cat)]
        assert not problems, (lang, problems)


async def test_the_apis_errors_speak_the_same_catalogues(client):
    msgid = "Not a valid ubigeo (six digits naming a region, province or district)"
    r = await client.get("/api/v1/tenders", params={"ubigeo": "999999"}, headers={"Accept-Language": "es-PE"})
    assert r.status_code == 422 and r.json()["detail"] == i18n.catalog("es")[msgid]
    r = await client.get("/api/v1/tenders", params={"ubigeo": "999999"}, headers={"Accept-Language": "en"})
    assert r.json()["detail"] == msgid
    r = await client.get("/api/v1/tenders", params={"ubigeo": "999999", "lang": "qu"})
    assert r.json()["detail"] == i18n.catalog("qu").get(msgid, i18n.catalog("es")[msgid])

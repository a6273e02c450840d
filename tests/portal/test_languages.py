"""A page asked for in Quechua or English says nothing in Spanish but its data (WCAG 3.1.1 and 3.1.2): every
portal page, rendered over HTTP on the demo data (tests/portal/conftest.py `site`), is marked with the language
asked for, and no Spanish interface string (an es msgstr that the qu or en catalogue says otherwise; on a
Quechua page no English one either) is in its visible text, attributes a reader meets (aria-label, placeholder,
alt, title) included. Data values (tender titles, names, questions: whatever the database holds) are Spanish
by nature and are left out; so are parts marked with a language of their own (the language switch's names)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest

from marketplace.core import db
from tests.portal.test_catalogues import _po

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
        "wbr"}
SHOWN_ATTRIBUTES = ("aria-label", "placeholder", "alt", "title", "data-label", "data-hint")  # data-*: shown by CSS
TAGS = {"qu": "qu-PE", "en": "en"}


class _Visible(HTMLParser):
    """The text a reader meets on a page, one line per text node or shown attribute, whitespace collapsed;
    without scripts, styles and parts marked with another language than the page's."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page_lang: str | None = None
        self.lines: list[str] = []
        self._stack: list[tuple[str, bool]] = []

    def _hidden(self) -> bool:
        return bool(self._stack) and self._stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.page_lang = a.get("lang")
        other_language = tag != "html" and "lang" in a and a["lang"] != self.page_lang
        hidden = self._hidden() or tag in ("script", "style") or other_language
        if not hidden:
            self._add(*(a[k] for k in SHOWN_ATTRIBUTES if a.get(k)))
        if tag not in VOID:
            self._stack.append((tag, hidden))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if not self._hidden():
            self._add(data)

    def _add(self, *texts: str) -> None:
        self.lines += [t for t in (" ".join(x.split()) for x in texts) if t]


def visible(html: str) -> tuple[str | None, list[str]]:
    parser = _Visible()
    parser.feed(html)
    parser.close()
    return parser.page_lang, parser.lines


@dataclass(frozen=True)
class Foreign:
    """One interface string of another language to look for: its language and msgid, its text, a pattern for
    it (placeholders match any text), and its longest literal run (to find the data values that contain it)."""

    lang: str
    msgid: str
    text: str
    pattern: re.Pattern[str]
    core: str


def _forms(string: str | tuple[str, ...] | list[str]) -> list[str]:
    return [string] if isinstance(string, str) else [s for s in string if s]


def _pattern(text: str) -> tuple[re.Pattern[str], str]:
    pieces = re.split(r"\{[^{}]*\}", " ".join(text.split()))
    core = max(pieces, key=len)
    body = r".{1,200}?".join(re.escape(p) for p in pieces)
    start = r"(?<!\w)" if pieces[0][:1].isalnum() else ""
    end = r"(?!\w)" if pieces[-1][-1:].isalnum() else ""
    return re.compile(start + body + end), core


def foreign_strings(lang: str, source: str = "es") -> list[Foreign]:
    """The `source` msgstrs a page in `lang` must not show: those that `lang` says otherwise, with a word in
    them, and not contained in any of `lang`'s own translations (a loanword such as "licitación pública")."""
    es, other = _po(source), _po(lang)
    theirs = [f for m in other if m.id for f in _forms(m.string)]
    out = []
    for m in es:
        if not m.id:
            continue
        key = m.id if isinstance(m.id, str) else m.id[0]
        mine = set(_forms(other.get(key).string)) if other.get(key) else set()
        for text in set(_forms(m.string)):
            if text in mine or not re.search(r"[^\W\d_]{3}", re.sub(r"\{[^{}]*\}", "", text)):
                continue
            pattern, core = _pattern(text)
            if any(core in t for t in theirs):
                continue
            out.append(Foreign(source, str(m.id), text, pattern, core))
    return out


async def data_values() -> list[str]:
    """Every text the database holds (what pages show as data), longest first."""
    cols = await db.fetch("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema ="
                          " 'public' AND data_type IN ('text', 'character varying')")
    values: set[str] = set()
    for c in cols:
        rows = await db.fetch(f'SELECT DISTINCT "{c["column_name"]}" AS v FROM "{c["table_name"]}"'
                              f' WHERE length("{c["column_name"]}") BETWEEN 4 AND 4000')
        values |= {" ".join(r["v"].split()) for r in rows}
    return sorted(values, key=len, reverse=True)


class Checker:
    """Finds on a page in `lang` the interface strings of the `sources` languages."""

    def __init__(self, lang: str, data: list[str], sources: tuple[str, ...] = ("es",)) -> None:
        self.lang = lang
        self.strings = [s for source in sources for s in foreign_strings(lang, source)]
        self.data = data
        self._inside: dict[Foreign, list[str]] = {}

    def inside(self, s: Foreign) -> list[str]:
        """The data values that hold `s`, masked before looking again (a tender titled "Obras de ...")."""
        if s not in self._inside:
            self._inside[s] = [d for d in self.data if s.core in d and s.pattern.search(d)]
        return self._inside[s]

    def foreign_in(self, html: str) -> list[str]:
        page_lang, lines = visible(html)
        assert page_lang == TAGS[self.lang], f'<html lang="{page_lang}">, wanted {TAGS[self.lang]}'
        found = []
        for s in self.strings:
            for line in lines:
                if s.core not in line or not s.pattern.search(line):
                    continue
                for d in self.inside(s):
                    line = line.replace(d, "\x00")
                if s.pattern.search(line):
                    found.append(f"{s.lang} {s.text!r} (msgid {s.msgid!r}) in {line!r}")
                    break
        return found


async def _pages(site) -> list[tuple[str, str, dict, int]]:
    """(method, path, form, status) for every portal page, in the states the demo data has."""
    tenders = await db.fetch("SELECT id FROM tender WHERE state <> 'draft' ORDER BY title")
    agencies = await db.fetch("SELECT organisation_id AS id FROM agency ORDER BY organisation_id")
    suppliers = await db.fetch(
        "(SELECT s.organisation_id AS id FROM supplier s JOIN award a ON a.supplier_id = s.organisation_id"
        "  GROUP BY s.organisation_id ORDER BY count(*) DESC LIMIT 3)"
        " UNION (SELECT organisation_id FROM supplier WHERE status IN ('suspended', 'disqualified') LIMIT 2)")
    word = (await db.fetchrow("SELECT title FROM tender WHERE state = 'tendering' LIMIT 1"))["title"].split()[0]
    some_tender = tenders[0]["id"]
    agency = agencies[0]["id"]
    pages = [("GET", "/", {}, 200), ("GET", "/tenders", {}, 200), ("GET", "/tenders?state=tendering", {}, 200),
             ("GET", f"/tenders?q={word}&ubigeo=080100", {}, 200), ("GET", "/tenders?ubigeo=999999", {}, 422),
             ("GET", "/catalog", {}, 200), ("GET", "/catalog?q=cemento&ubigeo=080101", {}, 200),
             ("GET", "/awards", {}, 200), ("GET", f"/awards?agency_id={agency}", {}, 200),
             ("GET", "/awards?supplier_ruc=123", {}, 422), ("GET", "/red-flags", {}, 200),
             ("GET", f"/red-flags?tender={some_tender}", {}, 200), ("GET", "/stage-times", {}, 200),
             ("GET", "/verify", {}, 200), ("POST", "/verify/receipt", {"receipt": "{"}, 200),
             ("POST", "/verify/receipt", {"receipt": '{"bid_id": "x", "signature": "AAAA"}'}, 200),
             ("GET", f"/tenders/{uuid.uuid4()}", {}, 404), ("GET", "/no-such-page", {}, 404),
             ("GET", "/datos-abiertos", {}, 200),
             ("GET", "/tenders?limit=2&offset=2", {}, 200), ("GET", "/tenders?offset=9999", {}, 200)]
    pages += [("GET", f"/tenders/{t['id']}", {}, 200) for t in tenders]
    pages += [("GET", f"/agencies/{a['id']}", {}, 200) for a in agencies]
    pages += [("GET", f"/suppliers/{s['id']}", {}, 200) for s in suppliers]
    return pages


@pytest.mark.parametrize(("lang", "sources"), [("qu", ("es", "en")), ("en", ("es",))])
async def test_pages_in_quechua_and_english_show_no_spanish_interface_string(site, lang, sources):
    """In Quechua, no English string either (the msgids, shown when a translation is missing in every
    language)."""
    checker = Checker(lang, await data_values(), sources)
    assert len(checker.strings) > 300 * len(sources)  # the catalogues' strings, less what both say alike
    pages = await _pages(site)
    assert len(pages) > 30
    problems = []
    for method, path, form, status in pages:
        url = f"{path}{'&' if '?' in path else '?'}lang={lang}"
        r = await site.request(method, url, data=form or None, headers={"Accept": "text/html"})
        assert r.status_code == status, (path, r.status_code, r.text[:500])
        assert r.headers["content-type"].startswith("text/html")
        problems += [f"{path}: {p}" for p in checker.foreign_in(r.text)]
    assert not problems, f"Other languages' interface strings on pages in {lang}:\n" + "\n".join(problems)


async def test_the_check_sees_a_spanish_string_and_knows_data_from_interface():
    """The checker itself: an untranslated label is found; the same words inside a data value are not."""
    checker = Checker("qu", ["Cuadro de evaluación del puente de Pisac"])
    html = ('<html lang="qu-PE"><body><h2>Cuadro de evaluación, ítem 2</h2>'
            '<p>Cuadro de evaluación del puente de Pisac</p><a lang="es" href="/language/es">Español</a>'
            '<input placeholder="p. ej. papel, laptop, combustible"></body></html>')
    found = checker.foreign_in(html)
    assert len(found) == 2 and "Score sheet, lot {n}" in found[0] and "e.g. paper" in found[1], found

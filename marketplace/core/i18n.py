"""Languages: Spanish (Peru) first, English, and Quechua (Southern Quechua, Cusco-Collao written standard).

Message ids are English source strings with `{name}` placeholders; catalogues live in
`marketplace/core/locale/<lang>/LC_MESSAGES/messages.po` (gettext, managed with pybabel: `make messages`).
They are read with babel straight from the .po files, once per process, on first use: nothing has to be
compiled for the application to speak (the .mo files `make messages` writes are a check, not an input).
Every language has every message (tests/portal/test_catalogues.py); should one be missing all the same, the
text falls back to Spanish, then to the English msgid. Fuzzy entries are never used.

Plurals go through `ngettext` (and `N_plural` for messages raised now and translated later): each catalogue
says how many plural forms its language has and which one a number takes (the `Plural-Forms` header, as
CLDR gives them: Spanish 3, English 2, Quechua 1).
"""

from __future__ import annotations

import contextvars
import functools
import gettext as _gettext_module
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from babel import Locale
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
SUPPORTED = ("es", "en", "qu")
FALLBACK = "es"
SOURCE = "en"  # the language of the message ids
# The babel locale that formats numbers, dates and money for each language, and the page's `lang`.
BABEL_LOCALES = {"es": "es_PE", "en": "en", "qu": "qu_PE"}
LANGUAGE_TAGS = {"es": "es-PE", "en": "en", "qu": "qu-PE"}

_current: contextvars.ContextVar[str] = contextvars.ContextVar("locale", default=FALLBACK)


class Plural(NamedTuple):
    """A message with plural forms, marked for extraction (`N_plural`) and translated when shown: the form
    is chosen by the number in the parameter named `by`."""

    singular: str
    plural: str
    by: str = "n"


def N_plural(singular: str, plural: str, by: str = "n") -> Plural:
    """Mark a message with plural forms for extraction without translating it now
    (`pybabel extract -k N_plural:1,2`); `by` names the parameter whose number picks the form."""
    return Plural(singular, plural, by)


@dataclass(frozen=True)
class Catalogue:
    """One language's translations: singular messages, plural messages (by their singular id) with all
    their forms, and the rule that picks a plural form for a number."""

    lang: str
    messages: dict[str, str] = field(default_factory=dict)
    plurals: dict[str, tuple[str, ...]] = field(default_factory=dict)
    nplurals: int = 2
    plural_index: Callable[[int], int] = field(default=lambda n: int(n != 1))


@functools.cache
def catalogue(lang: str) -> Catalogue:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return Catalogue(lang)
    with path.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    messages: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    for m in cat:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, str):
            if isinstance(m.string, str) and m.string:
                messages[m.id] = m.string
        elif isinstance(m.string, (tuple, list)) and all(m.string):
            plurals[m.id[0]] = tuple(m.string)
    # gettext's own reading of the Plural-Forms expression (the C-like one of the header), as Python's
    # GNUTranslations does
    index = _gettext_module.c2py(cat.plural_expr)
    return Catalogue(lang, messages, plurals, cat.num_plurals, index)


def catalog(lang: str) -> dict[str, str]:
    """msgid -> translation for the singular messages of `lang`."""
    return catalogue(lang).messages


def language(locale: str | None) -> str:
    """'es_PE', 'es-PE', 'qu', 'en_US' -> a supported language code."""
    if not locale:
        return FALLBACK
    lang = locale.replace("-", "_").split("_", 1)[0].lower()
    return lang if lang in SUPPORTED else FALLBACK


def negotiate(accept_language: str | None, default: str = "es_PE") -> str:
    """Pick a supported language from an Accept-Language header (q-values honoured)."""
    if not accept_language:
        return language(default)
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip()))
    for negq, _, tag in sorted(ranked):
        if negq == 0:
            continue
        lang = tag.replace("-", "_").split("_", 1)[0].lower()
        if lang in SUPPORTED:
            return lang
    return language(default)


def choose(*, query: str | None, cookie: str | None, accept_language: str | None, default: str) -> str:
    """The caller's language: ?lang= first, then the `lang` cookie (the portal's switch), then the
    Accept-Language header, then the DEFAULT_LOCALE setting."""
    lang = query or cookie
    return language(lang) if lang else negotiate(accept_language, default)


def set_language(lang: str) -> contextvars.Token[str]:
    return _current.set(language(lang))


def current_language() -> str:
    return _current.get()


def language_tag(lang: str | None = None) -> str:
    """The BCP 47 tag of a language as pages and responses name it: 'es-PE', 'en', 'qu-PE'."""
    return LANGUAGE_TAGS.get(lang or current_language(), LANGUAGE_TAGS[FALLBACK])


def babel_locale(lang: str | None = None) -> Locale:
    lang = lang or current_language()
    return Locale.parse(BABEL_LOCALES.get(lang, BABEL_LOCALES[FALLBACK]))


def _fill(text: str, source: str, params: dict[str, object]) -> str:
    if not params:
        return text
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        return source.format(**params)


def gettext(msgid: str | Plural, lang: str | None = None, **params: object) -> str:
    """Translate `msgid` into `lang` (default: the request's language) and fill its placeholders. A `Plural`
    (from N_plural) takes its form from the parameter it names."""
    if isinstance(msgid, Plural):
        number = params.get(msgid.by, 0)
        return ngettext(msgid.singular, msgid.plural, number if isinstance(number, int) else 0, lang, **params)
    lang = lang or current_language()
    # Message ids are English: English falls back to the msgid; other languages fall back to Spanish.
    text = catalog(lang).get(msgid) or (None if lang == SOURCE else catalog(FALLBACK).get(msgid)) or msgid
    return _fill(text, msgid, params)


def ngettext(singular: str, plural: str, number: int, lang: str | None = None, /, **params: object) -> str:
    """The form of a message for `number` in `lang` (default: the request's language), placeholders filled;
    `{n}` is the number unless given (pass it formatted for the reader: `n=format_decimal(number)`)."""
    lang = lang or current_language()
    params.setdefault("n", number)
    source = singular if number == 1 else plural
    for code in (lang, None if lang == SOURCE else FALLBACK):
        if code is None:
            continue
        cat = catalogue(code)
        forms = cat.plurals.get(singular)
        if forms:
            i = cat.plural_index(abs(int(number)))
            return _fill(forms[i] if 0 <= i < len(forms) else forms[-1], source, params)
    return _fill(source, source, params)


_ = gettext


def N_(msgid: str) -> str:
    """Mark a string for extraction without translating it now."""
    return msgid

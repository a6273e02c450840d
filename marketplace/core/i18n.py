"""Languages: Spanish (Peru) first, English, and Quechua where translated.

Message ids are English source strings with `{name}` placeholders; catalogues live in
`marketplace/core/locale/<lang>/LC_MESSAGES/messages.po` (gettext, managed with pybabel). They are read with
babel once per process, on first use. A missing translation falls back to Spanish, then to the msgid.
"""

from __future__ import annotations

import contextvars
import functools
from pathlib import Path

from babel import Locale
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
SUPPORTED = ("es", "en", "qu")
FALLBACK = "es"
SOURCE = "en"  # the language of the message ids

_current: contextvars.ContextVar[str] = contextvars.ContextVar("locale", default=FALLBACK)


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    return {m.id: m.string for m in cat if m.id and isinstance(m.id, str) and m.string}


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


def set_language(lang: str) -> contextvars.Token:
    return _current.set(language(lang))


def current_language() -> str:
    return _current.get()


def babel_locale(lang: str | None = None) -> Locale:
    lang = lang or current_language()
    return Locale.parse({"es": "es_PE", "en": "en", "qu": "qu_PE"}.get(lang, "es_PE"))


def gettext(msgid: str, lang: str | None = None, **params: object) -> str:
    """Translate `msgid` into `lang` (default: the request's language) and fill its placeholders."""
    lang = lang or current_language()
    # Message ids are English: English needs no catalogue entry; other languages fall back to Spanish.
    text = catalog(lang).get(msgid) or (None if lang == SOURCE else catalog(FALLBACK).get(msgid)) or msgid
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return msgid.format(**params)
    return text


_ = gettext


def N_(msgid: str) -> str:
    """Mark a string for extraction without translating it now."""
    return msgid

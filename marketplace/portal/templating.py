"""The portal's Jinja environment: templates/, the catalogues' gettext, and babel's formatting filters."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from marketplace.core import geo, i18n
from marketplace.portal import formatting, labels

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

LANGUAGES = (("es", "Español"), ("en", "English"), ("qu", "Runasimi"))


def _gettext(msgid: str, **params: Any) -> str:
    return i18n.gettext(msgid, **params)


def _ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    """`ngettext("{n} tender found.", "{n} tenders found.", total)`: the form for `total`, whose `{n}` is
    the number as the reader's language writes it (pass `n=` to show something else)."""
    params.setdefault("n", formatting.number(n))
    return i18n.ngettext(singular, plural, n, **params)


@functools.cache
def _fingerprint(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """The address of a static file, fingerprinted with its content ('/static/portal.css?v=3f2a...'): cached
    for a year, and a changed file gets a new address."""
    return f"/static/{name}?v={_fingerprint(name)}"


@functools.cache
def _places() -> list[dict[str, Any]]:
    """Regions with their provinces, for the place selector (local first)."""
    return [{"code": r.ubigeo, "name": r.display_name,
             "provinces": [{"code": p.ubigeo, "name": p.display_name} for p in geo.provinces(r.code)]}
            for r in geo.regions()]


def configure(engine: JinjaTemplateEngine) -> None:
    env = engine.engine
    env.globals.update(
        _=_gettext, gettext=_gettext, ngettext=_ngettext, label=labels.label, options=labels.options,
        languages=LANGUAGES, current_language=i18n.current_language, language_tag=i18n.language_tag,
        places=_places, regions=geo.regions, flag_definitions=labels.FLAG_DEFINITIONS,
        region_name=formatting.region_name, place=formatting.place, static=static_url,
    )
    env.filters.update(money=formatting.money, when=formatting.when, day=formatting.day,
                       number=formatting.number, percent=formatting.percent, iso=formatting.iso,
                       ocds_money=formatting.ocds_money, duration=formatting.duration,
                       filesize=formatting.filesize, month=formatting.month, days=formatting.days,
                       linkify=formatting.linkify)
    env.trim_blocks = True
    env.lstrip_blocks = True


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=configure)

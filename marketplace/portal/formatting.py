"""How the portal shows numbers, money and dates in the reader's language (babel, America/Lima)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_skeleton
from babel.numbers import (
    format_compact_currency,
    format_currency,
    format_decimal,
    format_percent,
    get_currency_precision,
    list_currencies,
)
from babel.units import format_unit
from markupsafe import Markup, escape

from marketplace.core import geo, i18n
from marketplace.core.money import Money

LIMA = ZoneInfo("America/Lima")
_CURRENCIES = frozenset(list_currencies())


def _locale() -> Any:
    return i18n.babel_locale()


def money(cents: int | Money | dict[str, Any] | None, currency: str = "PEN") -> str:
    """Céntimos as soles in the reader's locale: 'S/ 1,234.50' (es-PE and qu-PE), 'S/ 1,234.50' (en). A Money
    object (as the API schemas give amounts) carries its own currency."""
    if isinstance(cents, Money):
        return money(cents.amount, cents.currency)
    if isinstance(cents, dict):  # Money as JSON (a score sheet's amounts)
        return money(cents.get("amount"), cents.get("currency") or currency)
    if cents is None or not isinstance(cents, (int, Decimal)):
        return "—"
    currency = (currency or "PEN").strip()
    # Minor units of the currency: céntimos for PEN; whole units for imported PYG or COP (babel's precision).
    amount = Decimal(int(cents)).scaleb(-(get_currency_precision(currency) if currency in _CURRENCIES else 2))
    text = format_currency(amount, currency, locale=_locale())
    if currency == "PEN" and "S/" not in text:  # English has no symbol of its own for the sol
        text = text.replace("PEN", "S/\xa0")
    return text


def number(value: Any, digits: int | None = None) -> str:
    if value is None:
        return "—"
    if digits is not None:
        return format_decimal(value, format="#,##0." + "0" * digits if digits else "#,##0", locale=_locale())
    return format_decimal(value, locale=_locale())


def percent(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    return format_percent(value, format="#,##0." + "0" * digits + "%" if digits else "#,##0%", locale=_locale())


def money_short(cents: float | None) -> str:
    """A compact amount for chart axes and legends: 'S/ 1.2 M'."""
    if cents is None:
        return "—"
    text = format_compact_currency(Decimal(int(cents)).scaleb(-2), "PEN", locale=_locale(), fraction_digits=1)
    # one spelling of the symbol in every locale and size: CLDR writes "S/750 k" but "S/ 1 M" in es
    return re.sub(r"(PEN|S/)\s*", "S/\xa0", text)


def when(value: datetime | str | None, fmt: str | None = None) -> str:
    """An aware datetime shown in Lima's time in the reader's locale: '1 dic. 2026, 9:38 a. m.'."""
    if not value:  # None, "" or a template's Undefined
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if fmt:
        return format_datetime(value, fmt, tzinfo=LIMA, locale=_locale())
    loc = _locale()
    return (format_skeleton("yMMMd", value, tzinfo=LIMA, locale=loc, fuzzy=True) + ", "
            + format_skeleton("hm", value, tzinfo=LIMA, locale=loc, fuzzy=True))


def duration(seconds: int | float | None) -> str:
    """A length of time in words in the reader's locale: 900 -> '15 minutos', 750 -> '12 minutos 30 segundos'."""
    if seconds is None:
        return "—"
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [format_unit(n, unit, length="long", locale=_locale())
             for n, unit in ((hours, "duration-hour"), (minutes, "duration-minute"), (secs, "duration-second")) if n]
    return " ".join(parts) or format_unit(0, "duration-second", length="long", locale=_locale())


def month(key: str, fmt: str = "LLL") -> str:
    """A 'YYYY-MM' month in the reader's language: 'oct.' (LLL), or 'octubre de 2026' (fmt='yMMMM')."""
    d = date(int(key[:4]), int(key[5:7]), 1)
    if fmt == "LLL":
        return format_date(d, "LLL", locale=_locale())
    return format_skeleton(fmt, d, locale=_locale())


def days(value: float | None) -> str:
    """A number of days in words, one decimal: '8.0 días', '1.5 days'."""
    if value is None:
        return "—"
    return format_unit(value, "duration-day", length="long", format="#,##0.0", locale=_locale())


def countdown(seconds: float | None) -> str:
    """Time left in words, to the hour when days are left, to the minute within a day: '2 días 3 horas',
    '5 hours 20 minutes', '12 minutos'."""
    if seconds is None:
        return "—"
    total = max(0, int(seconds))
    d, rest = divmod(total, 86_400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    loc = _locale()
    parts = ([(d, "duration-day"), (h, "duration-hour")] if d else
             [(h, "duration-hour"), (m, "duration-minute")] if h else [(max(m, 1), "duration-minute")])
    return " ".join(format_unit(n, unit, length="long", locale=loc) for n, unit in parts if n)


def day(value: datetime | date | str | None, fmt: str = "medium") -> str:
    if not value:  # None, "" or a template's Undefined
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        value = value.astimezone(LIMA).date()
    return format_date(value, fmt, locale=_locale())


def iso(value: datetime | str | None) -> str:
    if not value:
        return ""
    return value if isinstance(value, str) else value.isoformat()


def place(ubigeo: str | None) -> str:
    """'080101' -> 'Cusco, Cusco, Cusco' (district, province, region) as far as known."""
    if not ubigeo:
        return "—"
    code = str(ubigeo)
    parts: list[str] = []
    if len(code) == 6 and not code.endswith("00"):
        d = geo.district(code)
        if d:
            parts.append(d.display_name)
    if len(code) >= 4 and code[2:4] != "00":
        p = geo.province(code[:4])
        if p:
            parts.append(p.display_name)
    r = geo.region(code[:2])
    if r:
        parts.append(r.display_name)
    # "Cusco, Cusco, Cusco" (district, province and region of the same name) reads as "Cusco"
    unique = [p for i, p in enumerate(parts) if i == 0 or p != parts[i - 1]]
    return ", ".join(unique) or code


def region_name(code: str | None) -> str:
    r = geo.region(str(code)[:2]) if code else None
    return r.display_name if r else (code or "—")


def ocds_money(value: dict[str, Any] | None) -> str:
    """An OCDS Value ({"amount": soles, "currency": "PEN"}) shown like any other amount."""
    if not value or value.get("amount") is None:
        return "—"
    return money(int(Decimal(str(value["amount"])).scaleb(2)), value.get("currency") or "PEN")


_URL = re.compile(r"(https?://[^\s<>\"']*[^\s<>\"'.,;:)]|/(?:api|ocds|schema)[^\s<>\"']*[^\s<>\"'.,;:)])")


def linkify(text: str) -> Markup:
    """Text with its addresses (http(s) URLs and the site's /api, /ocds, /schema paths) made links, the rest
    escaped."""
    out, last = [], 0
    for m in _URL.finditer(str(text)):
        out.append(escape(str(text)[last:m.start()]))
        url = escape(m.group(0))
        out.append(Markup(f'<a href="{url}">{url}</a>'))
        last = m.end()
    out.append(escape(str(text)[last:]))
    return Markup("").join(out)


def filesize(size: int | None) -> str:
    """A file's size in the reader's locale: '850 byte', '12.3 kB', '1.5 MB' (1 kB = 1024 bytes here)."""
    if size is None:
        return "—"
    loc = _locale()
    if size < 1024:
        return format_unit(size, "digital-byte", length="short", locale=loc)
    if size < 1024 * 1024:
        return format_unit(round(size / 1024, 1), "digital-kilobyte", length="short", locale=loc)
    return format_unit(round(size / (1024 * 1024), 1), "digital-megabyte", length="short", locale=loc)

"""Small server-side SVG charts: bars over time, horizontal bars, and a choropleth of Peru's regions.

Every SVG chart is named by a <title> and a <desc> (role "img", or "group" for the map whose regions are
links), and the figures it shows are also in a table next to it on the page (a chart is never the only way to
read a number); horizontal bars are plain HTML lists, text in themselves. The page shows each chart's title
and unit in a <figcaption> outside the drawing. No JavaScript.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

from marketplace.core import geo

# A sequential palette (ColorBrewer Blues, 5 classes); the darkest three carry white labels.
PALETTE = ("#deebf7", "#9ecae1", "#6baed6", "#3182bd", "#08519c")
EMPTY = "#f2f2f2"
BAR = "#1f5f99"
TEXT = "#1a1a1a"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _svg(width: int, height: int, title: str, desc: str, body: str, ident: str, role: str = "img") -> Markup:
    """An SVG chart named by its <title> and <desc>. `role` "img" for a picture; "group" when it holds links
    (an image's content is hidden from assistive technology, so links inside role="img" would be lost)."""
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="chart" role="{role}"'
        f' aria-labelledby="{ident}-t" aria-describedby="{ident}-d" preserveAspectRatio="xMidYMid meet"'
        f' id="{ident}"><title id="{ident}-t">{_e(title)}</title><desc id="{ident}-d">{_e(desc)}</desc>{body}</svg>')


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def _bars_svg(points: Sequence[tuple[str, float]], *, title: str, desc: str, fmt: Callable[[float], str],
              ident: str, width: int, height: int, font: int, max_labels: int,
              years: Sequence[str] | None = None) -> Markup:
    left, right, top, bottom = 6 + font * 6, 8, font, font * 3 + 8
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((v for _, v in points), default=0))
    parts: list[str] = []
    for i in range(5):
        v = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d0d0"/>'
                     f'<text x="{left - 6}" y="{y + font / 3:.1f}" text-anchor="end" font-size="{font}" fill="{TEXT}">'
                     f'{_e(fmt(v))}</text>')
    n = max(len(points), 1)
    slot = plot_w / n
    bar_w = max(min(slot * 0.7, 48), 2)
    every = max(1, math.ceil(n / max_labels))
    for i, (label, value) in enumerate(points):
        h = plot_h * (value / top_value) if top_value else 0
        x = left + slot * i + (slot - bar_w) / 2
        y = top + plot_h - h
        year = years[i] if years else ""
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{BAR}">'
                     f'<title>{_e(label)} {_e(year)}: {_e(fmt(value))}</title></rect>')
        if i % every == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + font + 4}" text-anchor="middle"'
                         f' font-size="{font}" fill="{TEXT}">{_e(label)}</text>')
            if years and (i == 0 or years[i] != years[i - every]):
                parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 2 * font + 6}" text-anchor="middle"'
                             f' font-size="{font}" fill="{TEXT}">{_e(year)}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{TEXT}"/>')
    return _svg(width, height, title, desc, "".join(parts), ident)


def bars(points: Sequence[tuple[str, float]], *, title: str, desc: str, fmt: Callable[[float], str],
         ident: str = "bars", years: Sequence[str] | None = None) -> Markup:
    """Vertical bars, one per label (e.g. a month, with its year under the first bar of each year), with a
    labelled y axis. Drawn twice: wide for a desktop, narrow with larger text for a phone (the stylesheet
    shows one), so that text is never below 12 px on a 390 px screen."""
    wide = _bars_svg(points, title=title, desc=desc, fmt=fmt, ident=ident, width=640, height=260, font=12,
                     max_labels=12, years=years)
    narrow = _bars_svg(points, title=title, desc=desc, fmt=fmt, ident=ident + "-n", width=340, height=240,
                       font=13, max_labels=6, years=years)
    return Markup(f'<div class="chart-wide">{wide}</div><div class="chart-narrow">{narrow}</div>')


def hbars(rows: Sequence[tuple[str, float, str]], *, title: str, desc: str, ident: str = "hbars",
          max_value: float | None = None, muted: Sequence[bool] | None = None) -> Markup:
    """Horizontal bars as HTML, not SVG: (label, value, shown value) per row, in the order given. Labels
    wrap instead of being cut, text keeps the page's size on any screen, and the list reads as text to a
    screen reader (it is its own data table). `title` names the list; `desc` is its description; a row
    `muted` is drawn grey (a figure with too small a sample)."""
    top_value = max_value or max((v for _, v, _ in rows), default=0) or 1
    items = []
    for i, (label, value, shown) in enumerate(rows):
        pct = max(0.0, min(100.0, 100 * value / top_value))
        grey = " muted" if muted and muted[i] else ""
        items.append(f'<li class="hbar-row{grey}"><span class="hbar-label">{_e(label)}</span>'
                     # The bar is an SVG rect, not a styled span: the CSP allows no inline style attribute.
                     f'<svg class="hbar-track" aria-hidden="true" focusable="false" viewBox="0 0 100 1"'
                     f' preserveAspectRatio="none"><rect class="hbar" width="{max(pct, 0.3):.1f}" height="1"/></svg>'
                     f'<span class="hbar-value">{_e(shown)}</span></li>')
    return Markup(f'<ol class="hbars" id="{_e(ident)}" aria-label="{_e(title)}" aria-describedby="{_e(ident)}-d">'
                  f'{"".join(items)}</ol><p class="visually-hidden" id="{_e(ident)}-d">{_e(desc)}</p>')


# --- the map ----------------------------------------------------------------------------------------------

_W, _H = 420, 560


@functools.cache
def _region_paths() -> dict[str, str]:
    """Each region's polygons as an SVG path in a 420 x 560 box (equirectangular, scaled by cos(latitude)
    at Peru's middle), points closer than half a pixel dropped."""
    with open(geo.geojson_path(), encoding="utf-8") as fh:
        data = json.load(fh)
    polys: dict[str, list[list[list[float]]]] = {}
    lon_min = lat_min = math.inf
    lon_max = lat_max = -math.inf
    for f in data["features"]:
        code = str(f["properties"]["FIRST_IDDP"]).zfill(2)
        g = f["geometry"]
        rings = [ring for poly in ([g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"])
                 for ring in poly]
        polys.setdefault(code, []).extend(rings)
        for ring in rings:
            for lon, lat, *_ in ring:
                lon_min, lon_max = min(lon_min, lon), max(lon_max, lon)
                lat_min, lat_max = min(lat_min, lat), max(lat_max, lat)
    k = math.cos(math.radians((lat_min + lat_max) / 2))
    scale = min((_W - 8) / ((lon_max - lon_min) * k), (_H - 8) / (lat_max - lat_min))
    out: dict[str, str] = {}
    for code, rings in polys.items():
        d: list[str] = []
        for ring in rings:
            pts: list[tuple[float, float]] = []
            for lon, lat, *_ in ring:
                x = 4 + (lon - lon_min) * k * scale
                y = 4 + (lat_max - lat) * scale
                if pts and abs(pts[-1][0] - x) < 0.5 and abs(pts[-1][1] - y) < 0.5:
                    continue
                pts.append((x, y))
            if len(pts) >= 3:
                d.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "Z")
        out[code] = "".join(d)
    return out


def classes(values: Sequence[float], n: int = len(PALETTE)) -> list[float]:
    """Upper bounds of `n` equal-interval classes over (0, max]."""
    top = max(values, default=0)
    return [top * (i + 1) / n for i in range(n)] if top > 0 else []


def colour(value: float | None, bounds: Sequence[float]) -> str:
    if not value or not bounds:
        return EMPTY
    for i, b in enumerate(bounds):
        if value <= b:
            return PALETTE[i]
    return PALETTE[-1]


def peru_map(values: dict[str, float], *, title: str, desc: str, fmt: Callable[[float], str],
             link: Callable[[str], str] | None = None, ident: str = "map", no_data: str = "—") -> Markup:
    """A choropleth of Peru's 25 regions: `values` by 2-digit region code; each region is a link (when
    `link` is given) with its name and value as a tooltip, and a legend of the classes."""
    bounds = classes([v for v in values.values() if v])
    parts = ['<g stroke="#6f6f6f" stroke-width="0.6" stroke-linejoin="round">']
    for code, d in sorted(_region_paths().items()):
        r = geo.region(code)
        name = r.display_name if r else code
        v = values.get(code)
        label = f"{name}: {fmt(v) if v else no_data}"
        shape = f'<path d="{d}" fill="{colour(v, bounds)}"><title>{_e(label)}</title></path>'
        if link:
            parts.append(f'<a href="{_e(link(code))}" aria-label="{_e(label)}">{shape}</a>')
        else:
            parts.append(shape)
    parts.append("</g>")
    # legend, bottom left (the Pacific)
    y0 = _H - 24 * (len(bounds) + 1) - 8
    lower = 0.0
    for i, b in enumerate(bounds):
        y = y0 + i * 24
        parts.append(f'<rect x="10" y="{y}" width="18" height="18" fill="{PALETTE[i]}" stroke="#888"/>'
                     f'<text x="34" y="{y + 14}" font-size="15" fill="{TEXT}">{_e(fmt(lower))} – {_e(fmt(b))}</text>')
        lower = b
    y = y0 + len(bounds) * 24
    parts.append(f'<rect x="10" y="{y}" width="18" height="18" fill="{EMPTY}" stroke="#888"/>'
                 f'<text x="34" y="{y + 14}" font-size="15" fill="{TEXT}">{_e(no_data)}</text>')
    return _svg(_W, _H, title, desc, "".join(parts), ident, role="group" if link else "img")

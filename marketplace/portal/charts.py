"""Small server-side SVG charts: bars over time, horizontal bars, and a choropleth of Peru's regions.

Every chart is an accessible `<svg role="img">` with a <title> and a <desc>, and the figures it shows are
also in a table next to it on the page (a chart is never the only way to read a number). No JavaScript.
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


def _svg(width: int, height: int, title: str, desc: str, body: str, ident: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="chart" role="img"'
        f' aria-labelledby="{ident}-t {ident}-d" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{ident}-t">{_e(title)}</title><desc id="{ident}-d">{_e(desc)}</desc>{body}</svg>')


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def bars(points: Sequence[tuple[str, float]], *, title: str, desc: str, fmt: Callable[[float], str],
         ident: str = "bars", width: int = 640, height: int = 260) -> Markup:
    """Vertical bars, one per label (e.g. a month), with a labelled y axis."""
    left, right, top, bottom = 92, 12, 14, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((v for _, v in points), default=0))
    parts: list[str] = []
    for i in range(5):
        v = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d0d0"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{TEXT}">'
                     f'{_e(fmt(v))}</text>')
    n = max(len(points), 1)
    slot = plot_w / n
    bar_w = max(min(slot * 0.7, 48), 2)
    every = max(1, math.ceil(n / 12))
    for i, (label, value) in enumerate(points):
        h = plot_h * (value / top_value) if top_value else 0
        x = left + slot * i + (slot - bar_w) / 2
        y = top + plot_h - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{BAR}">'
                     f'<title>{_e(label)}: {_e(fmt(value))}</title></rect>')
        if i % every == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle"'
                         f' font-size="11" fill="{TEXT}">{_e(label)}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{TEXT}"/>')
    return _svg(width, height, title, desc, "".join(parts), ident)


def hbars(rows: Sequence[tuple[str, float, str]], *, title: str, desc: str, ident: str = "hbars",
          width: int = 560, row_h: int = 28, label_w: int = 210, max_value: float | None = None) -> Markup:
    """Horizontal bars: (label, value, shown value) per row, largest scale first as given."""
    height = max(len(rows), 1) * row_h + 8
    top_value = max_value or max((v for _, v, _ in rows), default=0) or 1
    plot_w = width - label_w - 120
    parts: list[str] = []
    for i, (label, value, shown) in enumerate(rows):
        y = 4 + i * row_h
        w = max(plot_w * (value / top_value), 1 if value else 0)
        short = label if len(label) <= 28 else label[:27] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + row_h * 0.65:.1f}" text-anchor="end" font-size="13"'
                     f' fill="{TEXT}">{_e(short)}</text>'
                     f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{BAR}">'
                     f'<title>{_e(label)}: {_e(shown)}</title></rect>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + row_h * 0.65:.1f}" font-size="13" fill="{TEXT}">'
                     f'{_e(shown)}</text>')
    return _svg(width, height, title, desc, "".join(parts), ident)


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
                     f'<text x="34" y="{y + 14}" font-size="13" fill="{TEXT}">{_e(fmt(lower))} – {_e(fmt(b))}</text>')
        lower = b
    y = y0 + len(bounds) * 24
    parts.append(f'<rect x="10" y="{y}" width="18" height="18" fill="{EMPTY}" stroke="#888"/>'
                 f'<text x="34" y="{y + 14}" font-size="13" fill="{TEXT}">{_e(no_data)}</text>')
    return _svg(_W, _H, title, desc, "".join(parts), ident)

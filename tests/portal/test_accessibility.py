"""The portal's colours meet WCAG 2.1 AA contrast (4.5:1 for text), read from the stylesheet itself."""

from __future__ import annotations

import re

import pytest

from marketplace.portal import charts
from marketplace.portal.templating import STATIC

CSS = (STATIC / "portal.css").read_text(encoding="utf-8")
VARS = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", CSS))


def _lum(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_lum(a), _lum(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _c(name: str) -> str:
    return VARS[name] if not name.startswith("#") else name


@pytest.mark.parametrize(("fg", "bg"), [
    ("ink", "bg"), ("muted", "bg"), ("muted", "soft"), ("brand", "bg"), ("brand", "soft"), ("brand-dark", "bg"),
    ("#ffffff", "brand"), ("#ffffff", "brand-dark"), ("#ffffff", "ink"),  # header, buttons, skip link
    ("ok", "#e3f2e8"), ("warn", "#fff3d6"), ("bad", "#fbe3e4"), ("ink", "soft"),  # badges and notices
    (charts.TEXT, "#ffffff"), (charts.BAR, "#ffffff"),  # chart labels and bars
])
def test_text_colours_meet_aa_contrast(fg, bg):
    assert contrast(_c(fg), _c(bg)) >= 4.5, (fg, bg, round(contrast(_c(fg), _c(bg)), 2))


def test_the_focus_ring_stands_out_on_light_and_dark_backgrounds():
    # a yellow ring with a dark halo: one of the two is visible against any background (3:1 for UI parts)
    assert contrast(VARS["focus"], VARS["brand-dark"]) >= 3
    assert contrast(VARS["ink"], VARS["bg"]) >= 3
    assert ":focus-visible" in CSS and ".skip-link:focus" in CSS


def test_the_map_draws_every_region_with_a_name_and_a_link():
    svg = str(charts.peru_map({"08": 100.0, "15": 50.0}, title="t", desc="d", fmt=str, link=lambda c: f"/r/{c}"))
    assert svg.count("<path") == 25 and svg.count('<a href="/r/') == 25
    assert "Cusco: 100.0" in svg and "Lima: 50.0" in svg and "Amazonas: —" in svg
    assert charts.PALETTE[-1] in svg  # the largest value gets the darkest class

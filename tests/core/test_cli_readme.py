"""README stays true: every setting is documented, and the quick start is two commands."""

from __future__ import annotations

import re
from pathlib import Path

from marketplace.settings import variables

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _settings_table() -> dict[str, tuple[str, str]]:
    """README's settings table: variable -> (default, meaning), backticks removed."""
    section = README.split("\n## Settings", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| (.*?) \| (.*) \|$", section, flags=re.M)
    assert len(rows) == len({name for name, _, _ in rows}), "a variable is listed twice"
    return {name: (default.replace("`", ""), meaning) for name, default, meaning in rows}


def test_the_readme_settings_table_lists_exactly_the_settings_with_their_defaults():
    table = _settings_table()
    fields = {v.name: v for v in variables()}
    assert set(fields) - set(table) == set(), "settings missing from README's table"
    assert set(table) - set(fields) == set(), "README's table lists variables Settings does not read"
    wrong = {name: (table[name][0], v.default_text()) for name, v in fields.items()
             if table[name][0] != v.default_text()}
    assert wrong == {}, "README default != Settings default"
    assert all(meaning.strip() for _, meaning in table.values())


def test_quick_start_is_two_commands():
    quick = README.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick.strip().splitlines()]
    assert commands == ["make run", "make test"]

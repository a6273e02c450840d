"""README stays true: every setting is documented, and the quick start is two commands."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from marketplace.settings import Keys, Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _settings_table() -> set[str]:
    section = README.split("\n## Settings", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z0-9_]+)` \|", section, flags=re.M))


def test_every_settings_field_is_in_the_readme_settings_table():
    documented = _settings_table()
    expected = set()
    for f in dataclasses.fields(Settings):
        if f.name == "keys":
            expected |= {k.upper() for k in (g.name for g in dataclasses.fields(Keys))}
        else:
            expected.add(f.name.upper())
    assert expected - documented == set()


def test_every_environment_variable_settings_reads_is_in_the_table():
    source = (ROOT / "marketplace" / "settings.py").read_text()
    read = set(re.findall(r'env\.get\("([A-Z0-9_]+)"', source))
    read |= set(re.findall(r'_(?:int|decimal)\(env, "([A-Z0-9_]+)"', source))
    assert read and read - _settings_table() == set()


def test_quick_start_is_two_commands():
    quick = README.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick.strip().splitlines()]
    assert commands == ["make run", "make test"]

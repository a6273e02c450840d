"""The layering rules that no linter states for us (issue 14, point 3).

import-linter (`make lint`, pyproject [tool.importlinter]) keeps the order of the domains. What it cannot see is
an import inside a function: a cycle broken that way hides a coupling the contract should have refused. An
import inside a function is allowed only with its reason written in a comment just above it (an optional
dependency, CLI start-up time, a cycle inside one package); this test names every one without.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("marketplace", "suppliers", "tenders", "search", "bench")


def undocumented_imports(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    tree = ast.parse("\n".join(lines), filename=str(path))
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.update(
                sub.lineno for sub in ast.walk(node) if isinstance(sub, ast.Import | ast.ImportFrom)
            )
    bad = []
    for lineno in sorted(found):
        if "#" in lines[lineno - 1]:
            continue
        # A comment above the block of imports this one belongs to (blank lines and other imports between).
        i = lineno - 2
        while i >= 0 and (not lines[i].strip() or lines[i].lstrip().startswith(("import ", "from ", ")"))
                          or lines[i].startswith(" " * 8) and lines[i].rstrip().endswith(",")):
            i -= 1
        if i >= 0 and lines[i].lstrip().startswith("#"):
            continue
        bad.append(f"{path.relative_to(ROOT)}:{lineno}: {lines[lineno - 1].strip()}")
    return bad


def test_every_import_inside_a_function_says_why() -> None:
    bad = [b for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py")) for b in undocumented_imports(p)]
    assert not bad, "imports inside functions without a comment saying why:\n" + "\n".join(bad)


def test_the_check_sees_an_undocumented_import(tmp_path: Path) -> None:
    global ROOT
    sample = tmp_path / "m.py"
    sample.write_text(
        "def f():\n    import json\n    return json\n\n"
        "def g():\n    # deferred: optional dependency\n    import csv\n    import io\n    return csv, io\n"
    )
    saved, ROOT = ROOT, tmp_path
    try:
        assert undocumented_imports(sample) == ["m.py:2: import json"]
    finally:
        ROOT = saved

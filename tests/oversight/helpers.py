"""Helpers for the oversight tests: the demo seed, draining the outbox, OCDS schema validation."""

from __future__ import annotations

import csv
import json
import os
import random
from functools import lru_cache
from pathlib import Path
from typing import Any

from marketplace import seed as seed_mod
from marketplace.core import db, outbox
from marketplace.oversight import jobs  # noqa: F401  (registers oversight's outbox consumers)
from tests import waiting

ROOT = Path(__file__).resolve().parents[2]


async def drain() -> None:
    """Deliver every pending outbox event to every consumer the worker registers (importing its job modules,
    as the worker does; contracts create contracts from consented awards, whose events oversight then
    publishes): loop until nothing moves."""
    from marketplace import worker

    worker.gather()

    async def settled() -> bool:
        results = await outbox.drain_all()
        if any(r.held_back or r.busy for r in results.values()):
            return False  # other sessions on the server hold the watermark back a moment
        return not any(r.passed for r in results.values())

    await waiting.until(settled, "every outbox consumer to be drained")


async def sync_red_flags(settings, *, fences: bool = False) -> int:
    """The red-flag read model's sync job (`oversight_redflags_sync`, run as the worker runs it) until it has
    read every compiled release committed so far (the feed's watermark may wait for other test runs'
    transactions on the shared server); with `fences`, then one population pass. Returns the processes it
    evaluated."""
    from marketplace import worker
    from marketplace.oversight.redflags import readmodel

    total = 0

    async def caught_up() -> bool:
        nonlocal total
        total += await worker.run_job("oversight_redflags_sync", {"settings": settings})
        row = await db.fetchrow(
            "SELECT NOT EXISTS (SELECT 1 FROM ocds_compiled c WHERE (c.txid, c.seq) > coalesce((SELECT"
            " (last_txid::text::xid8, last_seq) FROM redflag_feed), ('0'::xid8, 0::bigint))) AS done")
        return bool(row and row["done"])

    await waiting.until(caught_up, "the red-flag sync to read the compiled releases")
    if fences:
        async with db.unit_of_work():
            await readmodel.refresh_population(settings, force=True)
    return total


async def seed_demo(settings) -> seed_mod.Demo:
    demo = seed_mod.Demo(rng=random.Random(seed_mod.DEFAULT_SEED))
    demo.extra["settings"] = settings
    async with db.unit_of_work():
        with seed_mod._hash_demo_password_once():
            for ref in seed_mod.SEEDERS:
                await seed_mod._load(ref)(demo)
    return demo


# --- OCDS schema ----------------------------------------------------------------------------------------

def schema_dir() -> Path | None:
    given = os.environ.get("OCDS_SCHEMA_DIR")
    for candidate in ([Path(given)] if given else []) + [ROOT.parent / "shared" / "ocds"]:
        if (candidate / "1.1" / "release-schema.json").exists():
            return candidate
    return None


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


@lru_cache(maxsize=1)
def schemas() -> dict[str, Any]:
    base = schema_dir()
    assert base is not None
    release = json.loads((base / "1.1" / "release-schema.json").read_text())
    for ext in ("lots", "bids"):
        release = merge_patch(release, json.loads((base / "extensions" / ext / "release-schema.json").read_text()))
    return {
        "release": release,
        "release-package": json.loads((base / "1.1" / "release-package-schema.json").read_text()),
        "record-package": json.loads((base / "1.1" / "record-package-schema.json").read_text()),
    }


@lru_cache(maxsize=1)
def codelists() -> dict[str, set[str]]:
    base = schema_dir()
    assert base is not None
    out: dict[str, set[str]] = {}
    for path in [*(base / "1.1" / "codelists").glob("*.csv"), *(base / "extensions").glob("*/codelists/*.csv")]:
        with path.open(newline="", encoding="utf-8") as fh:
            out.setdefault(path.name, set()).update(row["Code"] for row in csv.DictReader(fh))
    return out


def _validator(kind: str):
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    s = schemas()
    release = s["release"]
    registry = Registry().with_resources([
        (release["id"], Resource(contents=release, specification=DRAFT4)),
    ])
    schema = s[kind]
    cls = jsonschema.Draft4Validator
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)


def validate(kind: str, document: Any) -> list[str]:
    """Schema errors plus codelist errors (every field whose schema names a codelist), as messages."""
    doc = json.loads(json.dumps(document, default=str)) if not isinstance(document, (dict, list)) else document
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in _validator(kind).iter_errors(doc)]
    releases: list[Any] = []
    if kind == "release":
        releases = [doc]
    elif kind == "release-package":
        releases = doc.get("releases", [])
    elif kind == "record-package":
        for r in doc.get("records", []):
            releases += r.get("releases", [])
            if "compiledRelease" in r:
                releases.append(r["compiledRelease"])
    for rel in releases:
        errors += _codelist_errors(schemas()["release"], schemas()["release"], rel, "")
    return errors


def _resolve(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        node: Any = root
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
    return schema


def _codelist_errors(root: dict[str, Any], schema: dict[str, Any], value: Any, path: str) -> list[str]:
    schema = _resolve(root, schema)
    errors: list[str] = []
    codelist = schema.get("codelist")
    if codelist and value is not None:
        known = codelists().get(codelist)
        values = value if isinstance(value, list) else [value]
        for v in values:
            if known is not None and v not in known:
                errors.append(f"{path}: {v!r} is not in codelist {codelist}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for k, v in value.items():
            if k in props:
                errors += _codelist_errors(root, props[k], v, f"{path}/{k}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            errors += _codelist_errors(root, schema["items"], v, f"{path}/{i}")
    return errors

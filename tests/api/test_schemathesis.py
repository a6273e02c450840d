"""Bad input, as each role: schemathesis against the app's own OpenAPI document, with every check.

The schema is the app's `app.openapi_schema` (taken in the test, never at import time), written to a file;
the requests go to the real app served by uvicorn in a subprocess on the test database (the app's pool
belongs to its own process, so nothing shares an event loop with the tests). For every persona of
tests/harness.py (anonymous, officer, other officer, committee, bidder, auditor, platform admin) one
`st run` sends generated valid and invalid requests (examples, coverage, fuzzing and stateful phases,
following the schema's links), bounded by SCHEMATHESIS_EXAMPLES (default 4) and SCHEMATHESIS_MAX_TIME
seconds per persona so the pass fits CI. A failure is a 5xx, a response that does not match the
schema, or any other schemathesis check (see EXCLUDED_CHECKS for the two we do not run, and why).

    SCHEMATHESIS_EXAMPLES=25 python -m pytest -q tests/api/test_schemathesis.py   # a longer pass
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from bench.auction_live import LiveServer, server_env
from tests.harness import PERSONAS, personas
from tests.tenders import factories as tf

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "4"))
MAX_TIME = int(os.environ.get("SCHEMATHESIS_MAX_TIME", "25"))
# positive_data_acceptance: schema-valid input that a business rule refuses (a RUC whose check digit is
# wrong, a ubigeo that is not a district, a deadline in the past) is rightly a 422/409, not a failure.
# allow_header_conformance: Litestar 2.25's automatic OPTIONS handler lists only the methods of the first
# handler registered on a path (`OPTIONS /api/v1/catalogs` -> `Allow: OPTIONS, POST` though GET is served).
# (Every response is still checked for 5xx and against the schema.)
EXCLUDED_CHECKS = ["positive_data_acceptance", "allow_header_conformance"]
# Known schema mismatches, each with the file that can fix it; anything else fails the test.
KNOWN = {
    # documents application/json; answers text/csv or JSON Lines (and repeats "; charset=utf-8")
    ("GET /api/v1/oversight/awards/export", "ST105"): "marketplace/oversight/api.py export_awards",
    # `Response[bytes]` is documented as a JSON string; the body is an OCDS release package object
    ("GET /ocds/releases", "ST108"): "marketplace/oversight/api.py ocds_releases",
}
# The live auction's event stream never ends: a generated GET on it would hold the run until its timeout.
EXCLUDED_PATHS_REGEX = r"/events$"


def _st() -> str:
    exe = Path(sys.executable).parent / "st"
    return str(exe) if exe.exists() else (shutil.which("st") or "st")


async def _run(schema: Path, url: str, persona, report: Path) -> tuple[int, str]:
    args = [_st(), "run", str(schema), "--url", url, "--checks", "all",
            "--exclude-checks", ",".join(EXCLUDED_CHECKS), "--exclude-path-regex", EXCLUDED_PATHS_REGEX,
            "--max-examples", str(EXAMPLES), "--max-time", str(MAX_TIME), "--seed", "2026",
            "--request-timeout", "30", "--workers", "1", "--no-color", "--suppress-health-check", "all",
            "--generation-database", "none", "--report", "junit", "--report-junit-path", str(report),
            "--warnings", "off"]
    for k, v in persona.headers.items():
        args += ["-H", f"{k}: {v}"]
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace")


@pytest.mark.timeout(300 + 120 * len(PERSONAS))  # seven bounded `st run`s: ~3.5 min here, more on a busy machine
async def test_no_5xx_and_every_response_matches_the_schema_for_every_role(client, app, settings, tmp_path):
    p = await personas(settings, client)
    # something to find: a published tender of the owning agency with two lots
    officer = tf.long_lived(settings, await _login_of(settings, p.officer))
    await tf.published(client, officer, lots=2)

    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(app.openapi_schema.to_schema()))
    server = LiveServer(server_env(settings, DB_POOL_MIN="1", DB_POOL_MAX="5"),
                        log_path=tmp_path / "server.log")
    await server.start()
    results = {}
    try:
        for name in PERSONAS:
            results[name] = await _run(schema, server.url, p[name], tmp_path / f"{name}.xml")
    finally:
        server.stop()
    keep = os.environ.get("SCHEMATHESIS_OUT")  # a folder to keep every persona's full output in
    if keep:
        for name, (_, out) in results.items():
            Path(keep, f"{name}.txt").write_text(out)
    unexpected = {}
    for name, (code, out) in results.items():
        found = failures(out)
        new = {f for f in found if f[:2] not in KNOWN and not lax_conversion(f)}
        if new or (code != 0 and not found):  # a crash of the run itself counts too
            unexpected[name] = (sorted(new), out)
    assert not unexpected, "\n\n".join(f"===== as {name}: {new} =====\n{out[-8000:]}"
                                         for name, (new, out) in unexpected.items())


def failures(output: str) -> set[tuple[str, str, str]]:
    """(operation, check code, the "Invalid component" note or '') of every failure in `st run`'s report."""
    found, op, last = set(), None, None
    for line in output.splitlines():
        line = line.strip()
        m = re.match(r"^_+ (\S+ \S+) _+$", line)
        if m:
            op = m.group(1)
            continue
        m = re.match(r"^- (ST\d+) ", line)
        if m and op:
            last = (op, m.group(1), "")
            found.add(last)
            continue
        if line.startswith("Invalid component:") and last is not None:
            found.discard(last)
            last = (last[0], last[1], line)
            found.add(last)
    return found


def lax_conversion(failure: tuple[str, str, str]) -> bool:
    """A value of the wrong JSON type accepted (ST201 "Incorrect type"): Litestar converts query values and
    request bodies with msgspec's lax mode (`strict=False`, hard-coded in its signature model), so `0` is
    read as false and `?date_to=0.5` as a Unix timestamp. A framework-wide leniency, listed in
    bench/README.md; every other schema-violating request accepted (a missing field, a length, a pattern,
    an enum, an unknown field) still fails the test."""
    op, code, note = failure
    return code == "ST201" and note.endswith("Incorrect type")


async def _login_of(settings, persona):
    from tests.factories import Login

    return Login(user_id=persona.user_id, org_id=persona.org_id, kind=persona.kind, roles=persona.roles,
                 email=persona.email or "", token=persona.token or "")

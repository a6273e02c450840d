"""Stage times and stuck-tender alarms, from `tender_stage` (kept by the oversight.stages consumer from
tender.state_changed events) and, for imported processes, `ocds_stage_time` (from their compiled releases'
dates: ../projection.py).

* `stage_times()`: for each finished stage, p50 and p90 of its duration (days) per agency (or imported
  buyer), method and publisher.
* `raise_alarms()` (a cron job, idempotent): a tender still in a stage past STAGE_LIMIT_DAYS gets one
  `stage_alarm` per stage entry and one `agency_notification` to the responsible agency (unique dedupe
  keys: running the job twice notifies once); alarms whose tender has moved on are cleared.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import msgspec

from marketplace.core import clock, db
from marketplace.oversight import policy as policy_mod
from marketplace.oversight import reads

OWN_SLUG = "mercado-abierto"  # our processes' publisher (imports.service.OWN_SLUG)


async def stage_times(*, agency_id: UUID | None = None, method: str | None = None,
                      publisher: str | None = None) -> list[dict[str, Any]]:
    """p50 and p90 of each finished stage's duration (days) per agency and method: ours from `tender_stage`,
    imported processes' from `ocds_stage_time` (per publisher and buyer; projection.py)."""
    args: list[Any] = [sorted(policy_mod.TERMINAL), list(policy_mod.STAGES), OWN_SLUG]
    own = ["s.left_at IS NOT NULL", "s.stage <> ALL($1::text[])"]
    imported = ["TRUE"]
    if agency_id is not None:
        args.append(agency_id)
        own.append(f"s.agency_id = ${len(args)}")
        imported.append(f"i.agency_id = ${len(args)}")
    if method is not None:
        args.append(method)
        own.append(f"s.method = ${len(args)}")
        imported.append(f"i.method = ${len(args)}")
    if publisher is not None:
        args.append(publisher)
        own.append(f"$3 = ${len(args)}")
        imported.append(f"i.publisher = ${len(args)}")
    pct = ("percentile_cont({q}) WITHIN GROUP (ORDER BY extract(epoch FROM {t}.left_at - {t}.entered_at))")
    rows = await reads.fetch(
        "SELECT * FROM ("
        "  SELECT s.agency_id, min(o.name) AS agency_name, $3::text AS publisher, s.method::text AS method,"
        "         s.stage::text AS stage, count(*) AS count,"
        f"        {pct.format(q=0.5, t='s')} AS p50, {pct.format(q=0.9, t='s')} AS p90"
        "   FROM tender_stage s JOIN organisation o ON o.id = s.agency_id"
        f"  WHERE {' AND '.join(own)} GROUP BY s.agency_id, s.method, s.stage"
        "  UNION ALL"
        "  SELECT (array_agg(i.agency_id))[1], min(i.buyer_name), i.publisher, i.method::text, i.stage::text,"
        f"        count(*), {pct.format(q=0.5, t='i')}, {pct.format(q=0.9, t='i')}"
        "   FROM ocds_stage_time i"
        f"  WHERE {' AND '.join(imported)} GROUP BY i.publisher, i.buyer_id, i.method, i.stage) x"
        " ORDER BY x.publisher <> $3, x.publisher, x.agency_name, x.method,"
        "          array_position($2::text[], x.stage)", *args)
    for r in rows:
        r["p50_days"] = round(float(r.pop("p50")) / 86400, 3)
        r["p90_days"] = round(float(r.pop("p90")) / 86400, 3)
    return rows


async def stuck(settings: Any) -> list[dict[str, Any]]:
    """Tenders in a stage longer than its limit, right now (oldest first)."""
    p = policy_mod.of(settings)
    now = clock.now()
    out = []
    for stage, days in p.stage_limit_days.items():
        rows = await db.fetch(
            "SELECT s.tender_id, t.ocid, t.title, s.stage, s.entered_at, s.agency_id, o.name AS agency_name, s.method"
            " FROM tender_stage s JOIN tender t ON t.id = s.tender_id JOIN organisation o ON o.id = s.agency_id"
            " WHERE s.left_at IS NULL AND s.stage = $1 AND s.entered_at < $2 ORDER BY s.entered_at",
            stage, now - timedelta(days=days))
        for r in rows:
            r["limit_days"] = days
            r["days_in_stage"] = round((now - r["entered_at"]).total_seconds() / 86400, 2)
            out.append(r)
    out.sort(key=lambda r: r["entered_at"])
    return out


async def raise_alarms(settings: Any) -> int:
    """Record an alarm and notify the agency for each newly stuck tender; clear alarms of tenders that
    moved on. Runs in the current transaction. Returns how many alarms were raised."""
    now = clock.now()
    raised = 0
    for r in await stuck(settings):
        status = await db.execute(
            "INSERT INTO stage_alarm (tender_id, stage, entered_at, agency_id, limit_days, raised_at)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tender_id, stage, entered_at) DO NOTHING",
            r["tender_id"], r["stage"], r["entered_at"], r["agency_id"], r["limit_days"], now)
        if status.endswith(" 1"):
            raised += 1
        key = f"stage_alarm:{r['tender_id']}:{r['stage']}:{r['entered_at'].isoformat()}"
        await db.execute(
            "INSERT INTO agency_notification (agency_id, kind, dedupe_key, subject, data, created_at)"
            " VALUES ($1, 'stage_alarm', $2, $3, $4::jsonb, $5) ON CONFLICT (dedupe_key) DO NOTHING",
            r["agency_id"], key,
            f"La convocatoria «{r['title']}» lleva {r['days_in_stage']} días en la etapa {r['stage']}"
            f" (límite: {r['limit_days']} días)",
            _json({"tender_id": str(r["tender_id"]), "ocid": r["ocid"], "stage": r["stage"],
                   "entered_at": r["entered_at"].isoformat(), "limit_days": r["limit_days"],
                   "days_in_stage": r["days_in_stage"]}), now)
    await db.execute(
        "UPDATE stage_alarm a SET cleared_at = $1 FROM tender_stage s WHERE a.cleared_at IS NULL"
        " AND s.tender_id = a.tender_id AND s.stage = a.stage AND s.entered_at = a.entered_at"
        " AND s.left_at IS NOT NULL", now)
    return raised


def _json(value: Any) -> str:

    return msgspec.json.encode(value).decode()


async def alarms(*, open_only: bool = True, limit: int = 200) -> list[dict[str, Any]]:
    return await db.fetch(
        "SELECT a.id, a.tender_id, t.ocid, t.title, a.stage, a.entered_at, a.agency_id, o.name AS agency_name,"
        "       a.limit_days, a.raised_at, a.cleared_at"
        " FROM stage_alarm a JOIN tender t ON t.id = a.tender_id JOIN organisation o ON o.id = a.agency_id"
        f" {'WHERE a.cleared_at IS NULL' if open_only else ''} ORDER BY a.raised_at DESC, a.id DESC LIMIT $1", limit)


async def notifications(*, agency_id: UUID, limit: int = 100) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT id, kind, subject, data::text AS data, created_at, read_at FROM agency_notification"
        " WHERE agency_id = $1 ORDER BY id DESC LIMIT $2", agency_id, limit)

    for r in rows:
        r["data"] = msgspec.json.decode(r["data"])
    return rows

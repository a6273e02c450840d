"""Who decides an appeal: the agency's head up to APPEAL_TRIBUNAL_UIT (50) UIT of the lot's estimated value,
the Tribunal de Contrataciones del Estado above it (Ley 30225, art. 41); an oversight auditor no longer does.

Appeals are filed through apps built from the same settings with APPEAL_BOND_PERCENT=0 (no bond to pay, so
they are open at once) and, for the last one, another UIT: the threshold is fixed when an appeal is filed.
"""

from __future__ import annotations

import httpx

from marketplace.app import create_app
from marketplace.settings import SettingsError, load_settings, override
from tests import factories
from tests.harness import check_matrix, personas
from tests.suppliers.factories import active_supplier
from tests.tenders.test_award_http import agency_head
from tests.tenders.test_evaluation_http import hdr, in_evaluation, ok, points

UIT = 550_000  # UIT_VALUE_CENTS' default (S/ 5,500)
GROUNDS = {"grounds": "El postor adjudicado no acreditó la experiencia exigida en las bases."}


def _client(settings, **env: str) -> httpx.AsyncClient:
    app = create_app(override(settings, {"APPEAL_BOND_PERCENT": "0", **env}))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://appeals.local")


async def test_the_head_decides_up_to_50_uit_and_the_tribunal_above(client, settings, fixed_clock):
    p = await personas(settings, client)
    a = await active_supplier(settings, ubigeo="080101", mype=True)
    b = await active_supplier(settings, ubigeo="040101")
    c = await active_supplier(settings, ubigeo="150101")
    # Lot 1 is estimated at exactly 50 UIT, lot 2 one céntimo above.
    s = await in_evaluation(client, settings, fixed_clock, p, [a, b, c],
                            [{0: 20_000_000, 1: 20_000_000}, {0: 21_000_000, 1: 21_000_000}, {1: 22_000_000}],
                            lots=((50 * UIT, "080101"), (50 * UIT + 1, "080101")))
    for bidder, lot, exp in ((0, 0, 58), (1, 0, 40), (0, 1, 58), (1, 1, 40), (2, 1, 30)):
        await points(client, settings, p, s, bidder, lot, exp, 30)
    result = ok(await client.post(f"/api/v1/tenders/{s.tender_id}/awards", headers=hdr(settings, p.officer)), 201)
    award1, award2 = (lot["award"] for lot in sorted(result["lots"], key=lambda x: x["lot_number"]))
    assert award1["supplier_id"] == award2["supplier_id"] == str(a.org_id)

    async with _client(settings) as free, _client(settings, UIT_VALUE_CENTS=str(UIT + 10_000)) as dearer:
        head_appeal = ok(await free.post(f"/api/v1/awards/{award1['id']}/appeals", json=GROUNDS,
                                         headers=hdr(settings, b)), 201)
        tribunal_appeal = ok(await free.post(f"/api/v1/awards/{award2['id']}/appeals", json=GROUNDS,
                                             headers=hdr(settings, b)), 201)
        # With a higher UIT in force when it is filed, 50 UIT is above lot 2's value: its head decides.
        later = ok(await dearer.post(f"/api/v1/awards/{award2['id']}/appeals", json=GROUNDS,
                                     headers=hdr(settings, c)), 201)
    assert (head_appeal["state"], head_appeal["deciding_body"]) == ("filed", "agency_head")
    assert (tribunal_appeal["state"], tribunal_appeal["deciding_body"]) == ("filed", "tribunal")
    assert later["deciding_body"] == "agency_head"
    assert [x["id"] for x in ok(await client.get("/api/v1/appeals", params={"deciding_body": "tribunal"}))] == [
        tribunal_appeal["id"]]
    assert {x["id"] for x in ok(await client.get("/api/v1/appeals", params={"deciding_body": "agency_head"}))} == {
        head_appeal["id"], later["id"]}

    head = await agency_head(settings, p)
    other_head = await factories.login(settings, "agency", "agency_head", org_id=p.other_agency_id)
    tribunal = await factories.login(settings, "oversight", "tribunal")
    await p.refresh(settings)
    dismiss = {"decision": "dismissed", "reason": "La experiencia fue acreditada"}

    # Up to 50 UIT: the head of the tender's agency; not the auditor, the Tribunal, nor another agency's head.
    url = f"/api/v1/awards/{award1['id']}/appeals/{head_appeal['id']}/decision"
    await check_matrix(client, "POST", url, {
        p.anonymous: 401, p.officer: 403, p.other_officer: 403, p.committee: 403, p.bidder: 403, p.admin: 403,
        p.auditor: 403, p.agency_admin: 403}, json=dismiss)
    for who in (tribunal, other_head):
        r = await client.post(url, json=dismiss, headers=hdr(settings, who))
        assert r.status_code == 403, r.text
    r = await client.post(url, json=dismiss, headers=hdr(settings, tribunal))
    assert (r.json()["field"], r.json()["rule"]) == ("deciding_body", "deciding_body")
    assert r.json()["detail"] == "Esta apelación la resuelve el titular de la entidad convocante"
    got = ok(await client.post(url, json=dismiss, headers=hdr(settings, head)))
    assert (got["state"], got["award_state"]) == ("dismissed", "standstill")

    # Above 50 UIT: the Tribunal; the agency's head is refused, in the caller's language.
    url = f"/api/v1/awards/{award2['id']}/appeals/{tribunal_appeal['id']}/decision"
    upheld = {"decision": "upheld", "reason": "La experiencia no fue acreditada"}
    for who in (p.auditor, head):
        r = await client.post(url, json=upheld, headers={**hdr(settings, who), "Accept-Language": "qu"})
        assert r.status_code == 403, r.text
    assert r.json()["detail"] == "Kay apelaciónta Tribunal de Contrataciones del Estadom tukuchin"
    assert ok(await client.get(f"/api/v1/awards/{award2['id']}"))["state"] == "appealed"  # nothing written
    got = ok(await client.post(url, json=upheld, headers=hdr(settings, tribunal)))
    assert (got["state"], got["award_state"]) == ("upheld", "cancelled")
    states = {x["id"]: x["state"] for x in ok(await client.get(f"/api/v1/awards/{award2['id']}/appeals"))}
    assert states == {tribunal_appeal["id"]: "upheld", later["id"]: "moot"}


def test_the_threshold_settings(tmp_path):
    s = load_settings({"DATA_DIR": str(tmp_path)}, persist_dev_keys=False)
    assert (s.uit_value_cents, s.appeal_tribunal_uit, s.appeal_tribunal_above_cents) == (UIT, 50, 50 * UIT)
    s = load_settings({"DATA_DIR": str(tmp_path), "UIT_VALUE_CENTS": "535000", "APPEAL_TRIBUNAL_UIT": "10"},
                      persist_dev_keys=False)
    assert s.appeal_tribunal_above_cents == 5_350_000
    for env, name in (({"UIT_VALUE_CENTS": "0"}, "UIT_VALUE_CENTS"), ({"APPEAL_TRIBUNAL_UIT": "-1"},
                                                                     "APPEAL_TRIBUNAL_UIT")):
        try:
            load_settings({"DATA_DIR": str(tmp_path), **env}, persist_dev_keys=False)
        except SettingsError as exc:
            assert str(exc).startswith(f"{name}: must be")
        else:
            raise AssertionError(f"{env} was accepted")

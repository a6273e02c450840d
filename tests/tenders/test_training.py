"""The training sandbox (MODE=training): a whole procedure over HTTP in minutes, every answer marked as
training data, ocids of its own, and refused where production's signs are.

The training app is a second application built from the same settings with MODE=training; it shares the
test process's database pool (the session app's lifespan started it), so it is driven without a lifespan
of its own. Time moves with the clock seam (`fixed_clock`): the test asserts how much procedure time the
whole story (publish, enquiries, bids, opening, evaluation, award, appeal, standstill, contract, payment)
took, not how long the test ran.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from marketplace.app import create_app
from marketplace.settings import TRAINING_OCID_MARK, SettingsError, load_settings, override
from tests import factories
from tests.acceptance.test_flows import drain_everything
from tests.harness import personas
from tests.payments.helpers import pay_appeal_bond
from tests.suppliers.factories import active_supplier
from tests.tenders import factories as tf
from tests.tenders.test_award_http import consent_job
from tests.tenders.test_evaluation_http import MIXED_RULES, Setup, hdr, ok, points


@pytest.fixture
def training_settings(pay_settings):
    """Training mode, with Stripe at the local recorded-response server (the appeal's bond is paid there)."""
    return override(pay_settings, {"MODE": "training", "TRAINING_DAY_SECONDS": "15"})


@pytest.fixture
async def training(client, training_settings):
    """An HTTP client on a training-mode app (clean tables: it depends on `client`)."""
    app = create_app(training_settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://training.local") as c:
        yield c


def _marked(r: httpx.Response) -> httpx.Response:
    assert r.headers.get("x-mercado-mode") == "training", (r.request.url, dict(r.headers))
    return r


def _body(now: datetime, *, enquiry: timedelta, deadline: timedelta) -> dict:
    return {
        "title": "Ejercicio: mantenimiento de locales escolares", "method": "simplified_award",
        "category": "services", "consultancy": False,
        "lots": [{"title": "Lote 1", "estimated_value": {"amount": 15_000_000, "currency": "PEN"},
                  "classification_scheme": "UNSPSC",
                  "classification_code": "72101500", "quantity": "1", "unit": "servicio",
                  "delivery_ubigeo": "080101"}],
        "enquiry_end": (now + enquiry).isoformat(),
        "submission_deadline": (now + deadline).isoformat(),
        "opening_time": (now + deadline + timedelta(minutes=1)).isoformat(),
    }


def test_training_mode_is_refused_where_production_shows(tmp_path):
    base = {"DATA_DIR": str(tmp_path)}
    s = load_settings({**base, "MODE": "training"}, persist_dev_keys=False)
    assert s.training and not s.production and s.process_ocid_prefix == "ocds-ma0000-" + TRAINING_OCID_MARK
    with pytest.raises(SettingsError, match="training mode refused: STRIPE_SECRET_KEY is a live key"):
        load_settings({**base, "MODE": "training", "STRIPE_SECRET_KEY": "sk_live_abc"}, persist_dev_keys=False)
    real_keys = {"JWT_SECRET": "x" * 48, "SIGNING_KEY": s.keys.signing_key, "SEALING_KEY": s.keys.sealing_key}
    with pytest.raises(SettingsError, match="training mode refused: JWT_SECRET, SIGNING_KEY, SEALING_KEY"):
        load_settings({**base, "MODE": "training", **real_keys}, persist_dev_keys=False)
    with pytest.raises(SettingsError, match='MODE: must be one of development, production, training, got "train"'):
        load_settings({**base, "MODE": "train"}, persist_dev_keys=False)
    with pytest.raises(SettingsError, match="TRAINING_DAY_SECONDS"):
        load_settings({**base, "MODE": "training", "TRAINING_DAY_SECONDS": "0"}, persist_dev_keys=False)


async def test_the_real_mode_keeps_days_and_its_answers_unmarked(client, settings, fixed_clock):
    p = await personas(settings, client)
    r = await client.post("/api/v1/tenders", headers=hdr(settings, p.officer),
                          json=_body(fixed_clock.now(), enquiry=timedelta(minutes=1), deadline=timedelta(minutes=3)))
    t = ok(r, 201)
    assert "x-mercado-mode" not in r.headers and TRAINING_OCID_MARK not in t["ocid"]
    r = await client.post(f"/api/v1/tenders/{t['id']}/publish", headers=hdr(settings, p.officer))
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "min_submission_period", r.text
    assert "training-banner" not in (await client.get("/tenders")).text


async def test_a_whole_procedure_over_http_in_minutes(training, client, training_settings, fixed_clock,
                                                      stripe_server):
    settings = training_settings
    p = await personas(settings, client)
    andes = await active_supplier(settings, ubigeo="080101", mype=True, name="Andes Servicios S.A.C.")
    lima = await active_supplier(settings, ubigeo="150101", name="Lima Facilities S.A.")
    start = fixed_clock.now()

    # Publish: adjudicación simplificada needs 8 days to the deadline and 3 of enquiries; here a day is 15 s.
    too_short = _body(start, enquiry=timedelta(seconds=30), deadline=timedelta(seconds=110))
    t = ok(_marked(await training.post("/api/v1/tenders", json=too_short, headers=hdr(settings, p.officer))), 201)
    r = _marked(await training.post(f"/api/v1/tenders/{t['id']}/publish", headers=hdr(settings, p.officer)))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "submission_deadline", r.text
    body = _body(start, enquiry=timedelta(seconds=45), deadline=timedelta(seconds=120))
    t = ok(_marked(await training.post("/api/v1/tenders", json=body, headers=hdr(settings, p.officer))), 201)
    tid, lot = t["id"], t["lots"][0]["id"]
    assert t["ocid"] == settings.ocid_prefix + TRAINING_OCID_MARK + tid
    ok(await training.put(f"/api/v1/tenders/{tid}/evaluation/rules", json=MIXED_RULES,
                          headers=hdr(settings, p.officer)))
    ok(_marked(await training.post(f"/api/v1/tenders/{tid}/publish", headers=hdr(settings, p.officer))))

    # Enquiries: a supplier asks, the officer answers, within the 45-second enquiry period.
    q = ok(await training.post(f"/api/v1/tenders/{tid}/enquiries", headers=hdr(settings, andes),
                               json={"question": "¿Incluye materiales?"}), 201)
    ok(await training.post(f"/api/v1/tenders/{tid}/enquiries/{q['id']}/answer", headers=hdr(settings, p.officer),
                           json={"answer": "Sí, todos los materiales."}))

    # Bids, once the enquiry period is over.
    fixed_clock.advance(seconds=50)
    bids = {}
    for who, price in ((andes, 11_000_000), (lima, 10_000_000)):
        pen = {"amount": price, "currency": "PEN"}
        receipt = ok(_marked(await training.post(f"/api/v1/tenders/{tid}/bids", headers=hdr(settings, who),
                                                 json={"lots": [{"lot_id": lot, "price": pen}]})), 201)
        assert receipt["ocid"] == t["ocid"]
        bids[who.org_id] = receipt["bid_id"]

    # Opening, at the opening time.
    fixed_clock.set(start + timedelta(seconds=181))
    opening = await tf.open_with_quorum(training, settings, p, tid)  # the officer and a committee member
    assert opening["bid_count"] == 2

    # Evaluation and award; the standstill (5 business days for the method) lasts 5 x 15 s.
    s = Setup(tender_id=tid, lot_ids=[lot], bids={(0, 0): bids[andes.org_id], (1, 0): bids[lima.org_id]})
    await points(training, settings, p, s, 0, 0, 58, 38)
    await points(training, settings, p, s, 1, 0, 40, 20)
    result = ok(_marked(await training.post(f"/api/v1/tenders/{tid}/awards", headers=hdr(settings, p.officer))),
                201)
    award = result["lots"][0]["award"]
    assert award["supplier_id"] == str(andes.org_id)
    ends = datetime.fromisoformat(award["standstill_ends_at"])
    assert ends - datetime.fromisoformat(award["notified_at"]) == timedelta(seconds=75)

    # The loser appeals within the standstill and pays the bond; the agency's head (the lot is below 50 UIT)
    # dismisses it while the standstill still runs.
    fixed_clock.advance(seconds=10)
    url = f"/api/v1/awards/{award['id']}/appeals"
    appeal = ok(_marked(await training.post(url, headers=hdr(settings, lima),
                                            json={"grounds": "El ganador no acreditó la experiencia exigida."})), 201)
    await pay_appeal_bond(training, settings, stripe_server, appeal["id"])
    assert ok(await training.get(url))[0]["state"] == "filed"
    fixed_clock.advance(seconds=20)
    head = await factories.login(settings, "agency", "agency_head", org_id=p.agency_id)
    decided = ok(_marked(await training.post(f"{url}/{appeal['id']}/decision", headers=hdr(settings, head),
                                             json={"decision": "dismissed", "reason": "Experiencia acreditada"})))
    assert (decided["state"], decided["award_state"]) == ("dismissed", "standstill")

    # The standstill passes; the consent job consents; the contract follows; a treasury payment closes it.
    fixed_clock.set(ends + timedelta(seconds=1))
    assert await consent_job() == 1
    await drain_everything()
    contracts = ok(_marked(await training.get("/api/v1/contracts", headers=hdr(settings, p.officer))))
    assert [(c["source_type"], c["source_id"]) for c in contracts] == [("award", award["id"])]
    cid = contracts[0]["id"]
    milestone = ok(await training.post(f"/api/v1/contracts/{cid}/milestones", headers=hdr(settings, p.officer),
                                       json={"deliverable": "Mantenimiento concluido", "due_date": "2027-03-15",
                                             "amount": {"amount": 11_000_000, "currency": "PEN"}}), 201)
    ok(await training.post(f"/api/v1/contracts/{cid}/sign", headers=hdr(settings, p.officer), json={
        "period_start": "2027-01-04", "period_end": "2027-06-30",
        "guarantee": {"kind": "bank_letter", "amount": {"amount": 1_100_000, "currency": "PEN"},
                      "issuer": "Banco de la Nación", "reference": "CF-2027-0001", "expires_on": "2027-12-31"}}))
    delivery = ok(await training.post(f"/api/v1/contracts/{cid}/deliveries", headers=hdr(settings, andes),
                                      json={"milestone_id": milestone["id"]}), 201)
    ok(await training.post(f"/api/v1/contracts/{cid}/deliveries/{delivery['id']}/accept",
                           headers=hdr(settings, p.officer), json={}))
    paid = ok(await training.post(f"/api/v1/contracts/{cid}/milestones/{milestone['id']}/payments",
                                  headers=hdr(settings, p.officer), json={"external_reference": "SIAF-EJERCICIO-1"}),
              202)
    assert paid["state"] == "succeeded"
    took = fixed_clock.now() - start
    assert took < timedelta(minutes=10), took

    # Everything says it is training: the OCDS record, the public page (banner), a 404.
    await drain_everything()
    record = ok(_marked(await training.get(f"/ocds/records/{t['ocid']}")))
    assert record["records"][0]["ocid"].startswith(settings.ocid_prefix + TRAINING_OCID_MARK)
    page = _marked(await training.get(f"/tenders/{tid}"))
    assert page.status_code == 200 and 'class="training-banner"' in page.text
    assert _marked(await training.get("/api/v1/no-such-thing")).status_code == 404

"""Every demo object has its page (200), a missing or private one a friendly 404 page; the pages speak the
reader's language, show amounts in soles and times in Lima; the explorer's CSV is the award history."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC

import pytest

from marketplace.core import db

HTML = "text/html"


def _html(r, status=200):
    assert r.status_code == status, (r.status_code, r.text[:2000])
    assert r.headers["content-type"].startswith(HTML)
    return r.text


async def test_every_public_tender_has_a_page_with_its_record(site):
    tenders = await db.fetch("SELECT id, title, ocid, state FROM tender WHERE state <> 'draft' ORDER BY title")
    assert len(tenders) >= 8
    for t in tenders:
        text = _html(await site.get(f"/tenders/{t['id']}"))
        assert t["ocid"] in text
        assert "Línea de tiempo" in text and "Ítems" in text
    # the awarded ones show the opening record, the score sheet and the award
    awarded = await db.fetch("SELECT DISTINCT a.tender_id, o.name FROM award a JOIN organisation o"
                             " ON o.id = a.supplier_id")
    assert awarded
    for a in awarded:
        text = _html(await site.get(f"/tenders/{a['tender_id']}"))
        assert "Cuadro de evaluación, ítem 1" in text and a["name"].replace("&", "&amp;") in text
        assert "Aún sin buena pro" not in text
    # appeals, with their grounds, on the awarded tender's page
    appeal = await db.fetchrow("SELECT a.tender_id, p.grounds FROM award_appeal p JOIN award a ON a.id = p.award_id"
                               " LIMIT 1")
    assert appeal["grounds"][:40] in _html(await site.get(f"/tenders/{appeal['tender_id']}"))
    # contracts (from consented awards) are on their tender's page
    contracts = await db.fetch("SELECT tender_id, title FROM contract WHERE source_type = 'award'")
    assert contracts
    for c in contracts:
        text = _html(await site.get(f"/tenders/{c['tender_id']}"))
        assert c["title"] in text and "Aún no hay contrato" not in text
    # answered enquiries are shown with their answers
    q = await db.fetchrow("SELECT tender_id, answer FROM tender_enquiry WHERE answer IS NOT NULL LIMIT 1")
    assert q["answer"][:40] in _html(await site.get(f"/tenders/{q['tender_id']}"))


async def test_drafts_and_missing_tenders_get_a_friendly_not_found_page(site):
    draft = await db.fetchrow("SELECT id FROM tender WHERE state = 'draft' LIMIT 1")
    for path in (f"/tenders/{draft['id']}", f"/tenders/{uuid.uuid4()}", "/tenders/not-a-tender",
                 f"/suppliers/{uuid.uuid4()}", "/suppliers/xyz", f"/agencies/{uuid.uuid4()}", "/agencies/1"):
        text = _html(await site.get(path), 404)
        assert "No encontramos esa página" in text, path
        assert 'href="/tenders"' in text  # a way on
    r = await site.get(f"/tenders/{uuid.uuid4()}", headers={"Accept-Language": "en"})
    assert "We could not find that page" in _html(r, 404) and "Tender not found" in r.text


async def test_every_supplier_and_agency_has_a_profile_with_its_award_history(site):
    suppliers = await db.fetch("SELECT organisation_id AS id, legal_name, ruc, status FROM supplier")
    assert len(suppliers) >= 100
    for s in suppliers:
        r = await site.get(f"/suppliers/{s['id']}")
        if s["status"] == "pending":  # a pending registration is not public yet
            _html(r, 404)
            continue
        assert s["ruc"] in _html(r)
    winner = await db.fetchrow("SELECT a.supplier_id, count(*) AS n FROM award a GROUP BY a.supplier_id"
                               " ORDER BY n DESC LIMIT 1")
    text = _html(await site.get(f"/suppliers/{winner['supplier_id']}"))
    assert "Historial de adjudicaciones" in text and text.count('href="/tenders/') >= winner["n"]

    agencies = await db.fetch("SELECT organisation_id AS id FROM agency")
    assert len(agencies) >= 8
    for a in agencies:
        name = (await db.fetchrow("SELECT name FROM organisation WHERE id = $1", a["id"]))["name"]
        assert name in _html(await site.get(f"/agencies/{a['id']}"))


async def test_home_and_search_pages(site):
    text = _html(await site.get("/"))
    assert 'lang="es-PE"' in text and "Saltar al contenido principal" in text
    assert text.count("<optgroup") >= 2 * 25  # the place selector, per region, in both search forms
    assert '<svg' in text and text.count("<path") >= 25  # the map of the regions

    t = await db.fetchrow("SELECT id, title FROM tender WHERE state = 'tendering' ORDER BY title LIMIT 1")
    word = max(t["title"].split(), key=len)
    text = _html(await site.get("/tenders", params={"q": word, "ubigeo": "080100"}))
    assert f'/tenders/{t["id"]}' in text

    text = _html(await site.get("/catalog", params={"q": "cemento", "ubigeo": "080101"}))
    assert "S/" in text and "ofertas encontradas" in text
    # local first: the first offer's supplier is in Cusco province or region when any is
    first_tier = re.search(r'class="badge (local|near)?[^"]*">([^<]+)<', text)
    assert first_tier is not None

    r = await site.get("/tenders", params={"ubigeo": "999999"})
    assert "ubigeo" in _html(r, 422).lower()


async def test_award_explorer_filters_charts_and_csv(site):
    n = (await db.fetchrow("SELECT count(*) AS n FROM award"))["n"]
    text = _html(await site.get("/awards"))
    assert 'id="months-t"' in text and 'id="awards-map-t"' in text and 'id="hhi-cap"' in text
    r = await site.get("/awards.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == n

    region = (await db.fetchrow("SELECT substr(l.delivery_ubigeo, 1, 2) AS r FROM award a"
                                " JOIN tender_lot l ON l.id = a.lot_id LIMIT 1"))["r"]
    in_region = (await db.fetchrow("SELECT count(*) AS n FROM award a JOIN tender_lot l ON l.id = a.lot_id"
                                   " WHERE substr(l.delivery_ubigeo, 1, 2) = $1", region))["n"]
    r = await site.get("/awards.csv", params={"region": region})
    assert len(list(csv.DictReader(io.StringIO(r.text)))) == in_region
    _html(await site.get("/awards", params={"region": region}))
    agency = await db.fetchrow("SELECT t.agency_id, o.name FROM award a JOIN tender t ON t.id = a.tender_id"
                               " JOIN organisation o ON o.id = t.agency_id LIMIT 1")
    text = _html(await site.get("/awards", params={"agency_id": str(agency["agency_id"])}))
    assert agency["name"] in text

    text = _html(await site.get("/awards", params={"supplier_ruc": "123"}), 422)
    assert "RUC" in text and "11" in text
    _html(await site.get("/awards", params={"from": "29/11/2026"}), 422)


async def test_oversight_pages_and_verify(site, settings):
    text = _html(await site.get("/red-flags"))
    assert "Alertas" in text and "Oferta única" in text
    assert "Solo un proveedor presentó oferta" in text  # what a flag means, in the reader's language
    single = await db.fetchrow(
        "SELECT t.id, t.title FROM tender t JOIN redflag f ON f.ocid = t.ocid WHERE f.code = 'R018' LIMIT 1")
    assert single is not None  # the demo has a process with a single bid
    text = _html(await site.get("/red-flags", params={"tender": str(single["id"])}))
    assert "Oferta única</strong> <small>(R018)" in text and single["title"] in text
    _html(await site.get("/red-flags", params={"tender": "nope"}), 404)
    text = _html(await site.get("/stage-times"))
    assert "Tiempos por etapa" in text
    text = _html(await site.get("/verify"))
    assert settings.keys.signing_public_key_b64() in text and "/api/v1/audit/checkpoints" in text


async def test_a_pasted_bid_receipt_is_checked_against_the_platform_key(site, settings):
    import json
    from datetime import datetime

    from tenders.bids.service import make_receipt

    receipt = make_receipt(settings, bid_id=uuid.uuid4(), ocid="ocds-test01-x", lots=[uuid.uuid4()],
                           sha256="ab" * 32, received_at=datetime(2026, 11, 29, 15, 0, tzinfo=UTC))
    body = json.dumps({f: getattr(receipt, f) for f in receipt.__struct_fields__})
    r = await site.post("/verify/receipt", data={"receipt": body})
    assert "La firma es válida" in _html(r)
    forged = body.replace("ab" * 32, "cd" * 32)
    assert "La firma no coincide" in _html(await site.post("/verify/receipt", data={"receipt": forged}))
    for junk in ("{", "[1, 2]", '{"signature": 5}', '{"bid_id": "x", "signature": "!!!"}'):
        text = _html(await site.post("/verify/receipt", data={"receipt": junk}))
        assert "Esto no es una constancia" in text or "La firma no coincide" in text, junk


@pytest.mark.parametrize(("how", "lang", "heading"), [
    ({}, "es-PE", "Contrataciones públicas, a la vista"),
    ({"headers": {"Accept-Language": "en-GB,en;q=0.9"}}, "en", "Public procurement, in the open"),
    ({"headers": {"Accept-Language": "qu-PE, es;q=0.5"}}, "qu-PE", "Estadop rantisqankuna, llapanpa qhawanapaq"),
    ({"params": {"lang": "en"}}, "en", "Public procurement, in the open"),
    ({"cookies": {"lang": "qu"}}, "qu-PE", "Estadop rantisqankuna, llapanpa qhawanapaq"),
])
async def test_the_reader_language_comes_from_the_switch_the_cookie_or_the_browser(site, how, lang, heading):
    site.cookies.clear()
    how = dict(how)
    for name, value in how.pop("cookies", {}).items():  # on the client: httpx deprecates per-request cookies
        site.cookies.set(name, value)
    text = _html(await site.get("/", **how))
    site.cookies.clear()
    assert f'<html lang="{lang}">' in text and heading in text


async def test_the_language_switch_sets_the_cookie_and_goes_back_to_a_local_page(site):
    r = await site.get("/language/en", params={"next": "/awards?region=08"})
    assert r.status_code in (301, 302, 303, 307) and r.headers["location"] == "/awards?region=08"
    assert "lang=en" in r.headers["set-cookie"]
    r = await site.get("/language/qu", params={"next": "https://evil.example/"})
    assert r.headers["location"] == "/"
    r = await site.get("/language/fr", params={"next": "//evil.example"})
    assert r.headers["location"] == "/" and "lang=es" in r.headers["set-cookie"]
    site.cookies.clear()


async def test_amounts_in_soles_and_times_in_lima_per_language(site):
    a = await db.fetchrow("SELECT a.tender_id, a.value, a.notified_at FROM award a ORDER BY a.value DESC LIMIT 1")
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from babel.dates import format_skeleton
    from babel.numbers import format_currency

    soles = Decimal(a["value"]).scaleb(-2)
    lima = ZoneInfo("America/Lima")
    es = _html(await site.get(f"/tenders/{a['tender_id']}"))
    assert format_currency(soles, "PEN", locale="es_PE") in es  # "S/ 550,000.00"
    assert format_skeleton("hm", a["notified_at"], tzinfo=lima, locale="es_PE", fuzzy=True) in es
    en = _html(await site.get(f"/tenders/{a['tender_id']}", params={"lang": "en"}))
    assert f"S/\xa0{soles:,.2f}" in en
    assert format_skeleton("yMMMd", a["notified_at"], tzinfo=lima, locale="en", fuzzy=True) in en


async def test_search_pages_say_so_when_the_search_engine_is_down(site):
    from search import service
    from search.backends.meili import MeiliIndex

    down = MeiliIndex("http://127.0.0.1:9", timeout_s=1)  # nothing listens there: a real outage
    previous = service.use_backend(down)
    try:
        for path in ("/tenders?q=cemento", "/catalog?q=cemento"):
            assert "La búsqueda no está disponible" in _html(await site.get(path), 503)
        _html(await site.get("/"))  # the home page still answers, without its list of open tenders
    finally:
        await down.close()
        service.use_backend(previous)


async def test_more_awards_pages_through_the_history_as_a_link_or_in_place(site):
    n = (await db.fetchrow("SELECT count(*) AS n FROM award"))["n"]
    assert n >= 3
    page = _html(await site.get("/awards", params={"limit": 2}))
    seen = len(re.findall(r'<tr>\s*<td[^>]*><time', page))
    assert seen == 2
    nxt = re.search(r'<a href="(/awards\?[^"]+)" rel="next"', page).group(1).replace("&amp;", "&")
    while nxt:
        # htmx asks for the fragment: the next rows and the pager, no charts
        frag = (await site.get(nxt, headers={"HX-Request": "true"})).text
        assert 'id="award-rows"' in frag and 'id="awards-pager"' in frag and "<svg" not in frag
        seen += frag.count("<time ")
        m = re.search(r'<a href="(/awards\?[^"]+)" rel="next"', frag)
        nxt = m.group(1).replace("&amp;", "&") if m else None
        # without htmx the same link is a whole page
        if nxt:
            assert "<svg" in _html(await site.get(nxt))
    assert seen == n


# --- the red-flag page: oversight's read model, as the API serves it -------------------------------------------

FLAG_ROW = re.compile(r'<tr><td><strong>.*?</strong> <small>\((R\d{3}|MA-[A-Z]+)\)</small>')
NEXT = re.compile(r'<a href="/red-flags\?([^"]+)" rel="next">')


async def _api_walk(site, params: dict[str, str], limit: int = 500) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        r = await site.get("/api/v1/oversight/red-flags", params={**params, "limit": limit,
                                                                  **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


async def _page_walk(site, params: dict[str, str]) -> list[str]:
    """Every flag's code on the page, following its "Next page" links."""
    codes: list[str] = []
    query: str | None = None
    for _ in range(500):
        r = await site.get("/red-flags?" + query) if query else await site.get("/red-flags", params=params)
        text = _html(r)
        codes += FLAG_ROW.findall(text)
        found = NEXT.search(text)
        if not found:
            return codes
        query = found.group(1).replace("&amp;", "&")
    raise AssertionError("the pages never ended")


async def test_the_red_flag_page_is_the_apis_read_model_paged_and_filtered(site):
    api = await _api_walk(site, {})
    assert api, "the demo raises red flags"
    # Every flag of the model, in the API's order, page after page (3 a page: the keyset cursor).
    assert await _page_walk(site, {"limit": "3"}) == [f["code"] for f in api]
    # Each filter gives what the API gives with it.
    one = next(f for f in api if f["buyer_ruc"] and f["region"])
    for params in ({"code": one["code"]}, {"buyer": one["buyer_ruc"]}, {"region": one["region"]},
                   {"publisher": one["publisher"]}):
        want = [f["code"] for f in await _api_walk(site, params)]
        assert want and await _page_walk(site, {**params, "limit": "50"}) == want, params
    with_supplier = next((f for f in api if f["supplier_ruc"]), None)
    if with_supplier:
        want = [f["code"] for f in await _api_walk(site, {"supplier": with_supplier["supplier_ruc"]})]
        assert await _page_walk(site, {"supplier": with_supplier["supplier_ruc"]}) == want
    # Dates are Lima days, the `to` day included: the API's range from that day's 00:00 to the next's (-05:00).
    day = min(f["date"] for f in api)[:10]
    want = [f["code"] for f in await _api_walk(site, {"date_from": f"{day}T00:00:00-05:00",
                                                      "date_to": "2100-01-01T00:00:00-05:00"})]
    assert await _page_walk(site, {"from": day, "to": "2099-12-31"}) == want
    assert await _page_walk(site, {"from": "2000-01-01", "to": "2000-01-02"}) == []
    # Bad input: a 422 page naming the rule, in the reader's language.
    text = _html(await site.get("/red-flags", params={"region": "Lima"}), 422)
    assert "ubigeo" in text
    _html(await site.get("/red-flags", params={"code": "R999"}), 422)
    _html(await site.get("/red-flags", params={"from": "29/11/2026"}), 422)
    _html(await site.get("/red-flags", params={"cursor": "nope"}), 422)


async def test_each_flag_says_what_it_means_and_its_evidence_in_the_readers_language(site):
    r018 = (await _api_walk(site, {"code": "R018"}))[0]
    assert r018["evidence"] == {"number_of_tenderers": 1}
    for lang, name, meaning, evidence in (
            ("es", "Oferta única", "Solo un proveedor presentó oferta", "Postores"),
            ("en", "Single bid", "Only one supplier bid in a procedure open to competition.", "Bidders"),
            ("qu", "Huk ofertalla", "huk qhatuqllam ofertata apachirqan", "Postorkuna")):
        text = _html(await site.get("/red-flags", params={"code": "R018", "lang": lang}))
        assert f"{name}</strong> <small>(R018)</small>" in text, lang
        assert meaning in text and f"<dt>{evidence}</dt><dd>1</dd>" in text, lang
    # Every indicator code has its words in every language (none falls back to the bare code).
    for lang in ("es", "en", "qu"):
        text = _html(await site.get("/red-flags", params={"lang": lang}))
        for code in ("R003", "R018", "R024", "R025", "R028", "R030", "R035", "R036", "R038", "R044", "R048", "R058",
                     "MA-AMEND", "MA-STAGE"):
            assert re.search(rf"<dt>[^<]+ <small>\({code}\)</small></dt><dd>[^<]+</dd>", text), (lang, code)


async def test_the_tender_page_shows_the_codes_the_api_gives_for_its_process(site):
    rows = await db.fetch("SELECT DISTINCT t.id, t.ocid FROM tender t JOIN redflag f ON f.ocid = t.ocid"
                          " WHERE t.state <> 'draft'")
    assert rows
    for t in rows:
        api = (await site.get(f"/api/v1/oversight/tenders/{t['id']}/red-flags", params={"limit": 500})).json()
        codes = {f["code"] for f in api["items"]}
        assert codes == {f["code"] for f in await _api_walk(site, {"ocid": t["ocid"]})}
        text = _html(await site.get(f"/tenders/{t['id']}", params={"lang": "en"}))
        box = text[text.index('class="flag-box"'):text.index("</div>", text.index('class="flag-box"'))]
        assert set(re.findall(r"<small>\((R\d{3}|MA-[A-Z]+)\)</small>", box)) == codes, t["ocid"]

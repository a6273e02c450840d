"""The contract every search backend keeps: the same documents, the same questions, the same answers.

Runs on PostgreSQL here and on Meilisearch where MEILI_URL is set. Place of delivery throughout: Cusco
district (080101). Suppliers: Cusco province (0801, same province), Acomayo (0802, same region),
Abancay in Apurímac (adjoins Cusco), Lima (elsewhere).
"""

from __future__ import annotations

import uuid

from marketplace.core import db
from search.domain import CatalogQuery, Tier, offer_doc

CUSCO = "080101"
DOMICILES = {"cusco": "080101", "acomayo": "080201", "abancay": "030101", "lima": "150101"}


def offer(name: str, *, domicile: str = "lima", region: str = "08", price: int = 250_000,
          classification: str = "43211503", supplier_id: str | None = None, **extra):
    return offer_doc(
        offer_id=str(uuid.uuid4()), supplier_id=supplier_id or str(uuid.uuid4()),
        supplier_name=f"Proveedor {domicile.title()} SAC", supplier_ubigeo=DOMICILES[domicile],
        region=region, name=name, classification=classification, price_cents=price, delivery_days=5,
        **extra,
    )


async def test_relevance_finds_words_with_accents_folded(backend):
    docs = [offer("Computadora portátil 14 pulgadas"), offer("Silla ergonómica de oficina"),
            offer("Papel bond A4", attributes="gramaje: 75 g")]
    async with db.unit_of_work():
        await backend.upsert("offers", docs)
    page = await backend.search_offers(CatalogQuery(q="ergonomica"))
    assert [h.id for h in page.hits] == [docs[1].id]
    page = await backend.search_offers(CatalogQuery(q="portatil"))
    assert [h.id for h in page.hits] == [docs[0].id]
    assert page.total == 1


async def test_typo_tolerance(backend):
    docs = [offer("Computadora de escritorio"), offer("Impresora multifuncional")]
    async with db.unit_of_work():
        await backend.upsert("offers", docs)
    page = await backend.search_offers(CatalogQuery(q="computadra"))
    assert [h.id for h in page.hits] == [docs[0].id]
    page = await backend.search_offers(CatalogQuery(q="impresroa multifuncional"))
    assert [h.id for h in page.hits] == [docs[1].id]


async def test_filters_classification_price_and_region(backend):
    cheap = offer("Laptop económica", price=150_000, classification="43211503")
    dear = offer("Laptop avanzada", price=600_000, classification="43211503")
    chair = offer("Silla", price=40_000, classification="56101504")
    in_puno = offer("Laptop puneña", price=200_000, region="21")
    async with db.unit_of_work():
        await backend.upsert("offers", [cheap, dear, chair, in_puno])

    page = await backend.search_offers(CatalogQuery(q="laptop", price_min=100_000, price_max=300_000))
    assert {h.id for h in page.hits} == {cheap.id, in_puno.id}
    page = await backend.search_offers(CatalogQuery(classification="5610"))
    assert [h.id for h in page.hits] == [chair.id]
    page = await backend.search_offers(CatalogQuery(q="laptop", regions=("21",)))
    assert [h.id for h in page.hits] == [in_puno.id]
    # A delivery in Cusco only sees offers that serve Cusco, at Cusco's price.
    page = await backend.search_offers(CatalogQuery(q="laptop", ubigeo=CUSCO))
    assert {h.id for h in page.hits} == {cheap.id, dear.id}
    assert all(h.doc["region"] == "08" for h in page.hits)


async def test_facets_count_by_region_and_family(backend):
    async with db.unit_of_work():
        await backend.upsert("offers", [
            offer("Laptop A", region="08"), offer("Laptop B", region="08"), offer("Laptop C", region="21"),
            offer("Laptop D", region="21", classification="43211902"), offer("Silla", classification="56101504"),
        ])
    page = await backend.search_offers(CatalogQuery(q="laptop", facets=("region", "family")))
    assert page.total == 4
    assert page.facets["region"] == {"08": 2, "21": 2}
    assert page.facets["family"] == {"4321": 4}


async def test_pagination_is_stable_and_complete(backend):
    docs = [offer(f"Cuaderno modelo {i}", price=1000 + i) for i in range(7)]
    async with db.unit_of_work():
        await backend.upsert("offers", docs)
    seen = []
    for offset in range(0, 7, 3):
        page = await backend.search_offers(CatalogQuery(q="cuaderno", offset=offset, limit=3))
        assert page.total == 7
        seen += [h.id for h in page.hits]
    assert sorted(seen) == sorted(d.id for d in docs)


async def test_local_first_then_region_then_adjoining_then_elsewhere(backend):
    docs = {place: offer("Computadora portátil", domicile=place) for place in ("lima", "abancay", "acomayo", "cusco")}
    async with db.unit_of_work():
        await backend.upsert("offers", list(docs.values()))
    page = await backend.search_offers(CatalogQuery(q="computadora", ubigeo=CUSCO))
    assert [h.id for h in page.hits] == [docs[p].id for p in ("cusco", "acomayo", "abancay", "lima")]
    assert [h.tier for h in page.hits] == [Tier.SAME_PROVINCE, Tier.SAME_REGION, Tier.ADJOINING_REGION,
                                           Tier.ELSEWHERE]
    # Paging through keeps the same order.
    second = await backend.search_offers(CatalogQuery(q="computadora", ubigeo=CUSCO, offset=2, limit=2))
    assert [h.id for h in second.hits] == [docs["abancay"].id, docs["lima"].id]


async def test_local_first_does_not_hide_a_much_better_distant_match(backend):
    # The local offer mentions printers only in passing; the distant one is a printer.
    local = offer("Cable USB de datos", domicile="cusco",
                  description="Repuesto genérico; sirve también para conectar una impresora antigua")
    distant = offer("Impresora láser monocromática", domicile="lima")
    async with db.unit_of_work():
        await backend.upsert("offers", [local, distant])
    page = await backend.search_offers(CatalogQuery(q="impresora", ubigeo=CUSCO))
    assert [h.id for h in page.hits] == [distant.id, local.id]
    assert [h.tier for h in page.hits] == [Tier.ELSEWHERE, Tier.SAME_PROVINCE]


async def test_geo_sort_nearest_supplier_first(backend):
    docs = {place: offer("Escritorio de melamina", domicile=place) for place in ("lima", "abancay", "cusco")}
    async with db.unit_of_work():
        await backend.upsert("offers", list(docs.values()))
    page = await backend.search_offers(CatalogQuery(q="escritorio", ubigeo=CUSCO, geo_sort=True))
    assert [h.id for h in page.hits] == [docs[p].id for p in ("cusco", "abancay", "lima")]


async def test_upsert_replaces_and_delete_removes(backend):
    doc = offer("Proyector multimedia", price=100_000)
    async with db.unit_of_work():
        await backend.upsert("offers", [doc])
    async with db.unit_of_work():
        await backend.upsert("offers", [doc])  # twice: idempotent
    changed = offer_doc(**{**{k: v for k, v in doc.to_dict().items() if k not in ("digest", "id")},
                           "name": "Proyector multimedia HD", "price_cents": 90_000})
    async with db.unit_of_work():
        await backend.upsert("offers", [changed])
    page = await backend.search_offers(CatalogQuery(q="proyector"))
    assert [(h.id, h.doc["price_cents"]) for h in page.hits] == [(doc.id, 90_000)]
    assert (await backend.digests("offers")) == {doc.id: changed.digest}

    async with db.unit_of_work():
        await backend.delete("offers", [doc.id, "not-indexed_08"])
    assert (await backend.search_offers(CatalogQuery(q="proyector"))).hits == []
    assert await backend.digests("offers") == {}


# ------------------------------------------------------------------------------------------------ tenders

def tender(title: str, *, ubigeo: str = "150101", method: str = "simplified_award",
           category: str = "goods", state: str = "published", closing_ts: int = 1_800_000_000, **extra):
    from search.domain import tender_doc

    return tender_doc(tender_id=str(uuid.uuid4()), title=title, ubigeo=ubigeo, method=method, category=category,
                      state=state, closing_ts=closing_ts, classification="30111601", **extra)


async def test_tenders_text_filters_tiers_and_deadline_order(backend):
    from search.domain import TenderQuery

    cusco = tender("Adquisición de cemento portland", ubigeo="080101", closing_ts=1_800_000_300)
    puno = tender("Compra de cemento para obras", ubigeo="210101", closing_ts=1_800_000_100)
    lima = tender("Servicio de limpieza", ubigeo="150101", category="services", method="public_contest",
                  state="tendering", closing_ts=1_800_000_200)
    async with db.unit_of_work():
        await backend.upsert("tenders", [cusco, puno, lima])

    page = await backend.search_tenders(TenderQuery(q="cemneto", ubigeo="080101"))
    assert [(h.id, h.tier) for h in page.hits] == [(cusco.id, Tier.SAME_PROVINCE), (puno.id, Tier.ADJOINING_REGION)]
    page = await backend.search_tenders(TenderQuery())  # no words: soonest deadline first
    assert [h.id for h in page.hits] == [puno.id, lima.id, cusco.id]
    page = await backend.search_tenders(TenderQuery(categories=("services",), methods=("public_contest",)))
    assert [h.id for h in page.hits] == [lima.id]
    page = await backend.search_tenders(TenderQuery(states=("published",), regions=("21",)))
    assert [h.id for h in page.hits] == [puno.id]
    page = await backend.search_tenders(TenderQuery(closing_from=1_800_000_150, closing_to=1_800_000_300,
                                                    facets=("state",)))
    assert {h.id for h in page.hits} == {lima.id, cusco.id}
    assert page.facets["state"] == {"published": 1, "tendering": 1} and page.total == 2
    async with db.unit_of_work():
        await backend.delete("tenders", [lima.id])
    assert lima.id not in await backend.digests("tenders")

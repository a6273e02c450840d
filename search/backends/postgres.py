"""The PostgreSQL search backend: the embedded default and any deployment without Meilisearch.

Derived tables `search_offer` / `search_tender` (see migrations/) hold each document as JSON plus the
columns searches filter on and a generated, weighted tsvector (`ma_spanish`: Spanish stemming with accents
folded by `unaccent`). A query:

1. folds and splits the text into words and corrects each word against `search_vocabulary` by trigram
   distance (a GiST KNN lookup per word: exact words stay, "computadra" becomes "computadora");
2. runs the full-text match with the filters, computing each match's tier with a SQL CASE over the
   supplier's province and region and the adjacency of the delivery region;
3. orders by the shared policy, `relevance x tier weight`, where relevance is 1.0 when every query word is
   in the title and 0.2 + 0.5 x ts_rank (scaled to 0..1) otherwise. It fetches tier by tier, best tier
   first: title matches a page at a time from the title's own GIN index (a LIMIT, no ranking of every
   match: they are equally relevant), other matches ranked only when those do not fill the page; and a
   tier whose weight (its best possible score) cannot beat the page already held is never read. So a
   common word costs a few index lookups and a page of rows, not a ranking of thousands.

Counts and facets come from one GROUPING SETS scan that never ranks.
Writes run in the caller's transaction when there is one (the outbox consumer's), so a document and the
consumer's cursor commit together.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import msgspec

from marketplace.core import db, geo
from search import domain
from search.domain import CatalogQuery, Hit, Locality, OfferDoc, Page, TenderDoc, TenderQuery, Tier
from search.protocol import Kind

# ts_rank of a single title (weight A) occurrence: a title match is relevance 1.0, other fields less.
_RANK_FULL = 0.6079
_RANK_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"  # D, C, B, A
_MIN_CORRECTABLE = 4
# Without facets, matches are counted exactly up to this many, estimated beyond: an exact count of a common
# word reads every matching row, which costs more than the whole page.
COUNT_CAP = 1000
EXACT_BELOW = 200  # planner estimates above this are trusted rather than checked by counting

_TABLE = {"offers": "search_offer", "tenders": "search_tender"}
_OFFER_FACET_COLS = {"region": "region", "family": "family"}
_TENDER_FACET_COLS = {"region": "region", "method": "method", "category": "category", "state": "state"}


class _Sql:
    """A WHERE clause under construction, with numbered parameters."""

    def __init__(self) -> None:
        self.args: list[Any] = []
        self.where: list[str] = []
        self.text: str | None = None  # the full-text condition, kept apart so a title-only match can replace it

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, clause: str) -> None:
        self.where.append(clause)

    @property
    def clause(self) -> str:
        """Every condition, the full-text one included."""
        parts = [*self.where, *([self.text] if self.text else [])]
        return " AND ".join(parts) if parts else "TRUE"

    @property
    def filters(self) -> str:
        """Every condition but the full-text one."""
        return " AND ".join(self.where) if self.where else "TRUE"

    def copy(self) -> _Sql:
        other = _Sql()
        other.args, other.where, other.text = list(self.args), list(self.where), self.text
        return other


class PostgresIndex:
    name = "postgres"

    async def configure(self) -> None:
        # The tables are built by the migrations; nothing to apply at run time.
        return None

    async def close(self) -> None:
        return None

    # -------------------------------------------------------------------------------------------- writes

    async def upsert(self, kind: Kind, docs: Sequence[OfferDoc | TenderDoc]) -> None:
        if not docs:
            return
        payload = msgspec.json.encode([d.to_dict() for d in docs]).decode()
        if kind == "offers":
            await db.execute(
                """
                INSERT INTO search_offer AS s (id, offer_id, supplier_id, region, supplier_ubigeo,
                    supplier_province, supplier_region, classification, family, price_cents, delivery_days,
                    doc, digest)
                SELECT d->>'id', d->>'offer_id', d->>'supplier_id', d->>'region', d->>'supplier_ubigeo',
                       d->>'supplier_province', d->>'supplier_region',
                       regexp_replace(coalesce(d->>'classification', ''), '[^0-9]', '', 'g'),
                       coalesce(d->>'family', ''), (d->>'price_cents')::bigint, (d->>'delivery_days')::int,
                       d, d->>'digest'
                FROM jsonb_array_elements($1::jsonb) AS d
                ON CONFLICT (id) DO UPDATE SET
                    offer_id = EXCLUDED.offer_id, supplier_id = EXCLUDED.supplier_id, region = EXCLUDED.region,
                    supplier_ubigeo = EXCLUDED.supplier_ubigeo, supplier_province = EXCLUDED.supplier_province,
                    supplier_region = EXCLUDED.supplier_region, classification = EXCLUDED.classification,
                    family = EXCLUDED.family, price_cents = EXCLUDED.price_cents,
                    delivery_days = EXCLUDED.delivery_days, doc = EXCLUDED.doc, digest = EXCLUDED.digest
                WHERE s.digest IS DISTINCT FROM EXCLUDED.digest
                """,
                payload,
            )
            text = "concat_ws(' ', d->>'name', d->>'attributes', d->>'classification_name', d->>'description')"
        else:
            await db.execute(
                """
                INSERT INTO search_tender AS s (id, region, province, ubigeo, method, category, state,
                    classification, closing_ts, doc, digest)
                SELECT d->>'id', coalesce(d->>'region', ''), coalesce(d->>'province', ''),
                       coalesce(d->>'ubigeo', ''), coalesce(d->>'method', ''), coalesce(d->>'category', ''),
                       coalesce(d->>'state', ''),
                       regexp_replace(coalesce(d->>'classification', ''), '[^0-9]', '', 'g'),
                       (d->>'closing_ts')::bigint, d, d->>'digest'
                FROM jsonb_array_elements($1::jsonb) AS d
                ON CONFLICT (id) DO UPDATE SET
                    region = EXCLUDED.region, province = EXCLUDED.province, ubigeo = EXCLUDED.ubigeo,
                    method = EXCLUDED.method, category = EXCLUDED.category, state = EXCLUDED.state,
                    classification = EXCLUDED.classification, closing_ts = EXCLUDED.closing_ts,
                    doc = EXCLUDED.doc, digest = EXCLUDED.digest
                WHERE s.digest IS DISTINCT FROM EXCLUDED.digest
                """,
                payload,
            )
            text = "concat_ws(' ', d->>'title', d->>'lots_text', d->>'description', d->>'agency_name')"
        # New words join the vocabulary (counts are refreshed by rebuild_vocabulary()).
        await db.execute(
            f"""
            INSERT INTO search_vocabulary (kind, word)
            SELECT DISTINCT $2, w FROM jsonb_array_elements($1::jsonb) AS d,
                 regexp_split_to_table(search_fold({text}), '[^a-z0-9]+') AS w
            WHERE length(w) >= 3
            ORDER BY 2
            ON CONFLICT DO NOTHING
            """,
            payload, kind,
        )

    async def delete(self, kind: Kind, ids: Sequence[str]) -> None:
        if ids:
            await db.execute(f"DELETE FROM {_TABLE[kind]} WHERE id = ANY($1::text[])", list(ids))

    async def clear(self, kind: Kind) -> None:
        await db.execute(f"DELETE FROM {_TABLE[kind]}")
        await db.execute("DELETE FROM search_vocabulary WHERE kind = $1", kind)

    async def rebuild_vocabulary(self, kind: Kind) -> None:
        """Recount the vocabulary from the indexed documents (after a reindex)."""
        text = ("concat_ws(' ', doc->>'name', doc->>'attributes', doc->>'classification_name', doc->>'description')"
                if kind == "offers" else
                "concat_ws(' ', doc->>'title', doc->>'lots_text', doc->>'description', doc->>'agency_name')")
        await db.execute("DELETE FROM search_vocabulary WHERE kind = $1", kind)
        await db.execute(
            f"""
            INSERT INTO search_vocabulary (kind, word, ndoc)
            SELECT $1, w, count(DISTINCT id) FROM {_TABLE[kind]},
                 regexp_split_to_table(search_fold({text}), '[^a-z0-9]+') AS w
            WHERE length(w) >= 3 GROUP BY w
            """,
            kind,
        )

    async def digests(self, kind: Kind) -> dict[str, str]:
        rows = await db.fetch(f"SELECT id, digest FROM {_TABLE[kind]}")
        return {r["id"]: r["digest"] for r in rows}

    # ------------------------------------------------------------------------------------------- queries

    async def correct(self, kind: Kind, text: str) -> list[str]:
        """The query's words, each replaced by the nearest indexed word when it is not indexed itself."""
        ws = domain.words(text)
        if not ws:
            return []
        rows = await db.fetch(
            """
            SELECT coalesce(
                (SELECT v.word FROM search_vocabulary v WHERE v.kind = $1 AND v.word = w.word),
                CASE WHEN length(w.word) >= $3 AND w.word !~ '^[0-9]+$' THEN
                    (SELECT v.word FROM search_vocabulary v
                     WHERE v.word % w.word AND v.kind = $1
                     ORDER BY v.word <-> w.word, v.ndoc DESC LIMIT 1)
                END,
                w.word) AS word
            FROM unnest($2::text[]) WITH ORDINALITY AS w(word, n)
            ORDER BY w.n
            """,
            kind, ws, _MIN_CORRECTABLE,
        )
        return [r["word"] for r in rows]

    async def _text(self, kind: Kind, q: str, sql: _Sql) -> tuple[str | None, str | None]:
        """Adds the full-text condition; returns (tsquery placeholder or None, corrected text if changed)."""
        original = domain.words(q)
        if not original:
            return None, None
        corrected = await self.correct(kind, q)
        ph = sql.arg(" ".join(corrected))
        tsq = f"plainto_tsquery('ma_spanish', {ph})"
        sql.text = f"tsv @@ {tsq}"
        return tsq, (" ".join(corrected) if corrected != original else None)

    @staticmethod
    def _tier_case(sql: _Sql, loc: Locality, province_col: str, region_col: str) -> str:
        p = sql.arg(loc.province)
        r = sql.arg(loc.region)
        a = sql.arg(list(loc.adjoining))
        return (f"(CASE WHEN {province_col} = {p} THEN 0 WHEN {region_col} = {r} THEN 1 "
                f"WHEN {region_col} = ANY({a}::text[]) THEN 2 ELSE 3 END)")

    async def search_offers(self, query: CatalogQuery) -> Page:
        sql = _Sql()
        served = query.served_regions()
        if served == ():
            return Page(hits=[], total=0, offset=query.offset, limit=query.limit,
                        facets={f: {} for f in query.facets})
        if served is not None:
            sql.add(f"region = ANY({sql.arg(list(served))}::text[])")
        if query.classification:
            digits = "".join(c for c in query.classification if c.isdigit())
            sql.add(f"classification LIKE {sql.arg(digits + '%')}")
        if query.price_min is not None:
            sql.add(f"price_cents >= {sql.arg(query.price_min)}")
        if query.price_max is not None:
            sql.add(f"price_cents <= {sql.arg(query.price_max)}")
        tsq, corrected = await self._text("offers", query.q, sql)
        loc = Locality.of(query.ubigeo) if query.ubigeo else None
        facets, total, exact = await self._facets("search_offer", sql, query.facets, _OFFER_FACET_COLS)
        if query.geo_sort and loc is not None:
            hits = await self._by_distance(sql, tsq, loc, query.offset, query.limit)
        else:
            hits = await self._ranked("search_offer", sql, tsq, loc, "supplier_province", "supplier_region",
                                      query.offset, query.limit, tiebreak="price_cents, id")
        return self._page(query, hits, total, exact, facets, corrected)

    async def search_tenders(self, query: TenderQuery) -> Page:
        sql = _Sql()
        for col, values in (("region", query.regions), ("method", query.methods),
                            ("category", query.categories), ("state", query.states)):
            if values:
                sql.add(f"{col} = ANY({sql.arg(list(values))}::text[])")
        if query.classification:
            digits = "".join(c for c in query.classification if c.isdigit())
            sql.add(f"classification LIKE {sql.arg(digits + '%')}")
        if query.closing_from is not None:
            sql.add(f"closing_ts >= {sql.arg(query.closing_from)}")
        if query.closing_to is not None:
            sql.add(f"closing_ts <= {sql.arg(query.closing_to)}")
        tsq, corrected = await self._text("tenders", query.q, sql)
        loc = Locality.of(query.ubigeo) if query.ubigeo else None
        facets, total, exact = await self._facets("search_tender", sql, query.facets, _TENDER_FACET_COLS)
        hits = await self._ranked("search_tender", sql, tsq, loc, "province", "region",
                                  query.offset, query.limit, tiebreak="closing_ts NULLS LAST, id")
        return self._page(query, hits, total, exact, facets, corrected)

    @staticmethod
    def _page(query: CatalogQuery | TenderQuery, hits: list[Hit], total: int, exact: bool,
              facets: dict[str, dict[str, int]], corrected: str | None) -> Page:
        total = max(total, query.offset + len(hits) + (1 if len(hits) == query.limit and not exact else 0))
        return Page(hits=hits, total=total, total_exact=exact, offset=query.offset, limit=query.limit,
                    facets=facets, corrected=corrected)

    async def _count(self, table: str, sql: _Sql) -> tuple[int, bool]:
        """Exact for small results (the planner expects at most EXACT_BELOW; counted up to COUNT_CAP);
        otherwise the planner's estimate: reading thousands of matching rows to count them would cost
        more than the page itself (Meilisearch estimates large totals too)."""
        plan = await db.fetchrow(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE {sql.clause}", *sql.args)
        estimate = int(_json(plan["QUERY PLAN"])[0]["Plan"]["Plan Rows"]) if plan else 0
        if estimate > EXACT_BELOW:
            return estimate, False
        row = await db.fetchrow(
            f"SELECT count(*) AS n FROM (SELECT 1 FROM {table} WHERE {sql.clause} LIMIT {COUNT_CAP + 1}) s",
            *sql.args)
        n = int(row["n"]) if row else 0
        return (n, True) if n <= COUNT_CAP else (max(estimate, n), False)

    async def _facets(self, table: str, sql: _Sql, wanted: Sequence[str],
                      columns: dict[str, str]) -> tuple[dict[str, dict[str, int]], int, bool]:
        cols = [columns[f] for f in wanted if f in columns]
        if not cols:
            return {}, *(await self._count(table, sql))
        sets = ", ".join([f"({c})" for c in cols] + ["()"])
        select = ", ".join([*(f"{c}" for c in cols), *(f"GROUPING({c}) AS g_{c}" for c in cols)])
        rows = await db.fetch(
            f"SELECT {select + ', ' if select else ''}count(*) AS n FROM {table} WHERE {sql.clause} "
            f"GROUP BY GROUPING SETS ({sets})",
            *sql.args,
        )
        facets: dict[str, dict[str, int]] = {f: {} for f in wanted if f in columns}
        total = 0
        for row in rows:
            grouped = [c for c in cols if row[f"g_{c}"] == 0]
            if not grouped:
                total = row["n"]
                continue
            col = grouped[0]
            name = next(f for f in wanted if columns.get(f) == col)
            if row[col] not in (None, ""):
                facets[name][row[col]] = row["n"]
        for name in facets:
            facets[name] = dict(sorted(facets[name].items(), key=lambda kv: (-kv[1], kv[0])))
        return facets, total, True

    async def _ranked(self, table: str, sql: _Sql, tsq: str | None, loc: Locality | None,
                      province_col: str, region_col: str, offset: int, limit: int,
                      *, tiebreak: str) -> list[Hit]:
        """The page by the policy's score, fetching tier by tier (one pseudo-tier without a place).

        Relevance: 1.0 when every query word is in the title; otherwise 0.2 + 0.5 x ts_rank scaled to 0..1
        (so below any title match). Within a tier, title matches are taken a page at a time from the
        title index (LIMIT, no ranking of every match: they are all equally relevant); other matches only
        when the title ones do not fill the page. A tier is skipped when its weight, the best score it
        could give, cannot beat the page already held: the large distant tier is rarely read.
        """
        need = offset + limit
        held: list[Hit] = []
        places: list[tuple[Locality, Tier] | None] = [(loc, t) for t in Tier] if loc is not None else [None]
        for place in places:
            if place is not None:
                at, tier = place
                if len(held) >= need:
                    floor = sorted((h.score for h in held), reverse=True)[need - 1]
                    if domain.TIER_WEIGHTS[tier] <= floor:
                        break
                if tier is Tier.SAME_PROVINCE and at.province is None:
                    continue
            held.extend(await self._tier(table, sql, tsq, place, province_col, region_col, need, tiebreak))
        held.sort(key=lambda h: (-round(h.score, 9), h.tier or 0))  # stable: SQL order within a tier
        return held[offset:need]

    async def _tier(self, table: str, sql: _Sql, tsq: str | None, place: tuple[Locality, Tier] | None,
                    province_col: str, region_col: str, need: int, tiebreak: str) -> list[Hit]:
        """One tier's hits around a place; `place` None: no place given, every hit unranked by locality."""
        q = sql.copy()
        if place is None:
            case, only = "NULL::int", "TRUE"
        else:
            loc, tier = place
            case = self._tier_case(q, loc, province_col, region_col)
            # The tier also as an indexable predicate (the CASE alone cannot use an index).
            if tier is Tier.SAME_PROVINCE:
                only = f"{province_col} = {q.arg(loc.province)}"
            elif tier is Tier.SAME_REGION:
                only = (f"{region_col} = {q.arg(loc.region)} "
                        f"AND {province_col} IS DISTINCT FROM {q.arg(loc.province)}")
            elif tier is Tier.ADJOINING_REGION:
                only = f"{region_col} = ANY({q.arg(list(loc.adjoining))}::text[])"
            else:
                only = f"NOT ({region_col} = ANY({q.arg([loc.region, *loc.adjoining])}::text[]))"

        def hits(rows: list[dict[str, Any]]) -> list[Hit]:
            out = []
            for row in rows:
                t = None if row["tier"] is None else Tier(row["tier"])
                out.append(Hit(id=row["id"], doc=_json(row["doc"]), tier=t, score=domain.score(float(row["rel"]), t)))
            return out

        if tsq is None:  # browsing: every document is as relevant; cheapest first
            return hits(await db.fetch(
                f"SELECT id, doc, 1.0 AS rel, {case} AS tier FROM {table} WHERE {q.filters} AND {only} "
                f"ORDER BY {tiebreak} LIMIT {need}", *q.args))
        rank = f"least(1.0, ts_rank('{_RANK_WEIGHTS}', tsv, {tsq}) / {_RANK_FULL})"
        title = hits(await db.fetch(
            f"SELECT id, doc, 1.0 AS rel, {case} AS tier FROM {table} "
            f"WHERE {q.filters} AND {only} AND name_tsv @@ {tsq} LIMIT {need}", *q.args))
        if len(title) >= need:
            return title
        seen = q.arg([h.id for h in title])
        rest = hits(await db.fetch(
            f"SELECT id, doc, 0.2 + 0.5 * {rank} AS rel, {case} AS tier FROM {table} "
            f"WHERE {q.clause} AND {only} AND id <> ALL({seen}::text[]) "
            f"ORDER BY rel DESC LIMIT {need - len(title)}", *q.args))
        return title + rest

    async def _by_distance(self, sql: _Sql, tsq: str | None, loc: Locality, offset: int,
                           limit: int) -> list[Hit]:

        lat, lng = geo.centroid(loc.ubigeo)
        rel = (f"CASE WHEN name_tsv @@ {tsq} THEN 1.0 ELSE 0.2 + 0.5 * least(1.0, "
               f"ts_rank('{_RANK_WEIGHTS}', tsv, {tsq}) / {_RANK_FULL}) END" if tsq else "1.0")
        la, ln, k = sql.arg(lat), sql.arg(lng), sql.arg(math.cos(math.radians(lat)))
        rows = await db.fetch(
            f"SELECT id, doc, {rel} AS rel FROM search_offer WHERE {sql.clause} ORDER BY "
            f"power((doc->>'lat')::float8 - {la}, 2) + power(((doc->>'lng')::float8 - {ln}) * {k}, 2) "
            f"NULLS LAST, id LIMIT {sql.arg(limit)} OFFSET {sql.arg(offset)}",
            *sql.args,
        )
        hits = []
        for r in rows:
            doc: dict[str, Any] = _json(r["doc"])
            tier = loc.tier_of(doc.get("supplier_ubigeo"))
            hits.append(Hit(id=r["id"], doc=doc, score=domain.score(float(r["rel"]), tier), tier=tier))
        return hits


def _json(value: Any) -> Any:
    """A json/jsonb value as asyncpg returns it: text (no codec registered), or already decoded."""
    return msgspec.json.decode(value) if isinstance(value, (str, bytes)) else value

"""The demo's reverse auctions are on their tender pages: the finished one with its final price, its winner and
the whole sequence of bids with the bidders' names (public once it ended); the scheduled one with its start in
Lima's time and its rules (window, minimum decrement, soft close)."""

from __future__ import annotations

from datetime import timedelta

from marketplace.core import clock, db
from marketplace.portal import formatting
from tests.portal.test_pages import _html


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("'", "&#39;").replace('"', "&#34;")


async def _auction(state: str):
    return await db.fetchrow("SELECT id, tender_id, starts_at, best_price, currency FROM auction WHERE state = $1"
                             " LIMIT 1", state)


def _auction_section(text: str) -> str:
    start = text.index('id="auction"')
    return text[start:text.index("</section>", start)]


async def test_a_finished_auction_shows_its_final_price_winner_and_public_sequence_of_bids(site):
    a = await _auction("closed")
    assert a is not None, "the demo seed has a finished auction"
    text = _html(await site.get(f"/tenders/{a['tender_id']}"))
    assert 'id="auction"' in text and "Subasta inversa" in text
    section = _auction_section(text)
    assert "Precio final" in section and formatting.money(a["best_price"], a["currency"]) in section
    winner = await db.fetchrow("SELECT w.supplier_id, o.name, w.value FROM award w JOIN organisation o"
                               " ON o.id = w.supplier_id WHERE w.tender_id = $1", a["tender_id"])
    assert winner["value"] == a["best_price"]  # the auction fed the award
    assert (f'<dt>Ganador</dt><dd><a href="/suppliers/{winner["supplier_id"]}">{_esc(winner["name"])}</a>'
            in section)
    bids = await db.fetch("SELECT b.seq, b.price, o.name FROM auction_bid b JOIN organisation o"
                          " ON o.id = b.supplier_id WHERE b.auction_id = $1 ORDER BY b.seq", a["id"])
    assert len(bids) >= 5 and f"tras {len(bids)} lances" in section
    assert "Secuencia de lances, ítem 1" in section
    table = section[section.index("<table"):]
    assert table.count("<tr><td>") == len(bids)  # one row per bid, none hidden
    positions = [table.index(formatting.money(b["price"], a["currency"])) for b in bids]
    assert positions == sorted(positions)  # in the order they were received
    for b in bids:
        assert _esc(b["name"]) in section  # names are public after the close
    assert "prorrogó hasta las" in section  # the soft-close extension is shown
    assert "/events" not in section  # no live board for an ended auction


async def test_a_scheduled_auction_shows_its_start_in_lima_time_and_its_rules(site):
    a = await _auction("scheduled")
    assert a is not None, "the demo seed has an auction scheduled to start"
    text = _html(await site.get(f"/tenders/{a['tender_id']}"))
    section = _auction_section(text)
    assert formatting.when(a["starts_at"]) in section and "hora de Lima" in section
    assert "10:00" in formatting.when(a["starts_at"])  # 15:00 UTC, shown as Lima time
    assert "Duración de la puja" in section and "20 minutos" in section
    assert "Decremento mínimo" in section and "Cierre con prórroga" in section
    assert "Precio final" not in section and "Secuencia de lances" not in section
    # in English too, from the same catalogues
    text = _html(await site.get(f"/tenders/{a['tender_id']}", headers={"Accept-Language": "en"}))
    assert "Reverse auction" in text and "Minimum decrement" in text


async def test_tenders_without_an_auction_have_no_auction_section(site):
    t = await db.fetchrow("SELECT t.id FROM tender t WHERE t.state <> 'draft' AND NOT EXISTS"
                          " (SELECT 1 FROM auction a WHERE a.tender_id = t.id) LIMIT 1")
    text = _html(await site.get(f"/tenders/{t['id']}"))
    assert 'id="auction"' not in text and "Subasta inversa</h2>" not in text


async def test_a_running_auction_links_the_anonymous_live_board_with_best_price_and_time_left(site, settings):
    """Last in this module: it starts the demo's scheduled auction (five minutes into its window)."""
    from tenders.auctions import service as auctions

    a = await _auction("scheduled")
    clock.install(clock.FixedClock(a["starts_at"] + timedelta(minutes=5)))
    try:
        await auctions.settle(auction_id=a["id"], settings=settings)
        a = await db.fetchrow("SELECT id, tender_id, state, best_price, currency FROM auction WHERE id = $1", a["id"])
        assert a["state"] == "running"
        text = _html(await site.get(f"/tenders/{a['tender_id']}"))
    finally:
        clock.reset()
    section = _auction_section(text)
    assert f'href="/api/v1/auctions/{a["id"]}/events"' in section
    assert "Mejor precio actual" in section and formatting.money(a["best_price"], a["currency"]) in section
    assert "Tiempo restante" in section and "15 minutos" in section  # 20-minute window, 5 minutes in
    names = await db.fetch("SELECT o.name FROM auction_participant p JOIN organisation o ON o.id = p.supplier_id"
                           " WHERE p.auction_id = $1", a["id"])
    assert names and not any(_esc(n["name"]) in section for n in names)  # anonymous while it runs

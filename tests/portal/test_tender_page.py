"""A tender's page puts what matters first: the deadline with a countdown (server-rendered), the red flags;
the demo's tenders carry real PDF bases shown with human sizes; empty sections are left out; bonuses in words;
a card names its place as the place of delivery."""

from __future__ import annotations

import html
import re

from marketplace.core import db


async def test_an_open_tender_shows_its_countdown_documents_and_no_empty_sections(site):
    t = await db.fetchrow("SELECT id FROM tender WHERE state = 'tendering' AND submission_deadline > now()"
                          " ORDER BY submission_deadline LIMIT 1")
    text = html.unescape((await site.get(f"/tenders/{t['id']}")).text)
    head = text.split('<nav class="toc"')[0]
    assert re.search(r"Las ofertas se cierran en \d+ (días?|horas?|minutos?)", head), head[-1500:]
    assert "alerta" in head  # the red flags (or their absence) before the sections
    # documents: real PDFs, sizes in words
    docs = await db.fetch("SELECT filename, size FROM tender_document WHERE tender_id = $1", t["id"])
    assert docs and all(d["filename"].endswith(".pdf") for d in docs)
    assert re.search(r"\d+(\.\d)? (kB|byte)", text) and " B, " not in text
    # an open tender has no opening, score sheet, award or contract yet: no such sections
    for section in ('id="opening"', 'id="evaluation"', 'id="awards"', 'id="contracts"'):
        assert section not in text
    en = html.unescape((await site.get(f"/tenders/{t['id']}", params={"lang": "en"})).text)
    assert re.search(r"Bids close in \d+ (days?|hours?|minutes?)", en)


async def test_demo_documents_are_pdfs_that_download(site):
    d = await db.fetchrow("SELECT tender_id, document_id FROM tender_document d JOIN tender t ON t.id = d.tender_id"
                          " WHERE t.state <> 'draft' LIMIT 1")
    r = await site.get(f"/api/v1/tenders/{d['tender_id']}/documents/{d['document_id']}")
    assert r.status_code == 200 and r.content.startswith(b"%PDF-1.4") and r.content.rstrip().endswith(b"%%EOF")


async def test_an_awarded_tender_says_bonuses_in_words_and_cards_label_the_place(site):
    t = await db.fetchrow("SELECT tender_id FROM award LIMIT 1")
    text = html.unescape((await site.get(f"/tenders/{t['tender_id']}")).text)
    assert "regional +" not in text and "mype +" not in text
    assert "— – —" not in text
    cards = html.unescape((await site.get("/tenders")).text)
    assert "<dt>Lugar de entrega</dt>" in cards

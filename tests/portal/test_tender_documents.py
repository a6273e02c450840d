"""A tender's page lists its documents with their SHA-256, and the link downloads the very file."""

from __future__ import annotations

import hashlib

from tests.tenders import factories as tf


async def test_the_tender_page_lists_documents_with_their_hash_and_the_link_downloads_them(client, settings,
                                                                                          fixed_clock):
    officer = await tf.officer(settings)
    t = await tf.draft(client, officer)
    content = b"%PDF-1.4 bases de la convocatoria"
    r = await client.post(f"/api/v1/tenders/{t['id']}/documents", headers=officer.headers, data={"title": "Bases"},
                          files={"file": ("bases.pdf", content, "application/pdf")})
    assert r.status_code == 201, r.text
    # a draft is not public, its page neither
    assert (await client.get(f"/tenders/{t['id']}")).status_code == 404
    assert (await client.post(f"/api/v1/tenders/{t['id']}/publish", headers=officer.headers)).status_code == 200

    page = await client.get(f"/tenders/{t['id']}")
    assert page.status_code == 200
    digest = hashlib.sha256(content).hexdigest()
    assert digest in page.text and "bases.pdf" in page.text
    link = f"/api/v1/tenders/{t['id']}/documents/{r.json()['document_id']}"
    assert f'href="{link}"' in page.text
    download = await client.get(link)
    assert download.status_code == 200 and hashlib.sha256(download.content).hexdigest() == digest

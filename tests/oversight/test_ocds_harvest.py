"""Scheduled OCDS harvest against a live local HTTP server (started here) serving the fixture files:
a paged release package API (`links.next`) and a bulk-file listing. A broken response in the middle of a
page, and a crash while a page is being written, leave neither rows nor cursor behind; the next run resumes
at that page without duplicating anything; failures back off, with the state in the database."""

from __future__ import annotations

import gzip
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from marketplace.core import db
from marketplace.core.errors import InvalidInput
from marketplace.oversight.imports import harvest
from marketplace.oversight.imports import queries as q
from tests.conftest import ROOT

FIX = ROOT / "tests" / "fixtures" / "ocds"
PAGE = 3


def _releases() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in [FIX / "fictional" / "release-package.json", FIX / "peru" / "release-package-1045871.json"]:
        out += json.loads(path.read_text())["releases"]
    out += [json.loads(p.read_text()) for p in sorted((FIX / "real" / "paraguay").glob("*.json"))]
    return out  # 6 + 3 + 4 = 13 releases, 3 processes


class Feed:
    """What the server serves, and what the test tells it to break."""

    def __init__(self) -> None:
        self.releases = _releases()
        self.break_page: int | None = None  # that page's next answer is cut in the middle
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.port = 0

    def page(self, n: int) -> bytes:
        chunk = self.releases[(n - 1) * PAGE:n * PAGE]
        package: dict[str, Any] = {"uri": f"http://127.0.0.1:{self.port}/feed?page={n}", "version": "1.1",
                                   "publishedDate": "2024-05-01T00:00:00Z", "publisher": {"name": "Feed test"},
                                   "releases": chunk}
        if n * PAGE < len(self.releases):
            package["links"] = {"next": f"http://127.0.0.1:{self.port}/feed?page={n + 1}"}
        return json.dumps(package).encode()


@pytest.fixture
def feed():
    state = Feed()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            state.requests.append(self.path)
            if parts.path == "/feed":
                n = int(parse_qs(parts.query).get("page", ["1"])[0])
                body = state.page(n)
                if state.break_page == n:
                    state.break_page = None
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[:len(body) // 2])  # the connection drops half-way through the page
                    self.wfile.flush()
                    self.close_connection = True
                    return
            elif parts.path == "/after":  # a releasesAfter API: the next PAGE releases by date, no links
                after = parse_qs(parts.query).get("releasesAfter", [""])[0]
                chunk = sorted((r for r in state.releases if r["date"] > after), key=lambda r: r["date"])[:PAGE]
                body = json.dumps({"uri": self.path, "version": "1.1", "publishedDate": "2024-05-01T00:00:00Z",
                                   "publisher": {"name": "Feed test"}, "releases": chunk}).encode()
            elif parts.path == "/bulk/":
                # As our own GET /ocds/bulk: a day still being written is listed with "complete": false.
                body = json.dumps([{"name": name, "url": f"/bulk/{name}", "complete": ".partial." not in name}
                                   for name in sorted(state.files)]).encode()
            elif parts.path.startswith("/bulk/") and parts.path[6:] in state.files:
                body = state.files[parts.path[6:]]
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


async def _register(url: str, kind: str = "api") -> q.PublisherRow:
    async with db.unit_of_work():
        return await harvest.register(name="Feed test", prefixes=["ocds-213czf"], feed_url=url, feed_kind=kind,
                                      interval_minutes=60)


async def _counts() -> tuple[int, int, int]:
    row = await db.fetchrow("SELECT (SELECT count(*) FROM ocds_import_release) AS r,"
                            " (SELECT count(DISTINCT hash) FROM ocds_import_release) AS h,"
                            " (SELECT count(*) FROM ocds_compiled) AS c")
    return row["r"], row["h"], row["c"]


async def test_api_feed_resumes_after_a_broken_page_without_duplicates_and_backs_off(client, fixed_clock, feed):
    pub = await _register(f"http://127.0.0.1:{feed.port}/feed")
    feed.break_page = 2
    [result] = await harvest.harvest_due()
    assert result.pages == 1 and result.releases_new == PAGE and "RemoteProtocolError" in result.error
    assert result.next_at == fixed_clock.now() + timedelta(seconds=harvest.BACKOFF_SECONDS[0])
    state = await q.publisher_by_id(pub.id)
    assert state is not None and state.feed_failures == 1 and "RemoteProtocolError" in state.feed_last_error
    assert state.feed_cursor == f"url:http://127.0.0.1:{feed.port}/feed?page=2"
    assert await _counts() == (PAGE, PAGE, 1)

    assert await harvest.harvest_due() == []  # backing off: not due yet
    fixed_clock.advance(seconds=harvest.BACKOFF_SECONDS[0])
    [result] = await harvest.harvest_due()
    assert result.error == "" and result.pages == 4 and result.releases_new == 13 - PAGE
    assert await _counts() == (13, 13, 3)
    state = await q.publisher_by_id(pub.id)
    assert state is not None and state.feed_failures == 0 and state.feed_last_error == ""
    assert state.feed_next_at == fixed_clock.now() + timedelta(minutes=60)
    assert state.feed_cursor == f"url:http://127.0.0.1:{feed.port}/feed?page=5"  # the last page, taken again next
    assert state.release_count == 13 and state.process_count == 3

    # Every process belongs to the harvested publisher (its packages name it; the prefixes are added).
    rows = await db.fetch("SELECT DISTINCT publisher_id FROM ocds_compiled")
    assert [r["publisher_id"] for r in rows] == [pub.id]

    # The next run, an interval later, reads the last page again: nothing new, nothing duplicated.
    feed.requests.clear()
    fixed_clock.advance(minutes=60)
    [result] = await harvest.harvest_due()
    assert result.pages == 1 and result.releases_new == 0 and feed.requests == ["/feed?page=5"]
    assert await _counts() == (13, 13, 3)


async def test_a_crash_while_a_page_is_written_leaves_no_rows_and_the_next_run_resumes(client, fixed_clock, feed):
    pub = await _register(f"http://127.0.0.1:{feed.port}/feed")
    crashed = []

    async def crash_on_page_2(url: str) -> None:
        if url.endswith("page=2") and not crashed:
            crashed.append(url)
            raise RuntimeError("worker killed")  # inside the page's transaction, after its rows were written

    with pytest.raises(RuntimeError, match="worker killed"):
        await harvest.harvest_due(on_page=crash_on_page_2)
    assert await _counts() == (PAGE, PAGE, 1)  # page 1 only: page 2's rows rolled back with its cursor
    state = await q.publisher_by_id(pub.id)
    assert state is not None and state.feed_cursor.endswith("page=2")

    assert await harvest.harvest_due() == []  # the dead worker's lease still holds the feed
    fixed_clock.advance(seconds=harvest.LEASE.total_seconds() + 1)
    [result] = await harvest.harvest_due(on_page=crash_on_page_2)
    assert result.error == "" and result.releases_new == 13 - PAGE
    assert await _counts() == (13, 13, 3)


async def test_releases_after_api_is_read_from_the_newest_date_seen(client, fixed_clock, feed):
    """Pages of `releasesAfter=<newest date seen>` until one is empty; the next run starts from that date."""
    async with db.unit_of_work():
        pub = await harvest.register(name="Feed test", prefixes=["ocds-213czf"], after_param="releasesAfter",
                                     feed_url=f"http://127.0.0.1:{feed.port}/after")
    [result] = await harvest.harvest_due()
    newest = max(r["date"] for r in feed.releases)
    assert result.error == "" and result.releases_new == 13
    assert (await q.publisher_by_id(pub.id)).feed_cursor == f"after:{newest}"
    assert feed.requests[0] == "/after" and feed.requests[-1].startswith("/after?releasesAfter=")
    feed.requests.clear()
    fixed_clock.advance(minutes=61)
    [result] = await harvest.harvest_due()
    assert result.releases_new == 0 and len(feed.requests) == 1 and newest.replace(":", "%3A") in feed.requests[0]
    assert await _counts() == (13, 13, 3)


async def test_bulk_listing_takes_each_new_file_once(client, fixed_clock, feed, tmp_path: Path):
    fictional = json.loads((FIX / "fictional" / "release-package.json").read_text())["releases"]
    feed.files["2024-01-01.jsonl.gz"] = gzip.compress("".join(json.dumps(r) + "\n" for r in fictional).encode())
    pub = await _register(f"http://127.0.0.1:{feed.port}/bulk/", kind="bulk")
    [result] = await harvest.harvest_due()
    assert (result.files, result.releases_new, result.error) == (1, 6, "")
    assert (await q.publisher_by_id(pub.id)).feed_cursor == "file:2024-01-01.jsonl.gz"

    peru = (FIX / "peru" / "release-package-1045871.json").read_bytes()
    feed.files["2024-01-02.partial.json"] = peru  # the day so far: left until its final file is listed
    feed.requests.clear()
    fixed_clock.advance(minutes=61)
    [result] = await harvest.harvest_due()
    assert (result.files, result.releases_new) == (0, 0) and feed.requests == ["/bulk/"]
    assert (await q.publisher_by_id(pub.id)).feed_cursor == "file:2024-01-01.jsonl.gz"

    del feed.files["2024-01-02.partial.json"]
    feed.files["2024-01-02.json"] = peru
    feed.requests.clear()
    fixed_clock.advance(minutes=61)
    [result] = await harvest.harvest_due()
    assert (result.files, result.releases_new) == (1, 3)
    assert feed.requests == ["/bulk/", "/bulk/2024-01-02.json"]  # the first file is not fetched again
    assert await _counts() == (9, 9, 2)


async def test_registering_checks_prefix_and_url(client):
    async with db.unit_of_work():
        with pytest.raises(InvalidInput) as bad:
            await harvest.register(name="X", prefixes=["dgv273"], feed_url="https://x.example/feed")
        assert bad.value.field == "prefix"
        with pytest.raises(InvalidInput) as bad:
            await harvest.register(name="X", prefixes=["ocds-dgv273"], feed_url="ftp://x.example/feed")
        assert bad.value.field == "feed_url"
        first = await harvest.register(name="OECE", prefixes=["ocds-dgv273"], feed_url="https://x.example/feed")
        with pytest.raises(InvalidInput) as taken:
            await harvest.register(name="Otro", prefixes=["OCDS-DGV273"])
        assert taken.value.rule == "unique"
        again = await harvest.register(name="OECE", prefixes=["ocds-dgv273"], feed_url="https://x.example/feed",
                                       interval_minutes=5)
    assert again.id == first.id and again.feed_interval_minutes == 5 and again.ocid_prefixes == ["ocds-dgv273"]

"""Harvesting registered publishers' feeds (the `oversight_ocds_harvest` cron job, `marketplace ocds harvest`).

A publisher's feed is one of:

* `api`: a release (or record) package API paged by `links.next`. Each page is downloaded whole (at most
  PAGE_MAX bytes), then imported and the cursor moved to its `links.next` in ONE transaction: a crash or a
  broken response in the middle of a page leaves neither rows nor cursor, and the next run takes the page
  again. On the last page (no `links.next`, or no releases) the cursor stays on that page's URL (taking it
  again costs nothing: its releases are known), or, when the API takes the last release date seen
  (`after_param`, e.g. `releasesAfter`), becomes that date.
* `bulk`: a JSON listing of files (a list of URLs, or of objects with `url` and optionally `name`, or an
  object holding such a list; an object with `"complete": false`, a day still being written, is left for
  later). Files are taken in name order after the cursor (the last file imported); each
  is streamed to a temporary file and imported in batches, its last batch and the cursor in one transaction
  (a file cut short by a crash is taken again whole; its releases already stored are skipped, so nothing is
  duplicated).

Every harvest holds a lease on the publisher's row (a second worker skips it); a failure counts in
`feed_failures` and puts the next attempt off (BACKOFF_SECONDS); a success clears them and schedules the next
run after `feed_interval_minutes`. All of this state is in the database. Times come from `core.clock`.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import msgspec

from marketplace.core import clock, db
from marketplace.core.errors import InvalidInput
from marketplace.core.i18n import N_
from marketplace.oversight.imports import domain, read
from marketplace.oversight.imports import queries as q
from marketplace.oversight.imports.service import Importer

log = logging.getLogger(__name__)

PAGE_MAX = 64 << 20
MAX_PAGES = 200  # per publisher and run; the rest is taken at the next run (scheduled at once)
LEASE = timedelta(minutes=30)
BACKOFF_SECONDS = [60, 300, 900, 3600, 3 * 3600, 6 * 3600]
TIMEOUT = httpx.Timeout(60.0, connect=10.0)
PREFIX_RE = re.compile(r"^ocds-[a-z0-9]{6}$")
USER_AGENT = "MercadoAbierto-OCDS-harvester/1"

PageHook = Callable[[str], Awaitable[None]]


class FeedError(Exception):
    """The feed answered something we cannot take (status, size, not JSON, not OCDS)."""


@dataclass
class HarvestResult:
    slug: str
    pages: int = 0
    files: int = 0
    releases_new: int = 0
    error: str = ""
    next_at: datetime | None = None


async def register(*, name: str, prefixes: list[str], uri: str = "", slug: str | None = None,
                   feed_url: str | None = None, feed_kind: str = "api", after_param: str = "",
                   interval_minutes: int = 60) -> q.PublisherRow:
    """Register a publisher (or update the one with this slug). Runs in the caller's transaction."""
    name = name.strip()
    if not name:
        raise InvalidInput(N_("A publisher needs a name"), field="name", rule="required")
    clean = sorted({p.strip().lower() for p in prefixes if p.strip()})
    for p in clean:
        if not PREFIX_RE.match(p):
            raise InvalidInput(N_("An ocid prefix is 'ocds-' and 6 letters or digits"), field="prefix", rule="format")
    if feed_url is not None:
        parts = urlsplit(feed_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(N_("The feed must be an http or https URL"), field="feed_url", rule="url")
    if feed_kind not in ("api", "bulk"):
        raise InvalidInput(N_("The feed kind is api or bulk"), field="feed_kind", rule="choice")
    slug = domain.slugify(slug or name)
    taken = {p: s for p, s in (await q.prefix_owners(clean)).items() if s != slug}
    if taken:
        prefix, owner = next(iter(taken.items()))
        raise InvalidInput(N_("The prefix {prefix} belongs to the publisher {owner}"), field="prefix",
                           rule="unique", params={"prefix": prefix, "owner": owner})
    return await q.register_publisher(slug=slug, name=name, uri=uri, prefixes=clean, feed_url=feed_url,
                                      feed_kind=feed_kind, after_param=after_param.strip(),
                                      interval_minutes=interval_minutes, now=clock.now())


async def harvest_due(settings: Any = None, *, only: str | None = None, client: httpx.AsyncClient | None = None,
                      on_page: PageHook | None = None, max_publishers: int = 20) -> list[HarvestResult]:
    """Harvest every publisher whose feed is due (or only the one with slug `only`). Runs its own
    transactions: call it outside a unit of work."""
    if db.in_unit_of_work():
        raise RuntimeError("harvest_due() runs its own transactions; call it outside unit_of_work()")
    results: list[HarvestResult] = []
    own_client = client is None
    http = client or httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=True,
                                       headers={"user-agent": USER_AGENT})
    try:
        for _ in range(max_publishers if only is None else 1):
            now = clock.now()
            async with db.unit_of_work():
                pub = await q.claim_due(now, now + LEASE, only)
            if pub is None:
                break
            results.append(await harvest_one(pub, http, on_page=on_page))
    finally:
        if own_client:
            await http.aclose()
    return results


async def harvest_one(pub: q.PublisherRow, http: httpx.AsyncClient, *, on_page: PageHook | None = None,
                      max_pages: int = MAX_PAGES) -> HarvestResult:
    """One publisher's harvest, its lease held (see claim_due). Failures are recorded, not raised."""
    result = HarvestResult(slug=pub.slug)
    try:
        if pub.feed_kind == "bulk":
            more = await _harvest_bulk(pub, http, result, on_page)
        else:
            more = await _harvest_api(pub, http, result, on_page, max_pages)
    except (httpx.HTTPError, FeedError, read.EncodingRefused, OSError) as exc:
        now = clock.now()
        result.error = f"{type(exc).__name__}: {exc}"[:500]
        async with db.unit_of_work():
            result.next_at = await q.harvest_failed(pub.id, error=result.error, backoff_seconds=BACKOFF_SECONDS,
                                                    now=now)
        log.warning("harvest of %s failed (%s); next attempt %s", pub.slug, result.error, result.next_at)
        return result
    now = clock.now()
    result.next_at = now if more else now + timedelta(minutes=pub.feed_interval_minutes)
    async with db.unit_of_work():
        await q.harvest_done(pub.id, next_at=result.next_at, now=now)
    return result


# --- api feeds ---------------------------------------------------------------------------------------------------

def _with_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = "&".join(x for x in [parts.query, urlencode({name: value})] if x)
    return urlunsplit(parts._replace(query=query))


def _start_url(pub: q.PublisherRow) -> str:
    assert pub.feed_url
    kind, _, value = pub.feed_cursor.partition(":")
    if kind == "url" and value:
        return value
    if kind == "after" and value and pub.feed_after_param:
        return _with_param(pub.feed_url, pub.feed_after_param, value)
    return pub.feed_url


async def _download_page(http: httpx.AsyncClient, url: str) -> bytes:
    async with http.stream("GET", url, headers={"accept": "application/json"}) as resp:
        if resp.status_code != 200:
            raise FeedError(f"{url} answered HTTP {resp.status_code}")
        chunks, size = [], 0
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > PAGE_MAX:
                raise FeedError(f"{url}: a page larger than {PAGE_MAX} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


def _page(body: bytes, url: str) -> dict[str, Any]:
    try:
        value = domain.decode(body)
    except msgspec.DecodeError as exc:
        raise FeedError(f"{url} is not JSON: {exc}") from exc
    if not isinstance(value, dict) or ("releases" not in value and "records" not in value):
        raise FeedError(f"{url} is not a release or record package")
    return value


async def _harvest_api(pub: q.PublisherRow, http: httpx.AsyncClient, result: HarvestResult,
                       on_page: PageHook | None, max_pages: int) -> bool:
    """Pages from the cursor on; True when it stopped at max_pages with more to take."""
    url = _start_url(pub)
    newest = pub.feed_cursor.partition(":")[2] if pub.feed_cursor.startswith("after:") else ""
    for _ in range(max_pages):
        newest_before = newest
        page = _page(await _download_page(http, url), url)
        nxt = page.get("links", {}).get("next") if isinstance(page.get("links"), dict) else None
        items = list(read.items_of(page, url, read.Meta()))
        releases_seen = 0
        async with db.unit_of_work():  # the page's rows and the cursor: together or not at all
            importer = Importer(origin=f"harvest:{pub.slug}", default_publisher=pub.id)
            for item in items:
                if isinstance(item, read.Item):
                    releases_seen += 1
                    if item.kind == "release" and isinstance(item.value, dict):
                        d = item.value.get("date")
                        if isinstance(d, str) and d > newest:
                            newest = d
                await importer.add(item)
            report = await importer.close(files=1)
            if on_page is not None:
                await on_page(url)
            last = not (isinstance(nxt, str) and nxt and nxt != url and releases_seen)
            if not last:
                cursor = f"url:{nxt}"
            elif pub.feed_after_param and newest:
                cursor = f"after:{newest}"
            else:
                cursor = f"url:{url}"
            await q.set_cursor(pub.id, cursor, clock.now())
        result.pages += 1
        result.releases_new += report.releases_new
        if last:
            if pub.feed_after_param and releases_seen and newest > newest_before:
                url = _with_param(pub.feed_url or "", pub.feed_after_param, newest)  # more after the newest?
                continue
            return False
        url = nxt  # type: ignore[assignment]
    return True


# --- bulk listings -------------------------------------------------------------------------------------------------

def _listing(body: bytes, url: str) -> list[tuple[str, str]]:
    """(name, url) of every complete file in a listing, in name order."""
    try:
        value = domain.decode(body)
    except msgspec.DecodeError as exc:
        raise FeedError(f"the listing {url} is not JSON: {exc}") from exc
    if isinstance(value, dict):
        value = next((v for v in value.values() if isinstance(v, list)), None)
    if not isinstance(value, list):
        raise FeedError(f"the listing {url} holds no list of files")
    files = []
    for entry in value:
        link = entry if isinstance(entry, str) else entry.get("url") if isinstance(entry, dict) else None
        if not isinstance(link, str) or not link:
            continue
        if isinstance(entry, dict) and entry.get("complete") is False:
            continue  # a day still being written (our own `.partial` files): its final file comes later
        absolute = str(httpx.URL(url).join(link))
        name = entry.get("name") if isinstance(entry, dict) and isinstance(entry.get("name"), str) else None
        files.append((name or Path(urlsplit(absolute).path).name, absolute))
    return sorted(files)


async def _harvest_bulk(pub: q.PublisherRow, http: httpx.AsyncClient, result: HarvestResult,
                        on_page: PageHook | None) -> bool:
    assert pub.feed_url
    after = pub.feed_cursor.partition(":")[2] if pub.feed_cursor.startswith("file:") else ""
    for name, link in _listing(await _download_page(http, pub.feed_url), pub.feed_url):
        if name <= after:
            continue
        suffix = "".join(Path(name).suffixes[-2:]) or ".json"
        with tempfile.TemporaryDirectory(prefix="ocds-harvest-") as tmp:
            path = Path(tmp) / f"file{suffix}"
            async with http.stream("GET", link) as resp:
                if resp.status_code != 200:
                    raise FeedError(f"{link} answered HTTP {resp.status_code}")
                with path.open("wb") as fh:
                    async for chunk in resp.aiter_bytes():
                        fh.write(chunk)
            importer = Importer(origin=f"harvest:{pub.slug}", default_publisher=pub.id)
            for entry in read.read([path]):
                if isinstance(entry, read.FileStart):
                    continue
                if isinstance(entry, read.Refusal):
                    entry = read.Refusal(where=entry.where.replace(str(path), link), reason=entry.reason)
                await importer.add(entry)
            async with db.unit_of_work():  # the last batch and the cursor together
                report = await importer.close(files=1)
                if on_page is not None:
                    await on_page(link)
                await q.set_cursor(pub.id, f"file:{name}", clock.now())
        result.files += 1
        result.releases_new += report.releases_new
    return False

"""The SearchIndex protocol: what every search backend does, so callers never know which one serves.

Two kinds of index: "offers" (catalogue offers, one document per offer and region served) and "tenders".
Writes are idempotent (upsert replaces a document whole; deleting a missing id is a no-op), so the sync may
apply the same event twice. Failures to reach the engine raise `SearchUnavailable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from search.domain import CatalogQuery, OfferDoc, Page, TenderDoc, TenderQuery

Kind = Literal["offers", "tenders"]
KINDS: tuple[Kind, ...] = ("offers", "tenders")


class SearchUnavailable(RuntimeError):
    """The search engine cannot be reached or refused a write; the sync retries later."""


@runtime_checkable
class SearchIndex(Protocol):
    name: str

    async def configure(self) -> None:
        """Create the indexes and apply their settings (waits until applied). Safe to call again."""

    async def upsert(self, kind: Kind, docs: Sequence[OfferDoc | TenderDoc]) -> None:
        """Add or replace documents (batched; returns once they are searchable)."""

    async def delete(self, kind: Kind, ids: Sequence[str]) -> None:
        """Remove documents by id; ids that are not indexed are ignored."""

    async def clear(self, kind: Kind) -> None:
        """Remove every document of a kind (settings stay)."""

    async def search_offers(self, query: CatalogQuery) -> Page: ...

    async def search_tenders(self, query: TenderQuery) -> Page: ...

    async def digests(self, kind: Kind) -> dict[str, str]:
        """Every indexed id with its document's digest, for `search check`."""

    async def close(self) -> None: ...

"""Search: the SearchIndex protocol, the PostgreSQL and Meilisearch backends, the locality ranking policy
and the sync from the outbox. The indexes are derived data: `marketplace reindex` rebuilds them from
PostgreSQL at any time."""

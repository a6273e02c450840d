"""Contracts have no jobs of their own; importing the consumers registers them with the worker."""

from typing import Any

from marketplace.contracts import consumers  # noqa: F401  (registers the outbox consumers)

FUNCTIONS: list[Any] = []
CRONS: list[Any] = []

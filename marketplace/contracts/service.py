"""Contracts use cases (being written)."""

from __future__ import annotations

from uuid import UUID


async def milestone_paid(*, milestone_id: UUID, payment_id: UUID) -> None:
    return None


async def milestone_payment_reversed(*, milestone_id: UUID, payment_id: UUID) -> None:
    return None

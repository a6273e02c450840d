"""The portal's open data for people with a spreadsheet: CSV files of tenders, awards, contracts and red
flags, and the catalogue of what is published (the /datos-abiertos page).

These CSVs are for reading, not for machines that keep céntimos: UTF-8 with a byte order mark (so that Excel
shows "Ferretería", not "FerreterÃ­a"), amounts in the currency's units with its decimals (soles with two:
`1234.50`, a decimal point, no thousands separator) and times in Lima time (`2026-12-01 09:38:00`, the column
named `..._lima`). The API and the OCDS files keep integer céntimos and UTC.

Each dataset names its columns with a description (shown on the page), and streams its rows in batches.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from babel.numbers import get_currency_precision

from marketplace.agencies import service as agencies
from marketplace.contracts import service as contracts
from marketplace.core.actor import ANONYMOUS, SYSTEM
from marketplace.core.i18n import N_
from marketplace.oversight.awards import service as history
from marketplace.portal import labels
from marketplace.portal.formatting import LIMA
from search import service as search
from suppliers import service as suppliers

BOM = "\ufeff"
BATCH = 500
MAX_TENDERS = 100_000  # the tenders file reads the search index page by page, at most this many


def amount(minor: int | None, currency: str | None = "PEN") -> str:
    """An amount in minor units as a decimal in the currency's units: 123450 PEN -> '1234.50'."""
    if minor is None:
        return ""
    digits = get_currency_precision((currency or "PEN").strip())
    return str(Decimal(int(minor)).scaleb(-digits).quantize(Decimal(1).scaleb(-digits)))


def lima(value: datetime | str | None) -> str:
    """An instant as Lima's local time, 'YYYY-MM-DD HH:MM:SS' (what a spreadsheet reads as a date and time)."""
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(LIMA).strftime("%Y-%m-%d %H:%M:%S")


def day(value: date | None) -> str:
    return value.isoformat() if value else ""


@dataclass(frozen=True)
class Column:
    name: str
    description: str  # a msgid


@dataclass(frozen=True)
class Dataset:
    key: str
    filename: str  # without the date stamp and extension
    title: str  # msgid
    description: str  # msgid
    columns: tuple[Column, ...]


C = Column
_OCID = C("ocid", N_("The contracting process's id (OCID), the same as in the OCDS data"))
_TENDER_ID = C("tender_id", N_("The tender's id on Mercado Abierto (its page is /tenders/<id>)"))
_AGENCY_RUC = C("agency_ruc", N_("The buying agency's RUC"))
_AGENCY = C("agency_name", N_("The buying agency"))
_SUPPLIER_RUC = C("supplier_ruc", N_("The supplier's RUC"))
_SUPPLIER = C("supplier_name", N_("The supplier's legal name"))
_METHOD = C("method", N_("Procurement method, as a code (public_tender, simplified_award, ...)"))
_CATEGORY = C("category", N_("What is bought: goods, services, works or consultancy"))
_UBIGEO = C("delivery_ubigeo", N_("Place of delivery, as INEI's ubigeo code (6 digits)"))
_REGION = C("region", N_("Region of delivery (the ubigeo's first 2 digits)"))
_CURRENCY = C("currency", N_("Currency of the amounts (PEN: soles)"))
_STATE = C("state", N_("State, as a code"))

AWARDS = Dataset("awards", "adjudicaciones", N_("Awards"), N_("Every award (buena pro) of every lot, newest first."), (
    C("award_id", N_("The award's id")), _TENDER_ID, _OCID, C("tender_title", N_("The tender's title")),
    C("lot_title", N_("The lot's title")), _AGENCY_RUC, _AGENCY, _SUPPLIER_RUC, _SUPPLIER, _METHOD, _CATEGORY,
    C("classification_code", N_("The lot's classification code (UNSPSC)")), _UBIGEO, _REGION,
    C("amount", N_("Awarded amount, in the currency's units with its decimals (soles: 1234.50)")), _CURRENCY,
    _STATE, C("awarded_at_lima", N_("When the award was made, Lima time"))))

TENDERS = Dataset("tenders", "convocatorias", N_("Tenders"), N_("Every published tender (drafts are not public)."), (
    _TENDER_ID, _OCID, C("title", N_("The tender's title")), _AGENCY, _METHOD, _CATEGORY, _STATE, _UBIGEO,
    _REGION, C("estimated_amount", N_("Estimated value of all its lots, in the currency's units (soles: 1234.50)")),
    _CURRENCY, C("published_at_lima", N_("When it was published, Lima time")),
    C("closing_at_lima", N_("Deadline for bids, Lima time"))))

CONTRACTS = Dataset("contracts", "contratos", N_("Contracts"),
                    N_("Every contract, from an award or a catalogue order, with its value after amendments."), (
    C("contract_id", N_("The contract's id")), _TENDER_ID, C("title", N_("The contract's title")), _AGENCY_RUC,
    _AGENCY, _SUPPLIER_RUC, _SUPPLIER,
    C("original_amount", N_("Value when signed, in the currency's units (soles: 1234.50)")),
    C("amount", N_("Value now, after amendments, in the currency's units")), _CURRENCY,
    C("change_percent", N_("Total change made by amendments, in percent")), _STATE,
    C("period_start", N_("First day of the contract's period")),
    C("period_end", N_("Last day of the contract's period")),
    C("signed_at_lima", N_("When it was signed, Lima time"))))

RED_FLAGS = Dataset("red_flags", "alertas", N_("Red flags"),
                    N_("Every red flag of the red flags page, newest first, with the evidence behind it."), (
    C("code", N_("The flag's code (see the red flags page)")), C("flag", N_("What the flag means, in words")),
    _OCID, C("publisher", N_("Who published the process in OCDS (the publisher's short name)")),
    C("subject", N_("What is flagged: process, tenderer, buyer or procuring_entity")),
    C("subject_id", N_("The flagged thing's id")), C("evidence", N_("The figures that raised it, as JSON"))))

DATASETS = {d.key: d for d in (TENDERS, AWARDS, CONTRACTS, RED_FLAGS)}
BY_FILENAME = {d.filename: d for d in DATASETS.values()}


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text (issue 17, finding 3; OWASP's rule, as the award export's SQL does):
    text starting with = + - @ tab or carriage return gets a leading apostrophe. Supplier names and tender
    titles are written by anyone; a number (a negative amount) stays a number."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


async def encode(dataset: Dataset, batches: AsyncIterator[Iterable[Sequence[Any]]]) -> AsyncIterator[bytes]:
    """The CSV's bytes: the BOM and the header, then each batch of rows, every text cell made safe for a
    spreadsheet (`safe_cell`)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write(BOM)
    writer.writerow([c.name for c in dataset.columns])
    yield buf.getvalue().encode()
    async for rows in batches:
        buf.seek(0)
        buf.truncate()
        writer.writerows([safe_cell(v) for v in row] for row in rows)
        if buf.tell():
            yield buf.getvalue().encode()


# --- the rows -------------------------------------------------------------------------------------------


async def award_rows(f: Any) -> AsyncIterator[list[list[str]]]:
    if f is None:
        return
    async for rows in history.stream_rows(filters=f):
        yield [[str(r["award_id"]), str(r["tender_id"]), r["ocid"] or "", r["tender_title"] or "",
                r["lot_title"] or "", r["agency_ruc"] or "", r["agency_name"] or "", r["supplier_ruc"] or "",
                r["supplier_name"] or "", r["method"] or "", r["category"] or "", r["classification_code"] or "",
                r["delivery_ubigeo"] or "", r["region"] or "", amount(r["value"], r["currency"]),
                (r["currency"] or "").strip(), r["state"] or "", lima(r["awarded_at"])] for r in rows]


async def tender_rows(index: Any) -> AsyncIterator[list[list[str]]]:
    """From the search index (public tenders only, never drafts), page by page."""
    offset = 0
    while offset < MAX_TENDERS:
        page = await search.search_tenders(actor=ANONYMOUS, index=index, offset=offset, limit=BATCH)
        if not page.hits:
            return
        out = []
        for hit in page.hits:
            d = hit.doc
            out.append([d.get("tender_id", ""), d.get("ocid", ""), d.get("title", ""), d.get("agency_name", ""),
                        d.get("method", ""), d.get("category", ""), d.get("state", ""), d.get("ubigeo", ""),
                        d.get("region", ""), amount(d.get("estimated_value_cents"), d.get("currency")),
                        d.get("currency", "PEN"), lima(d.get("published_at")), lima(d.get("closing_at"))])
        yield out
        if len(page.hits) < BATCH:
            return
        offset += BATCH


async def contract_rows() -> AsyncIterator[list[list[str]]]:
    """Contracts are public (OCDS publishes every one); the service lists them only to signed-in parties, so
    the file reads them as the system and writes only what the OCDS release shows (no guarantee details)."""
    names: dict[UUID, tuple[str, str]] = {}

    async def org(org_id: UUID, read: Callable[[UUID], Any]) -> tuple[str, str]:
        if org_id not in names:
            try:
                names[org_id] = await read(org_id)
            except Exception:  # a party no longer readable still leaves its contract in the file
                names[org_id] = ("", "")
        return names[org_id]

    async def agency(org_id: UUID) -> tuple[str, str]:
        a = await agencies.get_agency(actor=ANONYMOUS, agency_id=org_id)
        return a.ruc or "", a.name

    async def supplier(org_id: UUID) -> tuple[str, str]:
        s = await suppliers.read_supplier(actor=SYSTEM, org_id=org_id)
        return s.ruc or "", s.legal_name

    offset = 0
    while True:
        batch = await contracts.list_contracts(actor=SYSTEM, limit=BATCH, offset=offset)
        if not batch:
            return
        out = []
        for c in batch:
            a_ruc, a_name = await org(c.agency_org_id, agency)
            s_ruc, s_name = await org(c.supplier_org_id, supplier)
            out.append([str(c.id), str(c.tender_id or ""), c.title, a_ruc, a_name, s_ruc, s_name,
                        amount(c.original_value_cents, c.currency), amount(c.value_cents, c.currency),
                        c.currency.strip(), str(c.cumulative_change_pct), c.state, day(c.period_start),
                        day(c.period_end), lima(c.signed_at)])
        yield out
        if len(batch) < BATCH:
            return
        offset += BATCH


async def red_flag_rows(pages: AsyncIterator[list[Any]]) -> AsyncIterator[list[list[str]]]:
    """The red-flag read model's rows (the page's and the API's), a batch per keyset page."""
    async for flags in pages:
        yield [[fl.code, labels.label("flag", fl.code), fl.ocid or "", fl.publisher, fl.scope, fl.subject,
                json.dumps(fl.evidence, ensure_ascii=False, sort_keys=True, default=str)] for fl in flags]

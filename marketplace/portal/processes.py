"""GET /processes/{ocid}: one contracting process, ours or imported from another publisher (issue 15).

Its timeline of releases, lots, bids (where the publisher publishes them), awards and contracts, with the
publisher named and a link to the source; read from its compiled release by oversight's service. Our own
processes link to their tender page too.
"""

from __future__ import annotations

from litestar import get
from litestar.params import FromPath
from litestar.response import Template

from marketplace.core.deps import SettingsDep
from marketplace.oversight import service as oversight
from marketplace.oversight.imports.domain import parse_date
from marketplace.portal import formatting


def _when(text: str) -> str:
    """A date as published, in Lima's time when it is a date-time (publishers' dates vary: as is otherwise)."""
    at = parse_date(text) if text else None
    return formatting.when(at) if at else (text or "—")


@get("/processes/{ocid:str}", name="portal:process")
async def process_page(ocid: FromPath[str], settings: SettingsDep) -> Template:
    return Template("process.html", context={"p": await oversight.process(settings, ocid), "published": _when})

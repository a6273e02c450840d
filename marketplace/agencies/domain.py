"""Pure rules for agencies: RUC validation and the list's keyset cursor. No I/O."""

from __future__ import annotations

import base64
import json
from uuid import UUID

from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.pe import ruc as ruc_mod

from marketplace.core.errors import InvalidInput
from marketplace.core.i18n import N_

LEVELS = ("national", "regional", "local")


def validate_ruc(value: str, *, field: str = "ruc") -> str:
    """The RUC in its compact 11-digit form, or a 422 on `field` with rule `format` or `check_digit`."""
    try:
        return ruc_mod.validate(value)
    except InvalidChecksum as exc:
        raise InvalidInput(N_("The RUC check digit is wrong"), field=field, rule="check_digit") from exc
    except ValidationError as exc:
        raise InvalidInput(N_("A RUC has 11 digits and starts with 10, 15, 17 or 20"), field=field,
                           rule="format") from exc


def encode_cursor(name: str, id_: UUID) -> str:
    """An opaque cursor for the row after (name, id) in the list's order."""
    raw = json.dumps([name, str(id_)], ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, UUID]:
    try:
        name, id_ = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(name, str):
            raise ValueError(name)
        return name, UUID(id_)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(N_("The page cursor is not valid"), field="query.after", rule="cursor") from exc

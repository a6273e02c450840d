from __future__ import annotations

from typing import Annotated

import msgspec

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]


class TokenRequest(msgspec.Struct, forbid_unknown_fields=True):
    username: Email
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class TokenRead(msgspec.Struct):
    access_token: str
    token_type: str
    expires_in: int

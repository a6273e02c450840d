"""A role harness: run one request as every kind of caller and check each status, all at once.

Authorisation is tested as a matrix (role x ownership x endpoint, DESIGN.md). `personas()` signs in one
caller of each kind, around an "owning" agency whose resources the test creates; `check_matrix()` sends the
same request as each persona and fails once, listing every persona whose status differs from the expected.

Example (a tender endpoint, in tests/tenders/...)::

    from tests.harness import check_matrix, personas

    async def test_only_the_owning_agency_publishes(client, settings):
        p = await personas(settings, client)
        tender_id = await make_draft(p.officer)                  # owned by p.agency_id
        await check_matrix(client, "POST", f"/api/v1/tenders/{tender_id}/cancel", {
            p.anonymous: 401,
            p.other_officer: 403,       # an officer of ANOTHER agency
            p.committee: 403,           # same agency, wrong role
            p.bidder: 403,
            p.auditor: 403,
            p.admin: 403,
            p.officer: 200,             # last: it changes the state the others were refused on
        }, json={"reason": "typo"})

Rules of the road:
- `expected` maps a Persona (or its name, e.g. "officer") to a status code, or to a set of acceptable
  codes ({403, 404} where hiding existence is allowed). Requests run in the order given, so put the
  persona that succeeds (and changes state) last, or give `json`/`path` as a callable of the persona to
  send a fresh body each time (`json=lambda p: {"ruc": make_ruc()}`).
- By default every standard persona (PERSONAS) must appear, so an endpoint cannot forget one; pass
  `complete=False` for a partial check.
- Extra personas that some endpoints need are there too: `p.agency_admin` (the owning agency's
  administrator) and `p.supplier_admin` (the bidder's organisation's administrator).
- Each persona's organisation: `p.agency_id` (owning agency), `p.other_agency_id`, `p.supplier_id`,
  `p.oversight_id`, `p.platform_id`; and `persona.org_id` / `persona.user_id` on each.
- Tokens come from the same signing key the app uses; they honour `fixed_clock` (issue them after moving
  time backwards, or refresh with `await p.refresh(settings)`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx

from marketplace.core import db
from marketplace.core.auth import service as auth
from marketplace.core.auth import tokens
from tests import factories

# The standard callers every authorisation matrix names.
PERSONAS: tuple[str, ...] = ("anonymous", "officer", "other_officer", "committee", "bidder", "auditor", "admin")
EXTRA_PERSONAS: tuple[str, ...] = ("agency_admin", "supplier_admin")


@dataclass(frozen=True, eq=False)
class Persona:
    """One caller: their name in the matrix, their organisation and user, and the headers to send."""

    name: str
    user_id: UUID | None = None
    org_id: UUID | None = None
    kind: str | None = None
    roles: tuple[str, ...] = ()
    email: str | None = None
    token: str | None = field(default=None, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def __hash__(self) -> int:
        return hash(self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Persona) and other.name == self.name


@dataclass
class Personas:
    anonymous: Persona
    officer: Persona
    other_officer: Persona
    committee: Persona
    bidder: Persona
    auditor: Persona
    admin: Persona
    agency_admin: Persona
    supplier_admin: Persona

    @property
    def agency_id(self) -> UUID:
        """The owning agency: the officer's, the committee member's and the agency admin's."""
        assert self.officer.org_id is not None
        return self.officer.org_id

    @property
    def other_agency_id(self) -> UUID:
        assert self.other_officer.org_id is not None
        return self.other_officer.org_id

    @property
    def supplier_id(self) -> UUID:
        assert self.bidder.org_id is not None
        return self.bidder.org_id

    @property
    def oversight_id(self) -> UUID:
        assert self.auditor.org_id is not None
        return self.auditor.org_id

    @property
    def platform_id(self) -> UUID:
        assert self.admin.org_id is not None
        return self.admin.org_id

    def __getitem__(self, name: str) -> Persona:
        if name not in PERSONAS + EXTRA_PERSONAS:
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self):
        return (getattr(self, n) for n in PERSONAS + EXTRA_PERSONAS)

    async def refresh(self, settings) -> None:
        """Issue fresh tokens (after `fixed_clock` moved past their lifetime)."""
        for name in PERSONAS + EXTRA_PERSONAS:
            p = getattr(self, name)
            if p.user_id is not None:
                setattr(self, name, _with_token(settings, p))


def _with_token(settings, p: Persona) -> Persona:
    token, _ = tokens.issue(secret=settings.keys.jwt_secret, ttl_seconds=settings.jwt_ttl_seconds,
                            user_id=p.user_id, org_id=p.org_id, org_kind=p.kind, roles=list(p.roles))
    return Persona(name=p.name, user_id=p.user_id, org_id=p.org_id, kind=p.kind, roles=p.roles, email=p.email,
                   token=token)


async def _agency(name: str) -> UUID:
    """An agency as the agencies service registers it (organisation + agency row), written directly."""
    org_id = await factories.organisation("agency", name=name, ubigeo="150101")
    async with db.unit_of_work():
        await db.execute("INSERT INTO agency (organisation_id, level, sector) VALUES ($1, 'national', 'test')",
                         org_id)
    return org_id


@functools.cache
def _password_hash() -> str:
    """One Argon2 hash of factories.PASSWORD per test process: hashing is slow on purpose."""
    return auth.hash_password(factories.PASSWORD)


async def _user(settings, name: str, kind: str, org_id: UUID, *roles: str) -> Persona:
    """A user who can also sign in with factories.PASSWORD (written directly: the harness is test data,
    not a use case, and should not add audit events to the trail other tests read)."""
    email = f"{name.replace('_', '-')}.{next(factories._seq)}@example.pe"
    async with db.unit_of_work():
        row = await db.fetchrow(
            "INSERT INTO app_user (organisation_id, email, full_name, password_hash, roles)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING id",
            org_id, email, name.replace("_", " ").title(), _password_hash(), list(roles))
    user_id = row["id"]
    return _with_token(settings, Persona(name=name, user_id=user_id, org_id=org_id, kind=kind, roles=roles,
                                         email=email))


async def personas(settings, client: httpx.AsyncClient | None = None) -> Personas:
    """Sign in one caller of each kind (see the module docstring). Call it inside a test using `client`,
    which gives clean tables; `client` itself is not needed and may be omitted."""
    agency = await _agency("Municipalidad Propietaria")
    other = await _agency("Gobierno Regional Ajeno")
    supplier = await factories.organisation("supplier", name="Proveedor de Prueba S.A.C.", ubigeo="080101")
    oversight = await factories.organisation("oversight", name="Contraloría de Prueba", ruc=None, ubigeo=None)
    platform = await factories.organisation("platform", name="Mercado Abierto", ruc=None, ubigeo=None)
    return Personas(
        anonymous=Persona(name="anonymous"),
        officer=await _user(settings, "officer", "agency", agency, "officer"),
        other_officer=await _user(settings, "other_officer", "agency", other, "officer"),
        committee=await _user(settings, "committee", "agency", agency, "committee"),
        bidder=await _user(settings, "bidder", "supplier", supplier, "bidder"),
        auditor=await _user(settings, "auditor", "oversight", oversight, "auditor"),
        admin=await _user(settings, "admin", "platform", platform, "admin"),
        agency_admin=await _user(settings, "agency_admin", "agency", agency, "agency_admin"),
        supplier_admin=await _user(settings, "supplier_admin", "supplier", supplier, "supplier_admin"),
    )


class MatrixMismatch(AssertionError):
    pass


def _summary(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "type" in body:
        errors = body.get("errors") or []
        where = f" {errors[0].get('field')}/{errors[0].get('rule')}" if errors else ""
        return f"{body.get('type', '').rsplit('/', 1)[-1]}: {body.get('detail') or body.get('title')}{where}"
    return str(body)[:200]


async def check_matrix(
    client: httpx.AsyncClient,
    method: str,
    path: str | Callable[[Persona], str],
    expected: Mapping[Persona | str, int | Iterable[int]],
    *,
    json: Any | Callable[[Persona], Any] = None,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | Callable[[Persona], Mapping[str, str]] | None = None,
    personas: Personas | None = None,
    complete: bool = True,
) -> dict[str, httpx.Response]:
    """Send the request as each persona in `expected` (in order); raise once listing every mismatch.

    Keys are Persona objects (or names, with `personas=` given). Returns each persona's response by name,
    for further checks on the bodies.
    """
    resolved: list[tuple[Persona, set[int]]] = []
    for key, status in expected.items():
        if isinstance(key, str):
            if personas is None:
                raise TypeError("name personas as strings only together with personas=")
            key = personas[key]
        statuses = {status} if isinstance(status, int) else set(status)
        resolved.append((key, statuses))
    names = [p.name for p, _ in resolved]
    if complete:
        missing = [n for n in PERSONAS if n not in names]
        if missing:
            raise MatrixMismatch(f"{method} {path}: the matrix does not say what happens to {', '.join(missing)}"
                                 " (name every persona, or pass complete=False)")
    responses: dict[str, httpx.Response] = {}
    mismatches: list[str] = []
    for persona, statuses in resolved:
        url = path(persona) if callable(path) else path
        body = json(persona) if callable(json) else json
        extra = headers(persona) if callable(headers) else (headers or {})
        r = await client.request(method, url, json=body, params=params, headers={**persona.headers, **extra})
        responses[persona.name] = r
        if r.status_code not in statuses:
            want = "/".join(str(s) for s in sorted(statuses))
            mismatches.append(f"  {persona.name:<15} expected {want:<8} got {r.status_code}  {_summary(r)}")
    if mismatches:
        label = path if isinstance(path, str) else "<path per persona>"
        raise MatrixMismatch(f"{method} {label}: {len(mismatches)} of {len(resolved)} personas differ\n"
                             + "\n".join(mismatches))
    return responses

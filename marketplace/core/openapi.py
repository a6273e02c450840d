"""Document the errors every operation can answer with, as RFC 9457 problem details.

Litestar documents each handler's success response (and a 400 as application/json for handlers that take a
body), but every endpoint here can also answer 400/401/403/404/409/422/503 with `application/problem+json`
(marketplace.core.errors). `document_problems(openapi)` adds those responses, with one `Problem` schema, to
every operation that does not document them itself; the app applies it once, when the document is built.
"""

from __future__ import annotations

from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, Reference, Schema
from litestar.openapi.spec.enums import OpenAPIType

from marketplace.core.errors import PROBLEM_JSON

PROBLEM_STATUSES = {
    "400": "Malformed request (unreadable body or parameters)",
    "401": "Missing, expired or invalid credentials",
    "403": "Not allowed for this caller",
    "404": "No such resource, or not visible to this caller",
    "405": "Method not allowed on this path",
    "409": "The resource's state does not allow this (deadline passed, already awarded, duplicate...)",
    "413": "Request body too large",
    "415": "Unsupported media type",
    "422": "The payload fails validation: `field` and `rule` name what and why",
    "429": "Too many requests",
    "503": "A dependency is unavailable: retry after the Retry-After header",
}

PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["type", "title", "status"],
    properties={
        "type": Schema(type=OpenAPIType.STRING),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING),
        "instance": Schema(type=OpenAPIType.STRING),
        "field": Schema(one_of=[Schema(type=OpenAPIType.STRING), Schema(type=OpenAPIType.NULL)]),
        "rule": Schema(one_of=[Schema(type=OpenAPIType.STRING), Schema(type=OpenAPIType.NULL)]),
    },
    description="Problem details (RFC 9457), in the caller's language",
)


def document_problems(openapi: OpenAPI) -> OpenAPI:
    components = openapi.components
    if components.schemas is None:
        components.schemas = {}
    components.schemas.setdefault("Problem", PROBLEM_SCHEMA)
    ref = Reference(ref="#/components/schemas/Problem")
    for item in (openapi.paths or {}).values():
        for method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
            op = getattr(item, method, None)
            if op is None:
                continue
            responses = op.responses if op.responses is not None else {}
            for status, description in PROBLEM_STATUSES.items():
                existing = responses.get(status)
                if status == "400" and isinstance(existing, OpenAPIResponse):
                    # Litestar's default 400 documents its own JSON body; ours is always problem+json
                    existing.content = {PROBLEM_JSON: OpenAPIMediaType(schema=ref)}
                elif (isinstance(existing, OpenAPIResponse) and existing.content
                      and PROBLEM_JSON not in existing.content):
                    existing.content[PROBLEM_JSON] = OpenAPIMediaType(schema=ref)
                elif existing is None:
                    responses[status] = OpenAPIResponse(description=description,
                                                        content={PROBLEM_JSON: OpenAPIMediaType(schema=ref)})
            op.responses = responses
    return openapi

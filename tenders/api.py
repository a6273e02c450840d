"""Tender endpoints (thin): drafts, amendments, publication, cancellation, opening, enquiries, documents.

GET /api/v1/tenders (the list and search) belongs to the search package, not here.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Response, get, patch, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, JSONBody, QueryParameter

from marketplace.core.deps import ActorDep, SettingsDep
from marketplace.core.errors import InvalidInput
from marketplace.core.i18n import N_
from tenders import invitations, service
from tenders.bids import service as bids
from tenders.schemas import (
    CancelRequest,
    DocumentRead,
    EnquiryAnswer,
    EnquiryCreate,
    EnquiryRead,
    OpeningProgress,
    OpeningRead,
    TenderCreate,
    TenderRead,
    TenderUpdate,
)


def _uuid(value: Any, field: str) -> UUID | None:
    if value in (None, ""):
        return None
    try:
        return UUID(str(value))
    except ValueError:
        raise InvalidInput(N_("Not a valid id"), field=field, rule="uuid") from None


MAX_TEXT_FIELD = 2000


def _text(data: dict[str, Any], field: str) -> str | None:
    """A multipart text field given at most once (a repeated or file-typed field is a 422, not a crash)."""
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(N_("Give this field once, as text"), field=field, rule="type")
    if len(value) > MAX_TEXT_FIELD:
        raise InvalidInput(N_("This field is longer than {max} characters"), field=field, rule="length",
                           params={"max": MAX_TEXT_FIELD})
    return value


class TenderController(Controller):
    path = "/api/v1/tenders"
    tags = ["tenders"]

    @post("/", summary="Create a draft tender", status_code=201)
    async def create(self, data: JSONBody[TenderCreate], actor: ActorDep, settings: SettingsDep) -> TenderRead:
        tender_id = await service.create_tender(actor=actor, settings=settings, data=data)
        return await service.get_tender(actor=actor, tender_id=tender_id)

    @get("/{tender_id:uuid}", summary="A tender (public once published; drafts only for the owning agency)")
    async def read(self, tender_id: FromPath[UUID], actor: ActorDep) -> TenderRead:
        return await service.get_tender(actor=actor, tender_id=tender_id)

    @patch("/{tender_id:uuid}", summary="Edit a draft, or amend a published tender (reason required)")
    async def update(self, tender_id: FromPath[UUID], data: JSONBody[TenderUpdate], actor: ActorDep,
                     settings: SettingsDep) -> TenderRead:
        await service.update_tender(actor=actor, tender_id=tender_id, data=data, settings=settings)
        return await service.get_tender(actor=actor, tender_id=tender_id)

    @post("/{tender_id:uuid}/publish", summary="Publish a draft", status_code=200)
    async def publish(self, tender_id: FromPath[UUID], actor: ActorDep, settings: SettingsDep) -> TenderRead:
        await service.publish(actor=actor, settings=settings, tender_id=tender_id)
        return await service.get_tender(actor=actor, tender_id=tender_id)

    @post("/{tender_id:uuid}/cancel", summary="Cancel the tender or one lot, with a reason", status_code=200)
    async def cancel(self, tender_id: FromPath[UUID], data: JSONBody[CancelRequest], actor: ActorDep) -> TenderRead:
        await service.cancel(actor=actor, tender_id=tender_id, reason=data.reason, lot_id=data.lot_id)
        return await service.get_tender(actor=actor, tender_id=tender_id)

    @post("/{tender_id:uuid}/opening", status_code=200,
          summary="Confirm the opening (an officer, agency administrator or committee member of the owning "
                  "agency, after the deadline); the bids are opened when OPENING_QUORUM distinct people have "
                  "confirmed within OPENING_WINDOW_MINUTES")
    async def open(self, tender_id: FromPath[UUID], actor: ActorDep, settings: SettingsDep) -> OpeningProgress:
        return await bids.open_tender(actor=actor, settings=settings, tender_id=tender_id)

    @get("/{tender_id:uuid}/opening/confirmations",
         summary="Who has confirmed the opening (the owning agency before it; public once the bids are opened)")
    async def opening_confirmations(self, tender_id: FromPath[UUID], actor: ActorDep,
                                    settings: SettingsDep) -> OpeningProgress:
        return await bids.opening_progress(actor=actor, settings=settings, tender_id=tender_id)

    @get("/{tender_id:uuid}/opening", summary="The opening record: bidders and prices per lot")
    async def opening(self, tender_id: FromPath[UUID], actor: ActorDep) -> OpeningRead:
        return await bids.get_opening(actor=actor, tender_id=tender_id)

    @get("/{tender_id:uuid}/enquiries", summary="Questions and answers (askers are not shown to others)")
    async def enquiries(self, tender_id: FromPath[UUID], actor: ActorDep) -> list[EnquiryRead]:
        return await service.list_enquiries(actor=actor, tender_id=tender_id)

    @post("/{tender_id:uuid}/enquiries", summary="Ask a question during the enquiry period", status_code=201)
    async def ask(self, tender_id: FromPath[UUID], data: JSONBody[EnquiryCreate], actor: ActorDep) -> EnquiryRead:
        return await service.ask(actor=actor, tender_id=tender_id, data=data)

    @post("/{tender_id:uuid}/enquiries/{enquiry_id:uuid}/answer", summary="Answer a question", status_code=200)
    async def answer(self, tender_id: FromPath[UUID], enquiry_id: FromPath[UUID], data: JSONBody[EnquiryAnswer],
                     actor: ActorDep) -> EnquiryRead:
        return await service.answer(actor=actor, tender_id=tender_id, enquiry_id=enquiry_id, text=data.answer)

    @post("/{tender_id:uuid}/invitations", status_code=201,
          summary="Invite a supplier to a price comparison (before bids start); once it has invitees, only they "
                  "may bid")
    async def invite(self, tender_id: FromPath[UUID], data: JSONBody[invitations.InvitationCreate],
                     actor: ActorDep) -> invitations.InvitationRead:
        return await invitations.invite(actor=actor, tender_id=tender_id, supplier_id=data.supplier_id)

    @get("/{tender_id:uuid}/invitations",
         summary="A price comparison's invitees (all to the agency; to a supplier, its own invitation)")
    async def list_invitations(self, tender_id: FromPath[UUID], actor: ActorDep) -> list[invitations.InvitationRead]:
        return await invitations.list_invitations(actor=actor, tender_id=tender_id)

    @get("/{tender_id:uuid}/documents", summary="Every version of every document")
    async def documents(self, tender_id: FromPath[UUID], actor: ActorDep) -> list[DocumentRead]:
        return await service.list_documents(actor=actor, tender_id=tender_id)

    @post("/{tender_id:uuid}/documents", status_code=201,
          summary="Upload a document (multipart: file, title, optional document_id for a new version, lot_id, "
                  "reason after publication)")
    async def upload(
        self, tender_id: FromPath[UUID], actor: ActorDep, settings: SettingsDep,
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> DocumentRead:
        await service.check_document_uploader(actor=actor, tender_id=tender_id)  # before reading the file
        upload = data.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput(N_("Attach the file as the multipart field 'file'"), field="file", rule="required")
        title, reason = _text(data, "title"), _text(data, "reason")
        document_id, lot_id = _uuid(data.get("document_id"), "document_id"), _uuid(data.get("lot_id"), "lot_id")
        content = await upload.read()
        return await service.upload_document(
            actor=actor, tender_id=tender_id, title=title or upload.filename or "",
            filename=upload.filename or "document", media_type=upload.content_type or "application/octet-stream",
            content=content, document_id=document_id, lot_id=lot_id, reason=reason, settings=settings)

    @get("/{tender_id:uuid}/documents/{document_id:uuid}", summary="Download a document (latest or ?version=)",
         media_type="application/octet-stream")
    async def download(self, tender_id: FromPath[UUID], document_id: FromPath[UUID], actor: ActorDep,
                       version: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None) -> Response[bytes]:
        doc = await service.get_document(actor=actor, tender_id=tender_id, document_id=document_id,
                                         version=version)
        safe_name = "".join(c for c in doc["filename"] if c.isalnum() or c in "._- ") or "document"
        # Served as bytes to save, whatever type the uploader declared (it stays in the document list): a
        # browser never renders an uploaded file as a page of ours (issue 17, finding 7; nosniff is on).
        return Response(content=bytes(doc["content"]), media_type="application/octet-stream", headers={
            "Content-Disposition": f'attachment; filename="{safe_name}"', "ETag": f'"{doc["sha256"]}"',
            "X-Content-SHA256": doc["sha256"], "X-Document-Version": str(doc["version"])})


ROUTES = [TenderController]

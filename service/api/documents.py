"""The document library over HTTP: health (public), list, upload, delete."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from service.api.auth import audit, service_of
from service.library import UploadRejected

public = APIRouter()
router = APIRouter()

_MULTIPART = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                }
            }
        },
    }
}


_FILENAME = re.compile(r'filename="((?:[^"\\]|\\.)*)"', re.IGNORECASE)


def given_name(upload: UploadFile) -> str:
    """The file name as the client sent it. The multipart parser cuts a Windows path (``C:\\dir\\x.md``, as old
    browsers sent) to its last part; the library refuses names with paths, so it gets the name as sent."""
    raw = upload.headers.get("content-disposition", "")
    found = _FILENAME.search(raw)
    sent = found.group(1).replace("\\\\", "\\").replace('\\"', '"') if found else ""  # as the parser unescapes
    return sent if "\\" in sent and sent != upload.filename else upload.filename or ""


@public.get("/health")
def health(request: Request) -> dict[str, Any]:
    service = request.app.state.service  # the default knowledge base's counts; nothing of the others
    return {"status": "ok", "store": service.library.stats(), "llm": service.settings.llm.model}


@router.get("/documents")
def documents(request: Request) -> list[dict[str, Any]]:
    return [vars(d) for d in service_of(request).library.documents()]


@router.delete("/documents/{document_id:path}")
def delete_document(request: Request, document_id: str) -> dict[str, Any]:
    service = service_of(request, write=True)
    try:
        removed = service.library.delete(document_id)
    except KeyError:
        raise HTTPException(404, f"no document {document_id!r}; GET /documents lists them") from None
    audit(request, "delete", document=removed.id, chunks=removed.chunks)
    return {"deleted": removed.id, "chunks": removed.chunks}


@router.post("/ingest", openapi_extra=_MULTIPART)
async def ingest_files(request: Request) -> JSONResponse:
    """Upload files (multipart field `files`, repeated): each is checked, stored and ingested; refusals and failures
    are listed by name. Too many files is refused as the parts arrive (uploads.max_files)."""
    service = service_of(request, write=True)
    cfg = service.settings.uploads
    form = await request.form(max_files=cfg.max_files, max_fields=10)
    files = [item for item in form.getlist("files") if isinstance(item, UploadFile)]
    if not files:
        raise HTTPException(422, "no files: send them as multipart form field 'files'")
    uploads = []
    per_file = int(cfg.max_file_mb * 1024 * 1024)
    for upload in files:
        data = await upload.read(per_file + 1)  # one byte over is enough to refuse it
        uploads.append((given_name(upload), data))
    await form.close()
    try:
        outcome = await run_in_threadpool(service.library.add, uploads)
    except UploadRejected as exc:
        raise HTTPException(400, str(exc)) from None
    ingested, failed = [i.get("id") for i in outcome.ingested], [f["file"] for f in outcome.failed]
    audit(request, "upload", ingested=ingested, failed=failed)
    status = 200 if outcome.ingested or not outcome.failed else 422
    return JSONResponse(outcome.to_dict(), status_code=status)

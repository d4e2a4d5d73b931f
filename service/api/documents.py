"""The document library over HTTP: health (public), list, upload, delete."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from rag.errors import ConfigError
from rag.stores.restricted import access_key
from service.api.auth import audit, principal_of, service_of
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
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "groups": {
                            "type": "string",
                            "description": "only these groups (comma-separated) may read the files; default: "
                            "everyone who may read the knowledge base ('*' makes a replaced file public again)",
                        },
                    },
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
    """The documents the caller may read, each with the groups that may read it ([]: everyone here)."""
    service = service_of(request)
    readable = service.library.documents(service.restriction(principal_of(request)))
    return [{**vars(d), "groups": d.groups} for d in readable]


@router.delete("/documents/{document_id:path}")
def delete_document(request: Request, document_id: str) -> dict[str, Any]:
    service = service_of(request, write=True)
    restriction = service.restriction(principal_of(request))
    hidden = restriction is not None and document_id not in {d.id for d in service.library.documents(restriction)}
    if hidden and document_id in {d.id for d in service.library.documents()}:
        who = principal_of(request).name
        raise HTTPException(403, f"{who} may not delete {document_id!r}: none of their groups may read it")
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
    named = form.get("groups")
    groups = [g.strip() for g in named.split(",") if g.strip()] if isinstance(named, str) else None
    if groups and groups != ["*"]:
        try:
            access_key(groups)  # a bad name is refused before any file is stored
        except ConfigError as exc:
            raise HTTPException(400, str(exc)) from None
    if not files:
        raise HTTPException(422, "no files: send them as multipart form field 'files'")
    uploads = []
    per_file = int(cfg.max_file_mb * 1024 * 1024)
    for upload in files:
        data = await upload.read(per_file + 1)  # one byte over is enough to refuse it
        uploads.append((given_name(upload), data))
    await form.close()
    try:
        outcome = await run_in_threadpool(service.library.add, uploads, None, groups)
    except (UploadRejected, ConfigError) as exc:
        raise HTTPException(400, str(exc)) from None
    ingested, failed = [i.get("id") for i in outcome.ingested], [f["file"] for f in outcome.failed]
    audit(request, "upload", ingested=ingested, failed=failed, groups=groups or [])
    status = 200 if outcome.ingested or not outcome.failed else 422
    return JSONResponse(outcome.to_dict(), status_code=status)

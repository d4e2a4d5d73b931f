"""Who is asking, and which knowledge base they may use: every guarded route depends on :func:`bearer`, which
resolves the request's principal (service/identity.py: admin token, API key or JWT; 401 otherwise), and reaches
its knowledge base through :func:`service_of` (``/kb/{kb}/…`` routes, or the default one), which checks the read
or write rule (403) and hands back that knowledge base's RagService."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request

from rag.answer.pipeline import RagPipeline
from service.identity import Principal, Unauthorized
from service.knowledge_bases import DEFAULT, Forbidden, UnknownKnowledgeBase
from service.rag_service import RagService


def bearer(request: Request) -> None:
    """401 unless the request carries valid credentials (none configured: open, as on a loopback dev box)."""
    try:
        request.state.principal = request.app.state.identity.principal(request.headers.get("authorization"))
    except Unauthorized as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None


def principal_of(request: Request) -> Principal:
    return request.state.principal


def kb_of(request: Request) -> str:
    return request.path_params.get("kb", DEFAULT)


def service_of(request: Request, write: bool = False, kb: str | None = None) -> RagService:
    """The RagService of the request's knowledge base, after checking the principal may read (or write) it."""
    name = kb or kb_of(request)
    try:
        request.app.state.knowledge_bases.check(principal_of(request), name, write=write)
    except Forbidden as exc:
        raise HTTPException(403, str(exc)) from None
    except UnknownKnowledgeBase as exc:
        raise HTTPException(404, str(exc)) from None
    return request.app.state.service.for_kb(name)


def pipeline_of(request: Request, kb: str | None = None, **overrides: Any) -> RagPipeline:
    """The request's knowledge base's pipeline as its principal sees it: searches only reach the documents they
    may read (rag/stores/restricted.py)."""
    service = service_of(request, kb=kb)
    return service.pipeline(service.restriction(principal_of(request)), **overrides)


def audit(request: Request, action: str, kb: str | None = None, **details) -> None:
    request.app.state.audit.write(principal_of(request), action, kb or kb_of(request), **details)

"""The bearer token check every guarded route depends on (constant-time compare)."""

from __future__ import annotations

import secrets

from fastapi import HTTPException, Request

from service.rag_service import RagService


def bearer(request: Request) -> None:
    """401 unless the request carries the app's token (no token configured: open, as on a loopback dev box)."""
    token = request.app.state.token
    if not token:
        return
    given = request.headers.get("authorization", "")
    if not secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})


def service_of(request: Request) -> RagService:
    """The RagService the app was built over."""
    return request.app.state.service

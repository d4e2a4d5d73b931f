"""The request-body limit, enforced on the bytes actually received: a body that declares its length is refused
before it is read, and a chunked one (no Content-Length) as soon as it passes the limit, so nothing over it is
ever buffered."""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException


class BodyLimit:
    """Pure ASGI middleware: 413 for a request body over `limit` bytes."""

    def __init__(self, app: Any, limit: int):
        self.app = app
        self.limit = limit

    def _too_large(self, size: str) -> str:
        return f"request body of {size} is over the {self.limit / 2**20:g} MB limit (server.max_request_mb)"

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await self._refuse(send, self._too_large(f"{int(length) / 2**20:.1f} MB"))
            return
        received = 0

        async def counted() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # An HTTPException passes through FastAPI's body parsing unchanged, so the client gets a 413.
                    raise HTTPException(413, self._too_large(f"more than {self.limit / 2**20:g} MB"))
            return message

        await self.app(scope, counted, send)

    @staticmethod
    async def _refuse(send: Any, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

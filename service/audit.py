"""The audit log: one JSON line per request that reads or changes a knowledge base — who (principal and groups),
what (the question, the upload, the deletion), where (the knowledge base) and which chunk ids were returned.
``server.audit`` names the file; null turns it off."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.identity import Principal


class AuditLog:
    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self._lock = threading.Lock()

    def write(self, principal: Principal, action: str, kb: str, **details: Any) -> None:
        if self.path is None:
            return
        record = {
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "who": principal.name,
            "groups": sorted(principal.groups),
            "via": principal.via,
            "action": action,
            "kb": kb,
            **details,
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)

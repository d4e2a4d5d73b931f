"""The chat app's conversations, kept server-side so that a reload or a closed tab loses nothing, and the
feedback people give on answers.

Each browser holds an owner key (a random token in its URL, ``?u=…``); its conversations are JSON files under
``<chat.conversations>/<owner>/<id>.json``, written atomically (a temporary file, then a rename). Keys are
checked before they touch a path, so a crafted URL cannot reach another folder, and an owner sees only its own
conversations. Feedback (thumbs up/down, an optional comment, the question, the answer and the passages it
cited) is appended to ``chat.feedback`` as JSON lines: the evaluation reads it as reviewed questions.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from rag.config import ChatConfig

_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_LOCK = threading.Lock()
TITLE_CHARS = 60


def new_key() -> str:
    """An unguessable owner or conversation key (URL-safe)."""
    return secrets.token_urlsafe(12)


def valid_key(key: str | None) -> bool:
    return bool(key) and bool(_KEY.match(str(key)))


class Conversations:
    def __init__(self, cfg: ChatConfig):
        self.folder = Path(cfg.conversations)
        self.feedback_path = Path(cfg.feedback)

    def list(self, owner: str) -> list[dict[str, Any]]:
        """The owner's conversations, the latest first: id, title, updated (epoch seconds), messages (count)."""
        folder = self._folder(owner)
        found = []
        for path in folder.glob("*.json") if folder.is_dir() else []:
            conversation = self._read(path)
            if conversation is not None:
                found.append(
                    {
                        "id": conversation["id"],
                        "title": conversation.get("title") or "New conversation",
                        "updated": conversation.get("updated", 0),
                        "messages": len(conversation.get("messages", [])),
                    }
                )
        return sorted(found, key=lambda item: item["updated"], reverse=True)

    def load(self, owner: str, conversation_id: str) -> dict[str, Any] | None:
        if not valid_key(conversation_id):
            return None
        return self._read(self._folder(owner) / f"{conversation_id}.json")

    def save(self, owner: str, conversation: dict[str, Any]) -> None:
        """Write the conversation (a title from its first question unless it was renamed)."""
        if not valid_key(conversation.get("id")):
            raise ValueError("a conversation needs a valid id")
        messages = conversation.get("messages", [])
        if not conversation.get("title") and messages:
            first = " ".join(str(messages[0].get("content", "")).split())
            conversation["title"] = first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1] + "…"
        conversation["updated"] = time.time()
        folder = self._folder(owner)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{conversation['id']}.json"
        temporary = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_text(json.dumps(conversation, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, path)

    def rename(self, owner: str, conversation_id: str, title: str) -> None:
        conversation = self.load(owner, conversation_id)
        if conversation is not None:
            conversation["title"] = " ".join(title.split())[:200] or conversation.get("title")
            self.save(owner, conversation)

    def delete(self, owner: str, conversation_id: str) -> bool:
        if not valid_key(conversation_id):
            return False
        path = self._folder(owner) / f"{conversation_id}.json"
        if path.is_file():
            path.unlink()
            return True
        return False

    def add_feedback(self, record: dict[str, Any]) -> None:
        """One JSON line per rating: {time, owner, conversation, question, answer, rating (1 up, 0 down),
        comment, contexts, sources}."""
        self.feedback_path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"time": time.time(), **record}, ensure_ascii=False)
        with _LOCK, self.feedback_path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def _folder(self, owner: str) -> Path:
        if not valid_key(owner):
            raise ValueError("not a valid owner key")
        return self.folder / owner

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and valid_key(data.get("id")) else None


def as_markdown(conversation: dict[str, Any]) -> str:
    """The conversation as a Markdown document (export): questions as headings, answers with their sources."""
    lines = [f"# {conversation.get('title') or 'Conversation'}", ""]
    for message in conversation.get("messages", []):
        if message.get("role") == "user":
            lines += [f"## {message.get('content', '')}", ""]
            continue
        lines += [str(message.get("content", "")), ""]
        sources = message.get("sources") or []
        if sources:
            lines += ["Sources:", ""]
            lines += [f"- [{source['number']}] {source['where']}" for source in sources]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"

"""A deterministic judge and extractive generator, for testing the evaluation's plumbing and its gate.

`LexicalJudge` implements our LLM interface. For ragas' prompts (recognised by the title of the JSON
schema they embed) it answers by word overlap: a statement is supported when most of its content words
occur in the context. So known inputs give known scores, e.g. one supported and one unsupported
statement → faithfulness 0.5. For a plain answer prompt it answers with the first sentence of passage
[1], cited. `serve(judge)` puts it behind an OpenAI-compatible /v1/chat/completions on loopback (with
SSE streaming), standing in for a judge server such as vLLM; `fail_with=500` makes it answer errors.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rag.llms.base import Completion
from tests.support.net import send_json

_WORD = re.compile(r"[a-z0-9]+")
_STOP = {"the", "and", "that", "this", "with", "from", "were", "was", "are", "for", "not", "have", "has", "which"}


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP}


def supported(statement: str, context: str, share: float = 0.6) -> bool:
    words = content_words(statement)
    return bool(words) and len(words & content_words(context)) >= share * len(words)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def prompt_input(prompt: str) -> dict[str, Any]:
    """The JSON input a ragas PydanticPrompt ends with."""
    start = prompt.rfind("\ninput: ")
    return json.JSONDecoder().raw_decode(prompt, start + len("\ninput: "))[0]


def judge_answer(prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
    data = prompt_input(prompt)
    title = schema.get("title")
    if title == "StatementGeneratorOutput":
        return {"statements": sentences(data["answer"]) or [data["answer"]]}
    if title == "NLIStatementOutput":
        return {
            "statements": [
                {"statement": s, "reason": "overlap", "verdict": int(supported(s, data["context"]))}
                for s in data["statements"]
            ]
        }
    if title == "ContextRecallClassifications":
        return {
            "classifications": [
                {"statement": s, "reason": "overlap", "attributed": int(supported(s, data["context"]))}
                for s in sentences(data["answer"])
            ]
        }
    if title == "Verification":
        return {"reason": "overlap", "verdict": int(supported(data["answer"], data["context"], share=0.25))}
    if title == "ResponseRelevanceOutput":
        return {"question": data["response"], "noncommittal": 0}
    raise ValueError(f"the lexical judge does not know the prompt {title!r}")


def extractive_answer(prompt: str) -> str:
    match = re.search(r"\[1\] \([^\n]*\)\n(.+)", prompt)
    if not match:
        return "I could not find the answer to that in your documents."
    first = sentences(match.group(1))
    return f"{first[0] if first else match.group(1)} [1]"


class LexicalJudge:
    """Our LLM interface, answered by `judge_answer` / `extractive_answer`; counts its calls."""

    name = "lexical-judge"
    supports_grammar = False

    def __init__(self):
        self.calls = 0
        self._lock = threading.Lock()

    def _count(self) -> None:
        with self._lock:
            self.calls += 1

    def complete_json(self, messages, schema, *, max_tokens=None, temperature=0.0):
        self._count()
        return judge_answer(messages[-1]["content"], schema)

    def complete(self, messages, *, max_tokens=None, temperature=None, **extra):
        self._count()
        return Completion(text=extractive_answer(messages[-1]["content"]))

    def stream(self, messages, *, max_tokens=None, temperature=None, **extra):
        yield self.complete(messages).text


def serve(judge: LexicalJudge, port: int, fail_with: int | None = None) -> ThreadingHTTPServer:
    """An OpenAI-compatible chat server on 127.0.0.1:`port` in a daemon thread (call .shutdown())."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if fail_with:
                return self._send(fail_with, {"error": {"message": "judge overloaded"}})
            messages = body["messages"]
            schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")
            text = json.dumps(judge.complete_json(messages, schema)) if schema else judge.complete(messages).text
            if body.get("stream"):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                chunk = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode())
                return None
            return self._send(
                200,
                {
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1},
                },
            )

        def _send(self, status, payload):
            send_json(self, status, payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

"""Any OpenAI-compatible chat server: vLLM, Ollama, llama.cpp server, TGI, OpenAI itself."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from rag.errors import LLMError, LLMServerError
from rag.http import send
from rag.llms.base import Completion, LLMOptions, Message


class OpenAICompatOptions(LLMOptions):
    backend: Literal["openai"] = "openai"
    base_url: str | None = Field(None, description="the server's /v1 URL, e.g. http://127.0.0.1:8000/v1")
    api_key_env: str = Field("OPENAI_API_KEY", description="the NAME of the variable holding the key")
    retries: int = Field(2, ge=0, description="retries on connection errors and 429/5xx, with backoff")


class OpenAICompatLLM:
    Options = OpenAICompatOptions

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key_env: str = "OPENAI_API_KEY",
        temperature: float = 0.1,
        max_tokens: int = 512,
        timeout_s: float = 30.0,
        retries: int = 2,
        seed: int = 0,
    ):
        self.name = model
        self.base_url = base_url.rstrip("/")
        self.api_key = os.environ.get(api_key_env, "")
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.retries = retries
        self.seed = seed

    @classmethod
    def from_config(cls, cfg: OpenAICompatOptions) -> OpenAICompatLLM:
        if not cfg.base_url:
            raise LLMError("llm.backend is 'openai' but llm.base_url is not set (e.g. http://127.0.0.1:8000/v1)")
        return cls(
            cfg.model,
            cfg.base_url,
            cfg.api_key_env,
            cfg.temperature,
            cfg.max_tokens,
            cfg.timeout_s or 30.0,
            cfg.retries,
            cfg.seed,
        )

    def warm_up(self) -> None:
        """Nothing to load: the server holds the model."""

    def _body(
        self, messages: list[Message], max_tokens: int | None, temperature: float | None, **extra: Any
    ) -> dict[str, Any]:
        return {
            "model": self.name,
            "messages": messages,
            "max_tokens": max_tokens or self.max_tokens,
            "temperature": self.temperature if temperature is None else temperature,
            "seed": self.seed,
            **extra,
        }

    def _post(self, body: dict[str, Any], stream: bool):
        """An open streaming response (caller closes it); retried with backoff on connection errors."""
        import httpx

        url = f"{self.base_url}/chat/completions"
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        client = httpx.Client(timeout=httpx.Timeout(self.timeout_s))
        try:
            response = send(
                client,
                lambda: client.build_request("POST", url, json={**body, "stream": stream}, headers=headers),
                where=f"LLM server at {self.base_url}",
                timeout_s=self.timeout_s,
                retries=self.retries,
                fail=lambda message, timed_out: LLMServerError(message, timed_out=timed_out),
            )
        except LLMServerError:
            client.close()
            raise
        return client, response

    def stream(
        self, messages: list[Message], *, max_tokens: int | None = None, temperature: float | None = None, **extra: Any
    ) -> Iterator[str]:
        import httpx

        client, response = self._post(self._body(messages, max_tokens, temperature, **extra), stream=True)
        try:
            events, other = 0, []
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    if len(other) < 50:
                        other.append(line)
                    continue
                data = line[5:].strip()
                events += 1
                if data == "[DONE]":
                    break
                delta = self._delta(data)
                if delta:
                    yield delta
            if not events:
                raise self._no_stream(response, "\n".join(other))
        except httpx.TimeoutException:
            raise LLMServerError(
                f"LLM server at {self.base_url} stopped answering for {self.timeout_s:.0f} s in the middle of a stream",
                timed_out=True,
            ) from None
        except httpx.TransportError as exc:
            raise LLMServerError(
                f"LLM server at {self.base_url} broke off the answer ({exc.__class__.__name__})"
            ) from None
        finally:
            response.close()
            client.close()

    def complete(
        self, messages: list[Message], *, max_tokens: int | None = None, temperature: float | None = None, **extra: Any
    ) -> Completion:
        import httpx

        client, response = self._post(self._body(messages, max_tokens, temperature, **extra), stream=False)
        try:
            body = response.read()
            data = json.loads(body)
        except json.JSONDecodeError:
            raise LLMServerError(
                f"LLM server at {self.base_url} answered with something that is not JSON: {body[:80]!r}"
            ) from None
        except httpx.TimeoutException:
            raise LLMServerError(
                f"LLM server at {self.base_url} did not answer within {self.timeout_s:.0f} s", timed_out=True
            ) from None
        except httpx.TransportError as exc:
            raise LLMServerError(
                f"LLM server at {self.base_url} broke off the answer ({exc.__class__.__name__})"
            ) from None
        finally:
            response.close()
            client.close()
        try:
            return Completion.from_openai(data)
        except (KeyError, IndexError, TypeError, AttributeError):
            raise LLMServerError(
                f"LLM server at {self.base_url} answered JSON that is not a chat completion: {str(data)[:80]!r}"
            ) from None

    def _no_stream(self, response: Any, body: str) -> LLMServerError:
        """Why a streamed request got no events: the server's own error (a prompt over its context window, …) when it
        sent one as JSON, else the content type it sent."""
        try:
            error = json.loads(body).get("error")
        except (json.JSONDecodeError, AttributeError):
            error = None
        if error:
            message = error.get("message", error) if isinstance(error, dict) else error
            hint = " — the prompt is longer than the model's context (llm.n_ctx)" if "context" in str(message) else ""
            return LLMServerError(f"LLM server at {self.base_url} refused the request: {str(message)[:300]}{hint}")
        content_type = response.headers.get("content-type", "none")
        if content_type.startswith("text/event-stream") and not body.strip():
            return LLMServerError(
                f"LLM server at {self.base_url} ended the answer before its first token — llama.cpp's server does "
                "this when the prompt is longer than the model's context (llm.n_ctx); see its log for the reason"
            )
        return LLMServerError(
            f"LLM server at {self.base_url} answered without an OpenAI-compatible event stream "
            f"(content-type {content_type!r}); is base_url the /v1 endpoint?"
        )

    def _delta(self, data: str) -> str | None:
        """The text of one stream event; a clear error for an event that is not an OpenAI chunk."""
        try:
            event = json.loads(data)
            if event.get("error"):
                raise LLMServerError(f"LLM server at {self.base_url} reported an error: {str(event['error'])[:200]}")
            choices = event.get("choices") or [{}]
            return (choices[0].get("delta") or {}).get("content")
        except (json.JSONDecodeError, AttributeError, IndexError, TypeError):
            raise LLMServerError(
                f"LLM server at {self.base_url} sent a stream event that is not an OpenAI chunk: {data[:80]!r}"
            ) from None

    def complete_json(
        self,
        messages: list[Message],
        schema: dict[str, Any],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
    ) -> dict[str, Any]:
        # Servers differ: vLLM and OpenAI honour json_schema; llama.cpp's server ignored it in our probe,
        # so the schema is also stated in the prompt and the answer is parsed defensively.
        instruction = {
            "role": "system",
            "content": "Answer with JSON only, matching this schema: " + json.dumps(schema),
        }
        completion = self.complete(
            [instruction, *messages],
            max_tokens=max_tokens,
            temperature=temperature,
            response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}},
        )
        text = completion.text.strip()
        start, end = text.find("{"), text.rfind("}")
        try:
            return json.loads(text[start : end + 1] if start >= 0 else text)
        except json.JSONDecodeError:
            raise LLMError(
                f"LLM server at {self.base_url} did not return valid JSON (finish_reason={completion.finish_reason})"
            ) from None

"""One way to call an OpenAI-compatible server (chat completions, embeddings): retries with backoff on connection
errors and 429/5xx, and each failure as the caller's one-line error saying what to check."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

RETRY_STATUS = {429, 500, 502, 503, 504}
HINT = "— is it running? see README#llm"


def send(
    client: Any,
    request: Callable[[], Any],
    *,
    where: str,
    timeout_s: float,
    retries: int,
    fail: Callable[[str, bool], Exception],
    stream: bool = True,
    hint: str = HINT,
) -> Any:
    """The server's 200 response to ``request()`` (an httpx.Request, built again for each try), or ``fail(message,
    timed_out)`` raised: a timeout, an unreachable server after `retries` tries, or any other status."""
    import httpx

    for attempt in range(retries + 1):
        try:
            response = client.send(request(), stream=stream)
        except httpx.TimeoutException:
            raise fail(f"{where} did not answer within {timeout_s:.0f} s {hint}", True) from None
        except httpx.TransportError as exc:
            if attempt < retries:
                time.sleep(0.5 * 2**attempt)
                continue
            raise fail(f"{where} is unreachable ({exc.__class__.__name__}) {hint}", False) from None
        if response.status_code in RETRY_STATUS and attempt < retries:
            response.close()
            time.sleep(0.5 * 2**attempt)
            continue
        if response.status_code != 200:
            detail = response.read().decode(errors="replace")[:300]
            response.close()
            raise fail(f"{where} answered {response.status_code}: {detail}", False)
        return response
    raise AssertionError("unreachable")

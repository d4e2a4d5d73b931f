"""OpenTelemetry traces of ingest and of every answer, named as OpenInference names them (Phoenix, Langfuse and
Arize read them): off by default; ``tracing.enabled: true`` and an OTLP endpoint turn them on.

``tracer_for(cfg)`` gives a no-op tracer while off, so the instrumented code costs nothing then. Spans are
started with an explicit parent (``Trace.stage``) rather than the ambient context, because an answer is a
generator that a web server may resume on another thread.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

if TYPE_CHECKING:
    from rag.config import TracingConfig
    from rag.documents import Hit

KIND = "openinference.span.kind"  # CHAIN, RETRIEVER, RERANKER, LLM, EMBEDDING
_PROVIDERS: dict[tuple, Any] = {}
_LOCK = threading.Lock()
_ACTIVE: ContextVar[tuple[Trace, Any] | None] = ContextVar("rag_trace_stage", default=None)


def tracer_for(cfg: TracingConfig) -> trace.Tracer:
    """The tracer the config asks for: a no-op one while off, else one exporting to ``cfg.endpoint``."""
    if not cfg.enabled:
        return trace.NoOpTracer()
    if cfg.endpoint is None:  # the application set up OpenTelemetry itself
        return trace.get_tracer("powerhouse-rag")
    key = (cfg.endpoint, cfg.protocol, cfg.service_name, cfg.headers_env)
    with _LOCK:
        provider = _PROVIDERS.get(key)
        if provider is None:
            provider = _PROVIDERS[key] = _provider(cfg)
    return provider.get_tracer("powerhouse-rag")


def _provider(cfg: TracingConfig):
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    headers = None
    if cfg.headers_env and os.environ.get(cfg.headers_env):
        headers = dict(pair.split("=", 1) for pair in os.environ[cfg.headers_env].split(",") if "=" in pair)
    if cfg.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        insecure = cfg.endpoint.startswith("http://")
        exporter = OTLPSpanExporter(endpoint=cfg.endpoint, insecure=insecure, headers=headers)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=cfg.endpoint, headers=headers)
    provider = TracerProvider(resource=Resource.create({"service.name": cfg.service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    atexit.register(provider.shutdown)
    return provider


def flush(timeout_ms: int = 5000) -> None:
    """Send every finished span now (tests; short-lived commands end with it through atexit)."""
    for provider in list(_PROVIDERS.values()):
        provider.force_flush(timeout_ms)


class Trace:
    """One traced operation (an answer, an ingest): a root span and its stages, parented explicitly."""

    def __init__(self, tracer: trace.Tracer, name: str, kind: str, capture: bool = True, **attributes: Any):
        self.tracer, self.capture = tracer, capture
        self.root = tracer.start_span(name, attributes={KIND: kind, **_clean(attributes)})
        self.context = trace.set_span_in_context(self.root)
        self._open: dict[str, trace.Span] = {}

    @classmethod
    def off(cls) -> Trace:
        """A trace that records nothing (what code traced by a caller gets when no caller traces it)."""
        return cls(trace.NoOpTracer(), "untraced", "CHAIN")

    @contextmanager
    def stage(self, name: str, kind: str, *, nest: bool = False, **attributes: Any) -> Iterator[trace.Span]:
        """A child span; ``nest=True`` makes it the ambient parent too (only around code that does not yield)."""
        yield from self._span(name, kind, self.context, nest, attributes)

    def _span(self, name: str, kind: str, parent: Any, nest: bool, attributes: dict[str, Any]) -> Iterator[trace.Span]:
        span = self.tracer.start_span(name, context=parent, attributes={KIND: kind, **_clean(attributes)})
        token = _ACTIVE.set((self, trace.set_span_in_context(span))) if nest else None
        try:
            yield span
        except BaseException as exc:
            failed(span, exc)
            raise
        finally:
            if token is not None:
                _ACTIVE.reset(token)
            span.end()

    def open(self, key: str, name: str, kind: str, **attributes: Any) -> None:
        """Start a child span that another call (perhaps on another thread) ends with ``close(key)``."""
        self._open[key] = self.tracer.start_span(name, self.context, attributes={KIND: kind, **_clean(attributes)})

    def close(self, key: str, error: str | None = None, **attributes: Any) -> None:
        span = self._open.pop(key, None)
        if span is not None:
            span.set_attributes(_clean(attributes))
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, error))
            span.end()

    def text(self, span: trace.Span, key: str, value: str) -> None:
        """A text attribute (question, passage, answer), left out when ``capture_content`` is off."""
        if self.capture:
            span.set_attribute(key, value)

    def documents(self, span: trace.Span, hits: list[Hit]) -> None:
        """``retrieval.documents.N.document.*``: id, score, and (when capturing) text and metadata."""
        for number, hit in enumerate(hits):
            prefix = f"retrieval.documents.{number}.document"
            span.set_attribute(f"{prefix}.id", hit.id)
            span.set_attribute(f"{prefix}.score", float(hit.score))
            if self.capture:
                span.set_attribute(f"{prefix}.content", hit.text)
                span.set_attribute(f"{prefix}.metadata", json.dumps(hit.metadata, default=str))

    def end(self, error: BaseException | None = None) -> None:
        if error is not None:
            failed(self.root, error)
        self.root.end()


@contextmanager
def child(name: str, kind: str, **attributes: Any) -> Iterator[trace.Span | None]:
    """A span under the stage in progress (``Trace.stage(nest=True)``): the retriever's own steps; ``None``
    outside one, so a retriever used on its own traces nothing."""
    active = _ACTIVE.get()
    if active is None:
        yield None
        return
    owner, parent = active
    yield from owner._span(name, kind, parent, True, attributes)


def failed(span: trace.Span, exc: BaseException) -> None:
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{exc.__class__.__name__}: {exc}"))


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    """OpenTelemetry takes str/bool/int/float (and lists of them); None is left out."""
    return {
        k: v if isinstance(v, str | bool | int | float | list) else str(v)
        for k, v in attributes.items()
        if v is not None
    }

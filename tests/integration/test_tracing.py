"""OpenTelemetry traces, for real: ingest and one answer (real model, real store) are exported over OTLP/gRPC
to a receiver on 127.0.0.1 (the OTLP trace service, as Phoenix or a collector runs it), which decodes what
arrived; the spans carry OpenInference's names. Off by default: nothing arrives then."""

from __future__ import annotations

import socket
from concurrent import futures

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from ingest.run import ingest
from rag import tracing
from rag.answer.pipeline import RagPipeline
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self):
        self.spans: list = []

    def Export(self, request, context):  # the OTLP service's method name
        for resource_spans in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
            for scope in resource_spans.scope_spans:
                self.spans.extend((service, span) for span in scope.spans)
        return trace_service_pb2.ExportTraceServiceResponse()

    def named(self, name: str) -> list:
        return [span for _, span in self.spans if span.name == name]


def attributes(span) -> dict:
    def value(v):
        kind = v.WhichOneof("value")
        if kind == "array_value":
            return [value(x) for x in v.array_value.values]
        return getattr(v, kind)

    return {a.key: value(a.value) for a in span.attributes}


@pytest.fixture(scope="module")
def receiver():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    sink = Receiver()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(sink, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    sink.endpoint = f"http://127.0.0.1:{port}"
    yield sink
    server.stop(0)


def test_ingest_and_one_answer_arrive_as_openinference_spans(receiver, settings_for, embedder, local_llm):
    settings = settings_for(tracing={"enabled": True, "endpoint": receiver.endpoint, "service_name": "rag-test"})
    ingest([EXAMPLES], settings, embedder=embedder)
    answer = RagPipeline(settings, embedder=embedder, llm=local_llm).ask(
        "How long does a full charge of the Aurora battery take?"
    )
    tracing.flush()
    assert answer.found and {service for service, _ in receiver.spans} == {"rag-test"}

    [root] = receiver.named("rag.ingest")
    files = receiver.named("ingest.file")
    assert len(files) == attributes(root)["rag.new"] == len(list(EXAMPLES.iterdir()))
    assert all(f.parent_span_id == root.span_id and f.trace_id == root.trace_id for f in files)
    assert sum(attributes(f)["rag.chunks"] for f in files) == attributes(root)["rag.chunks_written"] > 0
    embeds = receiver.named("embed")
    assert embeds and sum(attributes(e)["rag.texts"] for e in embeds) == attributes(root)["rag.chunks_embedded"]

    [top] = receiver.named("rag.answer")
    stages = {span.name: span for _, span in receiver.spans if span.parent_span_id == top.span_id}
    assert set(stages) == {"retrieve", "context", "prompt", "generate", "citations"}  # no history: no condense
    top_attributes = attributes(top)
    assert top_attributes["openinference.span.kind"] == "CHAIN"
    assert top_attributes["input.value"] == answer.question and top_attributes["output.value"] == answer.text
    retrieve = attributes(stages["retrieve"])
    assert retrieve["openinference.span.kind"] == "RETRIEVER" and retrieve["rag.strategy"] == "hybrid"
    ids = [retrieve[f"retrieval.documents.{n}.document.id"] for n in range(settings.answer.k)]
    assert set(ids) >= {hit.id for hit in answer.contexts} and len(ids) == settings.answer.k
    # The strategy and its signals nest under the retrieve stage.
    [strategy] = receiver.named("retriever.hybrid")
    assert strategy.parent_span_id == stages["retrieve"].span_id
    assert {s.name for s in receiver.named("signal.dense") + receiver.named("signal.bm25")} == {
        "signal.dense",
        "signal.bm25",
    }
    generate = attributes(stages["generate"])
    assert generate["openinference.span.kind"] == "LLM"
    assert generate["llm.token_count.completion"] == answer.tokens["generated"]
    assert generate["llm.input_messages.0.message.role"] == "system"
    cited = attributes(stages["citations"])
    assert cited["rag.answer.citations"] == [c.number for c in answer.citations] and cited["rag.grounded"] is True
    assert all(s.end_time_unix_nano >= s.start_time_unix_nano for _, s in receiver.spans)


def test_without_content_capture_no_text_leaves_the_process(receiver, settings_for, embedder, local_llm):
    settings = settings_for(
        tracing={"enabled": True, "endpoint": receiver.endpoint, "service_name": "private", "capture_content": False}
    )
    ingest([EXAMPLES], settings, embedder=embedder)
    answer = RagPipeline(settings, embedder=embedder, llm=local_llm).ask("Which error code means the sensor is off?")
    tracing.flush()
    private = [span for service, span in receiver.spans if service == "private"]
    assert private and answer.text
    texts = [str(v) for span in private for v in attributes(span).values()]
    assert not any(answer.text[:40] in t or "sensor" in t.lower() for t in texts)
    assert any(k.endswith(".document.id") for span in private for k in attributes(span))  # ids and scores remain


def test_tracing_is_off_by_default(settings_for, embedder, local_llm):
    settings = settings_for()
    assert settings.tracing.enabled is False
    pipeline = RagPipeline(settings, embedder=embedder, llm=local_llm)
    assert not pipeline.tracer.start_span("probe").is_recording()

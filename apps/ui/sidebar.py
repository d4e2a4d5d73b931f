"""The sidebar: the store and its stats, retrieval and LLM settings for this session, upload, clear chat."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import streamlit as st

from apps.ui import state
from ingest.pipeline import Progress
from rag.errors import RagError

STRATEGIES = ["hybrid", "dense", "bm25", "multi_query", "hyde", "fusion"]


class _Counter(Progress):
    """Ingest progress, counted from the ingest threads; the script thread draws it."""

    def __init__(self):
        self.total = 0
        self.done = 0
        self.pages = ""  # "reading scan.pdf: page 3 of 12" while a long file is read (text, tables, OCR)

    def plan(self, jobs) -> None:
        self.total = len(jobs)

    def file_done(self, source: str) -> None:
        self.done += 1

    def chunks_done(self, count: int) -> None:
        pass

    def pages_done(self, source: str, done: int, total: int) -> None:
        self.pages = f" · reading {source.rsplit('/', 1)[-1]}: page {done} of {total}" if done < total else ""


def render() -> None:
    service = state.service()
    cfg = service.settings
    session = state.session()
    with st.sidebar:
        st.header("PowerHouse RAG")
        try:
            stats = service.library.stats()
        except RagError as exc:
            stats = {"documents": 0, "chunks": 0, "last_ingest": None}
            st.warning(str(exc))
        st.caption(f"Store: {cfg.store.describe()}")
        left, right = st.columns(2)
        left.metric("Documents", stats["documents"])
        right.metric("Chunks", stats["chunks"])
        st.caption(f"Last ingest: {stats['last_ingest'] or 'never'}")

        st.subheader("Add documents")
        types = [t.lstrip(".") for t in service.library.accepted_types()]
        files = st.file_uploader(
            f"Up to {cfg.uploads.max_file_mb:g} MB each",
            type=types,
            accept_multiple_files=True,
            key=f"uploader-{session.get('uploader_round', 0)}",
        )
        if files and st.button("Ingest", type="primary", key="ingest"):
            ingest_uploads([(f.name, f.getvalue()) for f in files])
        render_outcomes()

        st.subheader("Retrieval")
        st.selectbox("Strategy", STRATEGIES, key="strategy", help="retriever.strategy, for this session")
        st.slider("Passages (k)", 1, 10, key="k")
        st.toggle("Re-rank", key="rerank", help="re-score the candidates (retriever.rerank)")
        st.subheader("LLM")
        if cfg.llm.backend == "openai":
            st.text_input("Model", key="model", help=f"served by {cfg.llm.base_url}")
            st.caption(f"OpenAI-compatible server · {cfg.llm.base_url}")
        else:
            st.selectbox("Model", state.local_models(), key="model", help="packaged GGUF models assembled here")
            st.caption("local · llama.cpp in a model process (a crash fails one answer, not the app)")
        if st.button("Clear chat", key="clear"):
            session["messages"] = []
            session["pending"] = None
            st.rerun()


def ingest_uploads(files: list[tuple[str, bytes]]) -> None:
    """Ingest in a worker thread while this script thread draws the progress bar."""
    session = state.session()
    counter = _Counter()
    bar = st.progress(0.0, text="Ingesting …")
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(state.service().library.add, files, counter)
        while not future.done():
            total = counter.total or 1
            bar.progress(
                min(counter.done / total, 1.0),
                text=f"Ingesting … {counter.done} of {counter.total} files{counter.pages}",
            )
            time.sleep(0.2)
    bar.empty()
    try:
        outcome = future.result()
    except RagError as exc:
        session["upload_outcomes"] = [{"file": "(upload)", "reason": str(exc), "ok": False}]
    else:
        session["upload_outcomes"] = [
            *(
                {"file": i["file"], "reason": f"{i['chunks']} chunks ({i['status']})", "ok": True}
                for i in outcome.ingested
            ),
            *({"file": f["file"], "reason": f["reason"], "ok": False} for f in outcome.failed),
        ]
    session["uploader_round"] = session.get("uploader_round", 0) + 1  # a fresh, empty uploader
    st.rerun()


def render_outcomes() -> None:
    for outcome in state.session().get("upload_outcomes", []):
        if outcome["ok"]:
            st.success(f"Ingested {outcome['file']}: {outcome['reason']}")
        else:
            st.error(f"Not ingested {outcome['file']}: {outcome['reason']}")

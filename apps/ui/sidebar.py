"""The sidebar: the store and its stats, retrieval and LLM settings for this session, upload, clear chat."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import streamlit as st

from apps.ui import state
from apps.ui.render import ago
from ingest.pipeline import Progress
from rag.errors import RagError
from service.conversations import as_markdown

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


def render_identity() -> None:
    """Who is logged in and the knowledge base picker (only what they may read); nothing for a local single user
    with one knowledge base."""
    who = state.principal()
    choices = state.readable() if who else []
    if state.login_required() and who is not None and who.via != "local":
        st.caption(f"Signed in as **{who.name}** ({', '.join(sorted(who.groups)) or 'no groups'})")
        if who.via != "proxy" and st.button("Sign out", key="sign_out"):
            st.session_state.pop("principal", None)
            st.rerun()
    if len(choices) > 1:
        st.selectbox("Knowledge base", choices, key="kb", help="what you search and add to (only those you may read)")


def render_upload(service, cfg, session) -> None:
    types = ", ".join(t.lstrip(".") for t in service.library.accepted_types())
    files = st.file_uploader(
        f"Up to {cfg.uploads.max_file_mb:g} MB each",
        accept_multiple_files=True,  # every file is sent: one the library refuses is listed with the reason
        help=f"Read here: {types}",
        key=f"uploader-{session.get('uploader_round', 0)}",
    )
    who = state.principal()
    groups: list[str] = []
    if state.login_required() and who is not None and who.groups:  # per-document readers (docs/security.md)
        groups = st.multiselect(
            "Only these groups may read them",
            sorted(who.groups),
            key="upload_groups",
            help="Empty: everyone who may read this knowledge base. A file uploaded again keeps its groups "
            "unless you choose others.",
        )
    if files and st.button("Ingest", type="primary", key="ingest"):
        ingest_uploads([(f.name, f.getvalue()) for f in files], groups or None)


def render() -> None:
    state.knowledge_base()  # settle the session's choice before any widget reads it
    service = state.service()
    cfg = service.settings
    session = state.session()
    with st.sidebar:
        st.header("PowerHouse RAG")
        render_identity()
        render_conversations()
        try:
            stats = service.library.stats(state.restriction())
        except RagError as exc:
            stats = {"documents": 0, "chunks": 0, "last_ingest": None}
            st.warning(str(exc))
        st.caption(f"Store: {cfg.store.describe()}")
        left, right = st.columns(2)
        left.metric("Documents", stats["documents"])
        right.metric("Chunks", stats["chunks"])
        st.caption(f"Last ingest: {ago(stats['last_ingest'])}", help=str(stats["last_ingest"] or ""))

        st.subheader("Add documents")
        if not state.may_write():
            st.caption(f"Read-only: you may not add documents to {state.knowledge_base()}.")
        else:
            render_upload(service, cfg, session)
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
            st.selectbox(
                "Model", state.local_models(), key="model", help=f"{session['model']} (packaged GGUF models here)"
            )
            st.caption(f"`{session['model']}` · local llama.cpp in a model process (a crash fails one answer)")


def render_conversations() -> None:
    """New, switch, rename, export and delete this browser's conversations (kept on the server)."""
    session = state.session()
    store = state.service().conversations
    current = state.conversation_id()
    if st.button("New conversation", key="new_conversation", icon=":material/add:", width="stretch"):
        state.start_conversation()
        st.rerun()
    listed = store.list(state.owner())
    if listed:
        with st.expander(f"Conversations ({len(listed)})", expanded=False):
            for item in listed[:30]:
                label = f"{'▶ ' if item['id'] == current else ''}{item['title']}"
                if st.button(
                    label, key=f"open-{item['id']}", help=f"{item['messages']} messages · {ago(item['updated'])}"
                ):
                    loaded = store.load(state.owner(), item["id"])
                    if loaded is not None:
                        state.open_conversation(loaded)
                        st.rerun()
    if not session["messages"]:
        return
    with st.expander("This conversation", expanded=False):
        title = st.text_input("Name", value=session.get("title") or "", key=f"title-{current}")
        if title and title != session.get("title"):
            store.rename(state.owner(), current, title)
            session["title"] = title
        conversation = {"title": session.get("title"), "messages": session["messages"]}
        st.download_button(
            "Export as Markdown",
            as_markdown(conversation),
            file_name=f"{(session.get('title') or 'conversation')[:40]}.md",
            mime="text/markdown",
            key=f"export-{current}",
        )
        if st.button("Delete this conversation", key=f"delete-{current}"):
            session["confirm_delete_conversation"] = current
        if session.get("confirm_delete_conversation") == current:
            name = session.get("title") or "this conversation"
            st.warning(f"Delete “{name}” and its {len(session['messages'])} messages?")
            yes, no = st.columns(2)
            if yes.button("Delete", type="primary", key="confirm_delete_conversation_button"):
                store.delete(state.owner(), current)
                session["confirm_delete_conversation"] = None
                state.start_conversation()
                st.rerun()
            if no.button("Cancel", key="cancel_delete_conversation"):
                session["confirm_delete_conversation"] = None
                st.rerun()


def ingest_uploads(files: list[tuple[str, bytes]], groups: list[str] | None = None) -> None:
    """Ingest in a worker thread while this script thread draws the progress bar."""
    session = state.session()
    counter = _Counter()
    bar = st.progress(0.0, text="Ingesting …")
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(state.service().library.add, files, counter, groups)
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
        session["upload_outcomes"] = [{"file": "(upload)", "reason": str(exc), "kind": "failed"}]
    else:
        session["upload_outcomes"] = [
            *(
                {"file": i["file"], "reason": f"{i['chunks']} chunks ({i['status']})", "kind": "ingested"}
                for i in outcome.ingested
            ),
            *(
                {"file": f["file"], "reason": f["reason"], "kind": "refused" if f.get("refused") else "failed"}
                for f in outcome.failed
            ),
        ]
    session["uploader_round"] = session.get("uploader_round", 0) + 1  # a fresh, empty uploader
    st.rerun()


def render_outcomes() -> None:
    """The last upload's outcome, every file listed (cleared by the next upload): ingested, refused (its type,
    size or name: nothing was stored) or failed (it could not be read)."""
    outcomes = state.session().get("upload_outcomes", [])
    if not outcomes:
        return
    counts = {kind: sum(o["kind"] == kind for o in outcomes) for kind in ("ingested", "refused", "failed")}
    summary = ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
    lines = [f"**Last upload:** {summary}"]
    lines += [f"- **{o['kind']}**: `{o['file']}` — {o['reason']}" for o in outcomes]
    (st.error if counts["failed"] or counts["refused"] else st.success)("\n".join(lines))

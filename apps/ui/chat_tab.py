"""The chat: history, streamed answers, [n] citations linked to the sources, timings, friendly errors."""

from __future__ import annotations

import streamlit as st

from apps.ui import render, state
from rag.errors import LLMError, RagError


def show_message(message: dict) -> None:
    with st.chat_message(message["role"]):
        if message["role"] == "user":
            st.markdown(message["content"])
            return
        if message.get("error"):
            st.error(message["content"])
            return
        if message.get("found") is False:
            st.info(message["content"])
        else:
            known = {s["number"] for s in message.get("sources", [])}
            st.markdown(render.link_citations(message["content"], known))
        show_sources(message.get("sources", []))
        notes = render.retrieval_notes(message.get("retrieval") or {})
        if notes:
            with st.expander(f"How it searched ({message['retrieval'].get('strategy', 'retrieval')})"):
                for line in notes:
                    st.markdown(line)
        if message.get("timings"):
            st.caption(render.timings_caption(message["timings"]))


def show_sources(sources: list[dict]) -> None:
    if not sources:
        return
    with st.expander(f"Sources ({len(sources)})"):
        for source in sources:
            where = source["where"]
            flag = "" if source["supported"] else " — <i>does not clearly support the claim</i>"
            st.markdown(
                f"<div id='source-{source['number']}' class='rag-source'><b>[{source['number']}] {where}</b>{flag}"
                f"<br><small>{source['html']}</small></div>",
                unsafe_allow_html=True,
            )


def render_tab() -> None:
    session = state.session()
    if not session["messages"]:
        stats = state.service().library.stats()
        if stats["documents"] == 0:
            st.info("No documents yet. Add some in the sidebar (or run `python -m ingest path/`), then ask away.")
        else:
            st.caption(f"Ask about your {stats['documents']} documents. Answers cite their sources as [n].")
    for message in session["messages"]:
        show_message(message)
    # While an answer streams the input is disabled: a question sent mid-stream would rerun the script and
    # lose the answer. The question waits in session["pending"] until its answer is stored, so a run cut
    # short by any other widget answers it again instead of dropping it.
    pending = session.get("pending")
    question = st.chat_input("Ask a question about your documents", disabled=bool(pending))
    if question and not pending:
        session["messages"].append({"role": "user", "content": question})
        session["pending"] = question
        st.rerun()
    if not pending:
        return
    asked = [m for m in session["messages"] if not m.get("error")]
    history = [{"role": m["role"], "content": m["content"]} for m in asked[:-1]]  # the pending question is last
    with st.chat_message("assistant"):
        try:
            stream = state.pipeline().stream(pending, history)
            st.write_stream(iter(stream))
            answer = stream.answer
        except LLMError as exc:
            reply = {"role": "assistant", "error": True, "content": f"The language model is not answering: {exc}"}
        except RagError as exc:
            reply = {"role": "assistant", "error": True, "content": f"Something needs fixing first: {exc}"}
        else:
            reply = {
                "role": "assistant",
                "content": answer.text,
                "found": answer.found,
                "sources": render.sources_of(answer),
                "timings": answer.timings,
                "retrieval": answer.retrieval,
            }
    session["messages"].append(reply)
    session["pending"] = None
    st.rerun()

"""The chat: the conversation, the answer being worked on (what it is doing, then a draft until its citations are
checked), [n] citations linked to this answer's sources, feedback, timings that add up to the wait."""

from __future__ import annotations

import html
import time

import streamlit as st

from apps.ui import render, state
from rag.errors import LLMError, RagError

STAGES = {
    "condense": "Reading the conversation to understand the question …",
    "retrieve": "Searching your documents …",
    "calculate": "Found {passages} passages · working out the figures …",
    "generate": "Found {passages} passages · writing the answer …",
    "check": "Checking every citation against its passage …",
    "retry": "The answer only restated the question · asking once more …",
}
DRAFT_NOTE = "Draft — shown as it is written; it becomes the answer once its citations are checked."
WAITING = "Answering … your next question can wait until this one is done"


def show_message(message: dict, index: int) -> None:
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
            st.markdown(render.link_citations(message["content"], known, index))
        show_sources(message.get("sources", []), index)
        notes = render.retrieval_notes(message.get("retrieval") or {})
        if notes:
            with st.expander(f"How it searched ({message['retrieval'].get('strategy', 'retrieval')})"):
                for line in notes:
                    st.markdown(line)
        if message.get("timings"):
            st.caption(render.timings_caption(message["timings"]))
        show_feedback(message, index)


def show_sources(sources: list[dict], index: int) -> None:
    """Each cited passage under its own anchor: where it is from, the supporting lines highlighted, and the whole
    passage one click away (a native <details>, whose arrow always matches what it shows)."""
    if not sources:
        return
    blocks = [f"<div class='rag-sources'><b>Sources ({len(sources)})</b>"]
    for source in sources:
        flag = "" if source["supported"] else " — <i>does not clearly support the claim</i>"
        anchor = render.source_anchor(index, source["number"])
        excerpt = source.get("excerpt") or ""
        blocks.append(
            f"<div id='{anchor}' class='rag-source'><b>[{source['number']}] {html.escape(source['where'])}</b>{flag}"
            f"{f'<blockquote>{excerpt}</blockquote>' if excerpt else ''}"
            f"<details><summary>Whole passage</summary>{source['html']}</details></div>"
        )
    blocks.append("</div>")
    st.markdown("".join(blocks), unsafe_allow_html=True)


def show_feedback(message: dict, index: int) -> None:
    """Thumbs up/down and an optional comment, stored with the question, the answer and its passages."""
    conversation = state.session()["conversation_id"]
    rating = st.feedback("thumbs", key=f"rating-{conversation}-{index}")
    if rating is None:
        return
    comment = st.text_input("What was wrong or right? (optional)", key=f"comment-{conversation}-{index}")
    recorded = message.get("feedback") or {}
    if recorded.get("rating") == rating and recorded.get("comment", "") == comment:
        return
    messages = state.session()["messages"]
    question = next((m["content"] for m in reversed(messages[:index]) if m["role"] == "user"), "")
    state.service().conversations.add_feedback(
        {
            "owner": state.owner(),
            "conversation": conversation,
            "question": question,
            "answer": message["content"],
            "rating": rating,
            "comment": comment,
            "sources": [{"number": s["number"], "where": s["where"]} for s in message.get("sources", [])],
            "contexts": message.get("contexts", []),
        }
    )
    message["feedback"] = {"rating": rating, "comment": comment}
    state.save_conversation()
    st.toast("Thanks: your feedback is saved." if not comment else "Thanks: your comment is saved.")


def render_tab() -> None:
    session = state.session()
    state.conversation_id()
    conversation = st.container()  # the messages, and below them the answer being worked on: the input stays last
    with conversation:
        if not session["messages"]:
            stats = state.service().library.stats(state.restriction())
            if stats["documents"] == 0:
                st.info("No documents yet. Add some in the sidebar (or run `python -m ingest path/`), then ask away.")
            else:
                st.caption(f"Ask about your {stats['documents']} documents. Answers cite their sources as [n].")
        for index, message in enumerate(session["messages"]):
            show_message(message, index)
    # While an answer is worked on the input is disabled and says so: a question sent mid-answer would rerun the
    # script and cut the answer off. The question waits in session["pending"] until its answer is stored, so a
    # run cut short by any other widget answers it again instead of dropping it.
    pending = session.get("pending")
    question = st.chat_input(
        WAITING if pending else "Ask a question about your documents",
        key="question",
        disabled=bool(pending),
        submit_mode="disable",
    )
    if question and not pending:
        session["messages"].append({"role": "user", "content": question})
        session["pending"] = question
        st.rerun()
    if not pending:
        return
    with conversation:
        reply = answer(pending, session)
    session["messages"].append(reply)
    session["pending"] = None
    state.save_conversation()
    st.rerun()


def answer(question: str, session: dict) -> dict:
    """Work on the answer in view: the stage it is at, then the tokens as a draft; the checked answer replaces the
    draft (on the rerun), so a claim the check rejects never stays on screen looking final."""
    asked = [m for m in session["messages"] if not m.get("error")]
    history = [{"role": m["role"], "content": m["content"]} for m in asked[:-1]]  # the pending question is last
    started = time.perf_counter()
    first_words: float | None = None
    with st.chat_message("assistant"):
        status = st.status(STAGES["retrieve"], expanded=False)
        draft = st.empty()

        def on_stage(name: str, detail: dict) -> None:
            status.update(label=STAGES.get(name, name).format(**{"passages": "the", **detail}), state="running")

        try:
            stream = state.pipeline().stream(question, history, on_stage)
            text = ""
            for token in stream:
                if first_words is None:
                    first_words = time.perf_counter() - started
                text += token
                draft.markdown(
                    f"<div class='rag-draft'>{html.escape(text)}</div><small>{DRAFT_NOTE}</small>",
                    unsafe_allow_html=True,
                )
            result = stream.answer
        except LLMError as exc:
            status.update(label="The language model did not answer", state="error")
            return {"role": "assistant", "error": True, "content": f"The language model is not answering: {exc}"}
        except RagError as exc:
            status.update(label="Something needs fixing first", state="error")
            return {"role": "assistant", "error": True, "content": f"Something needs fixing first: {exc}"}
        status.update(label="Done", state="complete")
    timings = dict(result.timings)
    timings["waited"] = time.perf_counter() - started
    if first_words is not None:
        timings["first_words"] = first_words
    return {
        "role": "assistant",
        "content": result.text,
        "found": result.found,
        "sources": render.sources_of(result),
        "contexts": [hit.text for hit in result.contexts],
        "timings": timings,
        "retrieval": {k: v for k, v in result.retrieval.items() if k != "stages"},
    }

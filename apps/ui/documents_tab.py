"""The indexed documents: a table, delete, and the outcome of the last upload (failures with reasons)."""

from __future__ import annotations

import streamlit as st

from apps.ui import state
from rag.errors import RagError


def render_tab() -> None:
    library = state.service().library
    try:
        documents = library.documents()
    except RagError as exc:
        st.error(str(exc))
        return
    if not documents:
        st.info("The store is empty. Upload files in the sidebar, or run `python -m ingest path/`.")
        return
    st.dataframe(
        [
            {"document": d.id, "chunks": d.chunks, "ingested": d.ingested_at, "uploaded here": d.uploaded}
            for d in documents
        ],
        hide_index=True,
        width="stretch",
    )
    choice = st.selectbox("Document", [d.id for d in documents], key="delete_choice")
    try:
        parts = library.parts(choice, state.service().pipeline().store)
    except RagError as exc:
        st.warning(str(exc))
    else:
        if parts:
            st.caption(f"{len(parts)} parts: " + " · ".join(parts[:60]) + (" …" if len(parts) > 60 else ""))
    if st.button("Delete", key="delete"):
        try:
            removed = library.delete(choice)
        except (KeyError, RagError) as exc:
            st.error(f"Could not delete {choice}: {exc}")
        else:
            st.session_state["upload_outcomes"] = []
            st.toast(f"Deleted {removed.id} ({removed.chunks} chunks)")
            st.rerun()

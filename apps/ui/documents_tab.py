"""The indexed documents: a table (readable times, no sideways scrolling on a phone) and delete, which names the
document and its chunk count and asks before it deletes; nothing is chosen for deletion until the user picks it."""

from __future__ import annotations

import streamlit as st

from apps.ui import state
from apps.ui.render import ago
from rag.errors import RagError


def render_tab() -> None:
    library = state.service().library
    try:
        documents = library.documents(state.restriction())
    except RagError as exc:
        st.error(str(exc))
        return
    if not documents:
        st.info("The store is empty. Upload files in the sidebar, or run `python -m ingest path/`.")
        return
    st.dataframe(
        [
            {
                "document": d.id.rsplit("/", 1)[-1],
                "chunks": d.chunks,
                "added": f"{ago(d.ingested_at)} · {'uploaded' if d.uploaded else 'ingest'}",
            }
            for d in documents
        ],
        hide_index=True,
        width="stretch",
        column_config={  # three narrow columns: a phone shows all of them (the full id is in the chooser below)
            "document": st.column_config.TextColumn("Document", width="medium"),
            "chunks": st.column_config.NumberColumn("Chunks", width="small"),
            "added": st.column_config.TextColumn("Added", width="small"),
        },
    )
    by_id = {d.id: d for d in documents}
    session = state.session()
    if session.pop("deleted", None) or st.session_state.get("delete_choice") not in (None, *by_id):
        st.session_state["delete_choice"] = None  # before the widget exists: nothing stays chosen after a delete
    choice = st.selectbox(
        "Document", list(by_id), index=None, placeholder="Choose a document to inspect or delete", key="delete_choice"
    )
    if choice is None:
        return
    try:
        parts = library.parts(choice, state.pipeline().store)
    except RagError as exc:
        st.warning(str(exc))
    else:
        if parts:
            st.caption(f"{len(parts)} parts: " + " · ".join(parts[:60]) + (" …" if len(parts) > 60 else ""))
    if not state.may_write():
        st.caption(f"Read-only: you may not delete from {state.knowledge_base()}.")
        return
    if st.button(f"Delete {choice.rsplit('/', 1)[-1]} …", key="delete"):
        session["confirm_delete"] = choice
    if session.get("confirm_delete") != choice:
        return
    st.warning(f"Delete **{choice}** and its **{by_id[choice].chunks} chunks** from the store? This cannot be undone.")
    yes, no = st.columns(2)
    if no.button("Cancel", key="cancel_delete"):
        session["confirm_delete"] = None
        st.rerun()
    if yes.button("Yes, delete it", type="primary", key="confirm_delete_button"):
        session["confirm_delete"] = None
        try:
            removed = library.delete(choice)
        except (KeyError, RagError) as exc:
            st.error(f"Could not delete {choice}: {exc}")
        else:
            session["deleted"] = True
            st.toast(f"Deleted {removed.id} ({removed.chunks} chunks)")
            st.rerun()

"""PowerHouse RAG — chat over your own documents.

    streamlit run apps/chat.py          (the README's main command ends with this)

Embedded defaults, offline. RAG_CONFIG picks another config; RAG__SECTION__KEY variables override keys.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run` puts apps/ first, not the repo

import streamlit as st

from apps.ui import chat_tab, documents_tab, evaluation_tab, sidebar, state

STYLE = """<style>
.rag-draft { color: #6b7280; white-space: pre-wrap; }
.rag-source { margin: 0.6rem 0; scroll-margin-top: 4rem; }
.rag-source:target { outline: 2px solid #f0b400; outline-offset: 4px; border-radius: 4px; }
.rag-source blockquote { margin: 0.3rem 0; padding-left: 0.6rem; border-left: 3px solid #f0b400; }
.rag-source table { font-size: 0.85rem; }
.rag-source details summary { cursor: pointer; color: #6b7280; font-size: 0.85rem; }
@media (max-width: 640px) { .rag-source table { display: block; overflow-x: auto; } }
</style>"""

st.set_page_config(page_title="PowerHouse RAG", page_icon="📚", layout="wide")
st.markdown(STYLE, unsafe_allow_html=True)
if state.principal() is None:  # users are configured (server.users / server.jwt) and nobody is signed in yet
    st.title("PowerHouse RAG")
    with st.form("login"):
        credential = st.text_input("API key", type="password", help="from `python -m rag users add NAME`")
        if st.form_submit_button("Sign in", type="primary"):
            problem = state.log_in(credential.strip())
            if problem:
                st.error(f"Not signed in: {problem}")
            else:
                st.rerun()
    st.stop()
sidebar.render()
chat, documents, evaluation = st.tabs(["Chat", "Documents", "Evaluation"])
with documents:
    documents_tab.render_tab()
with evaluation:
    evaluation_tab.render_tab()
with chat:
    chat_tab.render_tab()

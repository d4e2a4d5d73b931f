"""PowerHouse RAG — chat over your own documents.

    streamlit run apps/chat.py          (the README's main command ends with this)

Embedded defaults, offline. RAG_CONFIG picks another config; RAG__SECTION__KEY variables override keys.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `streamlit run` puts apps/ first, not the repo

import streamlit as st

from apps.ui import chat_tab, documents_tab, evaluation_tab, sidebar

st.set_page_config(page_title="PowerHouse RAG", page_icon="📚", layout="wide")
sidebar.render()
chat, documents, evaluation = st.tabs(["Chat", "Documents", "Evaluation"])
with documents:
    documents_tab.render_tab()
with evaluation:
    evaluation_tab.render_tab()
with chat:
    chat_tab.render_tab()

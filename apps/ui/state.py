"""The app's shared and per-session state.

One RagService (embedder, LLM, store, library) per config is shared by all browser sessions through
st.cache_resource; each session's chat history and choices live in st.session_state, never shared.
The config comes from RAG_CONFIG (default configs/default.yaml) plus RAG__SECTION__KEY variables.
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from rag.config import Settings, load_config
from rag.console import setup_environment
from service.conversations import new_key, valid_key
from service.rag_service import RagService


def config_key() -> str:
    """The config file and every RAG__ override: a different one gets a different cached service."""
    overrides = sorted((k, v) for k, v in os.environ.items() if k.upper().startswith("RAG__"))
    return repr((os.environ.get("RAG_CONFIG", ""), overrides))


@st.cache_resource(show_spinner="Loading the models and the store …")
def _service(key: str) -> RagService:
    setup_environment()
    return RagService(load_config(os.environ.get("RAG_CONFIG") or None))


def service() -> RagService:
    return _service(config_key())


def settings() -> Settings:
    return service().settings


def session() -> dict[str, Any]:
    """This browser session's state, with its defaults."""
    state = st.session_state
    cfg = settings()
    state.setdefault("messages", [])
    state.setdefault("strategy", cfg.retriever.strategy)
    state.setdefault("k", cfg.answer.k)
    state.setdefault("rerank", cfg.retriever.rerank.backend != "none")
    state.setdefault("upload_outcomes", [])
    state.setdefault("model", cfg.llm.model)
    return state


def owner() -> str:
    """This browser's key to its conversations: kept in the URL (?u=…), so a reload keeps it."""
    key = st.query_params.get("u")
    if not valid_key(key):
        key = new_key()
        st.query_params["u"] = key
    return key


def conversation_id() -> str:
    """The conversation on screen: the one the URL names (?c=…, restored with its messages after a reload), or a
    new one (saved when its first answer is)."""
    state = session()
    wanted = st.query_params.get("c")
    if state.get("conversation_id") and state["conversation_id"] == wanted:
        return wanted
    loaded = service().conversations.load(owner(), wanted) if valid_key(wanted) else None
    if loaded is not None:
        open_conversation(loaded)
    elif not state.get("conversation_id"):
        start_conversation()
    return state["conversation_id"]


def open_conversation(conversation: dict[str, Any]) -> None:
    state = session()
    state["conversation_id"] = conversation["id"]
    state["title"] = conversation.get("title") or ""
    state["messages"] = list(conversation.get("messages", []))
    state["pending"] = None
    st.query_params["c"] = conversation["id"]


def start_conversation() -> None:
    open_conversation({"id": new_key(), "messages": []})


def save_conversation() -> None:
    state = session()
    if state["messages"]:
        conversation = {"id": state["conversation_id"], "title": state.get("title") or ""}
        conversation["messages"] = state["messages"]
        service().conversations.save(owner(), conversation)
        state["title"] = conversation["title"]


def pipeline():
    state = session()
    cfg = settings()
    rerank = (
        (cfg.retriever.rerank.backend if cfg.retriever.rerank.backend != "none" else "embedding")
        if state["rerank"]
        else "none"
    )
    return service().pipeline(strategy=state["strategy"], k=state["k"], rerank=rerank, model=state["model"])


def local_models() -> list[str]:
    """The configured model first, then the other packaged models assembled on this machine."""
    from rag.packaged.models import REGISTRY, model_path

    configured = settings().llm.model
    return [configured, *(name for name in REGISTRY if name != configured and model_path(name).exists())]

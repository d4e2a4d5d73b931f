"""The app's shared and per-session state.

One RagService (embedder, LLM, store, library) per config is shared by all browser sessions through
st.cache_resource; each session's chat history and choices live in st.session_state, never shared.
The config comes from RAG_CONFIG (default configs/default.yaml) plus RAG__SECTION__KEY variables.
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from rag.config import DEFAULT_KB, Settings, load_config
from rag.console import setup_environment
from service.conversations import new_key, valid_key
from service.identity import LOCAL_ADMIN, Identity, Principal, Unauthorized
from service.knowledge_bases import KnowledgeBases
from service.rag_service import RagService


def config_key() -> str:
    """The config file and every RAG__ override: a different one gets a different cached service."""
    overrides = sorted((k, v) for k, v in os.environ.items() if k.upper().startswith("RAG__"))
    return repr((os.environ.get("RAG_CONFIG", ""), overrides))


@st.cache_resource(show_spinner="Loading the models and the store …")
def _service(key: str) -> RagService:
    setup_environment()
    return RagService(load_config(os.environ.get("RAG_CONFIG") or None))


def base() -> RagService:
    """The service of the configured store (the default knowledge base), shared by every session."""
    return _service(config_key())


def service() -> RagService:
    """The service of the knowledge base this session has chosen (service/knowledge_bases.py)."""
    return base().for_kb(knowledge_base())


def settings() -> Settings:
    return base().settings


# -- who is using the app, and which knowledge base ----------------------------------------------------------------


def login_required() -> bool:
    """A login only where users are configured (server.users or server.jwt); a local single-user app has none."""
    cfg = settings().server
    return bool(cfg.users or cfg.jwt)


def principal() -> Principal | None:
    """This session's principal: the local admin without users; else who logged in (or who the trusted proxy
    header names, server.proxy_user_header), or None until then."""
    if not login_required():
        return LOCAL_ADMIN
    cfg = settings().server
    if cfg.proxy_user_header:
        headers = st.context.headers
        user = headers.get(cfg.proxy_user_header)
        if user:
            groups = headers.get(cfg.proxy_groups_header or "", "")
            return Principal(user, frozenset(g.strip() for g in groups.split(",") if g.strip()), via="proxy")
    return st.session_state.get("principal")


def log_in(credential: str) -> str | None:
    """Check an API key (or the admin token, or a JWT); None when it worked, else why not."""
    cfg = settings().server
    try:
        st.session_state["principal"] = Identity(cfg, os.environ.get(cfg.token_env)).principal(f"Bearer {credential}")
    except Unauthorized as exc:
        return str(exc)
    st.session_state.pop("kb", None)
    return None


def knowledge_bases() -> KnowledgeBases:
    return KnowledgeBases(settings().server.knowledge_bases)


def readable() -> list[str]:
    who = principal()
    return knowledge_bases().readable(who) if who else []


def knowledge_base() -> str:
    """The knowledge base on screen: the session's choice while it may still read it, else its first readable."""
    choices = readable() if login_required() or len(knowledge_bases().all()) > 1 else [DEFAULT_KB]
    chosen = st.session_state.get("kb")
    if chosen not in choices:
        chosen = choices[0] if choices else DEFAULT_KB
        st.session_state["kb"] = chosen
    return chosen


def restriction():
    """What this session's principal may see of the chosen knowledge base's documents (None: all of them)."""
    who = principal()
    return service().restriction(who) if who else service().restriction(Principal("anyone"))


def may_write() -> bool:
    who = principal()
    return bool(who) and knowledge_bases().may_write(who, knowledge_base())


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
    return service().pipeline(
        restriction(), strategy=state["strategy"], k=state["k"], rerank=rerank, model=state["model"]
    )


def local_models() -> list[str]:
    """The configured model first, then the other packaged models assembled on this machine."""
    from rag.packaged.models import REGISTRY, model_path

    configured = settings().llm.model
    return [configured, *(name for name in REGISTRY if name != configured and model_path(name).exists())]

"""The Streamlit app through streamlit.testing (AppTest): upload → ingest → ask → cited answer, the
"not in your documents" path, a failed upload shown with its reason, and a stopped LLM server.

Real parts: the packaged MiniLM, Chroma in a temp folder, the packaged Qwen 0.5B.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import DOCUMENTS, EXAMPLES, REPO
from tests.support.net import free_port

APP = str(REPO / "apps" / "chat.py")


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("RAG__STORE__PATH", str(tmp_path / "chroma"))
    monkeypatch.setenv("RAG__UPLOADS__DIR", str(tmp_path / "library"))
    monkeypatch.setenv("RAG__RETRIEVER__CACHE", str(tmp_path / "rewrites.sqlite"))
    monkeypatch.setenv("RAG__CHAT__CONVERSATIONS", str(tmp_path / "conversations"))
    monkeypatch.setenv("RAG__CHAT__FEEDBACK", str(tmp_path / "feedback.jsonl"))
    monkeypatch.setenv("EVAL__SETS", str(tmp_path / "sets"))
    return tmp_path


def start(timeout: int = 180, **query):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=timeout)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def upload(at, *paths, mime="application/octet-stream"):
    at.sidebar.file_uploader[0].set_value([(p.name, p.read_bytes(), mime) for p in paths])
    at.run()
    at.sidebar.button(key="ingest").click()
    at.run()
    assert not at.exception, at.exception
    return at


def metric(at, label: str) -> str:
    return next(m.value for m in at.sidebar.metric if m.label == label)


def assistant_messages(at):
    return [m for m in at.chat_message if m.name == "assistant"]


@pytest.mark.slow
def test_upload_ask_and_the_answer_cites_the_uploaded_document(app_env):
    at = start()
    assert metric(at, "Documents") == "0"
    assert at.sidebar.selectbox(key="model").value == "qwen2.5-coder-0.5b-instruct-q4_k_m"  # per session
    assert any("No documents yet" in i.value for i in at.info)

    bad = DOCUMENTS / "bad_inputs" / "pypdf_encrypted-file.pdf"
    refused = app_env / "setup.exe"
    refused.write_bytes(b"MZ")
    upload(at, EXAMPLES / "aurora-e-bike-manual.md", DOCUMENTS / "pdf" / "pypdf_crazyones.pdf", bad, refused)
    assert metric(at, "Documents") == "2"  # the broken PDF did not stop the others
    [outcome] = [e.value for e in at.sidebar.error]  # every file of the upload, each with what happened to it
    assert outcome.startswith("**Last upload:** 2 ingested, 1 refused, 1 failed")
    assert "**ingested**: `aurora-e-bike-manual.md`" in outcome and "**ingested**: `pypdf_crazyones.pdf`" in outcome
    assert "**refused**: `setup.exe` — setup.exe: type .exe is not accepted" in outcome
    failed = next(line for line in outcome.splitlines() if "pypdf_encrypted-file.pdf" in line)
    assert failed.startswith("- **failed**") and ("encrypt" in failed.lower() or "password" in failed.lower())
    assert not (app_env / "library" / "uploads" / bad.name).exists()  # a failed upload is not kept

    at.chat_input[0].set_value("How long does the battery of the Aurora e-bike last?")
    at.run()
    assert not at.exception, at.exception
    reply = assistant_messages(at)[-1]
    text = reply.markdown[0].value
    cited = re.findall(r"\[\[(\d+)\]\]\(#source-1-(\d+)\)", text)  # [n] links to this answer's source n
    assert cited and all(a == b for a, b in cited)
    [sources] = [m.value for m in reply.markdown if "rag-sources" in m.value]
    entries = dict(re.findall(r"<div id='source-1-(\d+)' class='rag-source'>(.*?)</details></div>", sources, re.S))
    assert "library/uploads/aurora-e-bike-manual.md" in entries[cited[0][0]] and "<mark>" in entries[cited[0][0]]
    caption = reply.caption[0].value  # the stages add up to the whole wait
    total = float(re.match(r"([\d.]+) s in all, first words after [\d.]+ s: ", caption).group(1))
    stages = [float(seconds) for seconds in re.findall(r"([\d.]+) s", caption.split(": ", 1)[1])]
    assert "search" in caption and abs(sum(stages) - total) <= 0.05 + 0.005 * len(stages)

    # the no-answer path: shown as such, not as an answer
    at.chat_input[0].set_value("What is the boiling point of liquid nitrogen on Jupiter's moons?")
    at.run()
    reply = assistant_messages(at)[-1]
    assert reply.info and "could not find the answer" in reply.info[0].value
    assert len(at.session_state["messages"]) == 4

    # the conversation is kept on the server: a reload (a new session with the same URL) shows it again
    owner, conversation = at.query_params["u"], at.query_params["c"]
    owner, conversation = (
        (owner[0] if isinstance(owner, list) else owner),
        (conversation[0] if isinstance(conversation, list) else conversation),
    )
    reloaded = start(u=owner, c=conversation)
    assert [m["content"] for m in reloaded.session_state["messages"]] == [
        m["content"] for m in at.session_state["messages"]
    ]
    assert len(assistant_messages(reloaded)) == 2
    other = start()  # another browser sees none of it
    assert other.session_state["messages"] == [] and other.query_params["u"] != at.query_params["u"]

    at.sidebar.button(key="new_conversation").click()
    at.run()
    assert at.session_state["messages"] == []
    assert at.sidebar.expander[0].label == "Conversations (1)"


@pytest.mark.slow
def test_a_stopped_llm_server_is_a_friendly_error_not_a_traceback(app_env, monkeypatch):
    monkeypatch.setenv("RAG__LLM__BACKEND", "openai")
    monkeypatch.setenv("RAG__LLM__BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("RAG__LLM__RETRIES", "0")
    at = start()
    upload(at, EXAMPLES / "aurora-e-bike-manual.md")
    at.chat_input[0].set_value("How long does the battery of the Aurora e-bike last?")
    at.run()
    assert not at.exception
    reply = assistant_messages(at)[-1]
    message = reply.error[0].value
    assert "not answering" in message and "unreachable" in message and "README#llm" in message


@pytest.mark.slow
def test_delete_from_the_documents_tab(app_env, tmp_path):
    from tests.support.office_files import book_xlsx

    at = start()
    book = book_xlsx(tmp_path / "book.xlsx")
    assert not [b for b in at.button if b.key == "delete"]  # nothing chosen, nothing to delete
    upload(at, EXAMPLES / "aurora-e-bike-manual.md", EXAMPLES / "northwind-support-faq.txt", book)
    assert metric(at, "Documents") == "3"
    at.selectbox(key="delete_choice").set_value("library/uploads/book.xlsx")
    at.run()
    assert "2 parts: sheet Sales, rows 2-4 · sheet Staff, rows 4-4" in [c.value for c in at.caption]
    at.selectbox(key="delete_choice").set_value("library/uploads/northwind-support-faq.txt")
    at.run()
    at.button(key="delete").click()
    at.run()
    assert metric(at, "Documents") == "3"  # not yet: it asks first, naming the document and its chunks
    assert "Delete **library/uploads/northwind-support-faq.txt** and its **" in at.warning[0].value
    at.button(key="cancel_delete").click()
    at.run()
    assert metric(at, "Documents") == "3" and not at.warning
    at.button(key="delete").click()
    at.run()
    at.button(key="confirm_delete_button").click()
    at.run()
    assert metric(at, "Documents") == "2"
    assert at.selectbox(key="delete_choice").value is None  # nothing stays chosen for the next delete
    assert not (app_env / "library" / "uploads" / "northwind-support-faq.txt").exists()


@pytest.mark.slow
def test_a_hung_local_model_is_one_error_and_the_next_answer_works(app_env, monkeypatch):
    """The local model runs in its own process: the app outlives it, shows the failure, and gets it back."""
    import os
    import signal

    from rag.llms import supervisor

    monkeypatch.setenv("RAG__LLM__TIMEOUT_S", "30")  # the restarted model's first answer fits on a busy machine
    at = start()
    upload(at, EXAMPLES / "aurora-e-bike-manual.md")
    question = "How long does a full charge of the Aurora battery take?"
    at.chat_input[0].set_value(question)
    at.run()
    assert "4.5 hours" in assistant_messages(at)[-1].markdown[0].value
    (worker,) = [
        p
        for p in supervisor._SHARED.values()
        if p.alias == "qwen2.5-coder-0.5b-instruct-q4_k_m" and p.pid and p.exit_reason() is None
    ]
    first_pid = worker.pid

    os.kill(first_pid, signal.SIGSTOP)  # a hang inside llama.cpp
    at.chat_input[0].set_value(question)
    at.run()
    assert not at.exception
    message = assistant_messages(at)[-1].error[0].value
    assert "did not answer within 30 s and was stopped" in message and "next question starts it again" in message

    at.chat_input[0].set_value(question)
    at.run()
    assert not at.exception
    last = assistant_messages(at)[-1]
    assert last.markdown and "4.5 hours" in last.markdown[0].value, [error.value for error in last.error]
    assert worker.pid != first_pid


@pytest.mark.slow
def test_a_generated_set_is_reviewed_in_the_evaluation_tab(app_env):
    import json

    sets = app_env / "sets"
    sets.mkdir()
    rows = [
        {"id": "gen-00001", "question": "How long does a full charge take?", "reference": "4.5 hours",
         "context_ids": ["aurora-e-bike-manual.md"], "contexts": ["A full charge takes about 4.5 hours."],
         "metadata": {"kind": "number", "reviewed": None}},
        {"id": "gen-00002", "question": "What colour is the Aurora?", "reference": "blue",
         "context_ids": [], "contexts": [], "metadata": {"kind": "fact", "reviewed": None}},
    ]  # fmt: skip
    (sets / "mine.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    at = start()
    assert "2 questions · 0 accepted · 0 rejected · 2 to review" in [c.value for c in at.caption]
    assert at.button(key="accept-gen-00001").disabled  # no verdict without a reviewer's name
    at.text_input(key="reviewer").set_value("ana")
    at.run()
    at.text_input(key="ref-gen-00001").set_value("about 4.5 hours")
    at.button(key="accept-gen-00001").click()
    at.run()
    at.button(key="reject-gen-00002").click()
    at.run()
    saved = [json.loads(line) for line in (sets / "mine.jsonl").read_text().splitlines()]
    assert saved[0]["reference"] == "about 4.5 hours" and saved[0]["metadata"]["reviewed"]["state"] == "edited"
    assert saved[0]["metadata"]["reviewed"]["by"] == "ana"
    assert saved[1]["metadata"]["reviewed"]["state"] == "rejected"
    assert "2 questions · 1 accepted · 1 rejected · 0 to review" in [c.value for c in at.caption]


@pytest.mark.slow
def test_an_administrator_generates_a_set_from_the_library_in_the_background(app_env, monkeypatch):
    import json
    import time

    monkeypatch.setenv("RAG__LLM__MODEL", "qwen2.5-coder-0.5b-instruct-q4_k_m")  # the generate process inherits it
    at = upload(start(), EXAMPLES / "aurora-e-bike-manual.md")
    at.text_input(key="generate_name").set_value("../escape")
    at.button(key="generate").click()
    at.run()
    assert any("is not a set name" in e.value for e in at.error) and not (app_env / "escape.jsonl").exists()
    at.text_input(key="generate_name").set_value("manual")
    at.number_input(key="generate_count").set_value(2)
    at.button(key="generate").click()
    at.run()
    job = json.loads((app_env / "sets" / "manual.jsonl.job").read_text())
    assert job["planned"] == 2
    deadline = time.time() + 600
    from apps.ui.evaluation_tab import _alive

    while time.time() < deadline and _alive(job["pid"]):  # the process ends after writing the set
        time.sleep(2)
    out = app_env / "sets" / "manual.jsonl"
    assert out.exists(), (app_env / "sets" / "manual.log").read_text()[-2000:]
    journal = (app_env / "sets" / "manual.jsonl.journal").read_text().splitlines()
    assert len(journal) == 2  # both planned questions written and checked
    for sample in map(json.loads, out.read_text().splitlines()):  # from the uploaded manual only
        assert sample["context_ids"] in ([], ["aurora-e-bike-manual.md"])
    at.run()
    assert not at.exception, at.exception
    progress = [element.proto.text for element in at.get("progress")]
    assert progress == ["manual.jsonl: 2 of 2 planned questions written and checked · finished"], progress


@pytest.mark.slow
def test_a_conversation_is_renamed_exported_and_deleted_after_a_confirmation(app_env):
    from rag.config import ChatConfig
    from service.conversations import Conversations, new_key

    store = Conversations(ChatConfig(conversations=str(app_env / "conversations")))
    owner, key = new_key(), new_key()
    messages = [
        {"role": "user", "content": "How long does a full charge take?"},
        {"role": "assistant", "content": "About 4.5 hours [1].", "found": True, "sources": [
            {"number": 1, "where": "manual.md", "supported": True, "html": "<p>4.5 hours</p>", "excerpt": ""}]},
    ]  # fmt: skip
    store.save(owner, {"id": key, "messages": messages})
    at = start(u=owner, c=key)
    assert len(assistant_messages(at)) == 1 and at.session_state["title"] == "How long does a full charge take?"
    at.sidebar.text_input(key=f"title-{key}").set_value("Charging")
    at.run()
    assert store.load(owner, key)["title"] == "Charging"
    assert [b.label for b in at.sidebar.get("download_button")] == ["Export as Markdown"]
    at.sidebar.button(key=f"delete-{key}").click()
    at.run()
    assert "Delete “Charging” and its 2 messages?" in [w.value for w in at.sidebar.warning]
    assert store.load(owner, key) is not None  # not before the confirmation
    at.sidebar.button(key="confirm_delete_conversation_button").click()
    at.run()
    assert store.load(owner, key) is None and at.session_state["messages"] == []


@pytest.mark.slow
def test_with_users_the_app_asks_for_a_key_and_shows_only_readable_knowledge_bases(app_env, monkeypatch, embedder):
    from ingest.run import ingest
    from rag.config import knowledge_base_settings, load_config
    from service.identity import KeyFile
    from service.knowledge_bases import KnowledgeBases

    monkeypatch.setenv("RAG__SERVER__USERS", str(app_env / "users.json"))
    monkeypatch.setenv("RAG__SERVER__KNOWLEDGE_BASES", str(app_env / "kbs.json"))
    settings = load_config()
    kbs = KnowledgeBases(settings.server.knowledge_bases)
    for team, source in (("hr", "northwind-support-faq.txt"), ("eng", "aurora-e-bike-manual.md")):
        kbs.create(team, read=[team], write=[team])
        folder = app_env / team
        folder.mkdir()
        (folder / source).write_bytes((EXAMPLES / source).read_bytes())
        assert ingest([folder], knowledge_base_settings(settings, team)).exit_code == 0
    key = KeyFile(settings.server.users).add("alice", ["hr"])
    (app_env / "sets").mkdir()  # a set generated from eng's manual: its passages are not alice's to read
    secret = {"id": "gen-1", "question": "What is the Aurora's torque?", "reference": "85 Nm", "context_ids": [],
              "contexts": ["The Aurora's motor gives 85 Nm of torque."], "metadata": {"reviewed": None}}  # fmt: skip
    (app_env / "sets" / "eng.jsonl").write_text(json.dumps(secret) + "\n")

    at = start()
    assert not at.sidebar.selectbox and not at.tabs  # nothing but the sign-in form
    at.text_input[0].set_value("phr_not-a-key")
    at.button[0].click()
    at.run()
    assert "Not signed in: unknown or revoked API key" in at.error[0].value
    at.text_input[0].set_value(key)
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    assert any("Signed in as **alice** (hr)" in c.value for c in at.sidebar.caption)
    picker = at.sidebar.selectbox(key="kb")
    assert picker.options == ["default", "hr"]  # eng is not offered
    assert any("Read-only: you may not add documents to default" in c.value for c in at.sidebar.caption)
    picker.set_value("hr")
    at.run()
    assert len(at.sidebar.file_uploader) == 1 and metric(at, "Documents") == "1"  # hr: alice may upload
    listed = at.dataframe[0].value["document"].tolist()
    assert listed == ["northwind-support-faq.txt"]  # hr's document; nothing of eng's
    # generated sets are an administrator's: alice sees neither the set, its passages nor the generate button
    shown = " ".join([*(m.value for m in at.markdown), *(e.label for e in at.expander), *(c.value for c in at.caption)])
    assert "85 Nm" not in shown and "torque" not in shown
    assert "an administrator generates and reviews them" in shown
    assert "generate" not in [b.key for b in at.button]


@pytest.mark.slow
def test_a_signed_in_reader_sees_only_the_documents_of_their_groups(app_env, monkeypatch, embedder):
    """Per-document groups (rag/stores/restricted.py) in the app: the documents tab, the counts and the uploader's
    choice of readers follow the signed-in user's groups."""
    from ingest.run import ingest
    from rag.config import load_config
    from service.identity import KeyFile
    from service.knowledge_bases import KnowledgeBases

    monkeypatch.setenv("RAG__SERVER__USERS", str(app_env / "users.json"))
    monkeypatch.setenv("RAG__SERVER__KNOWLEDGE_BASES", str(app_env / "kbs.json"))
    settings = load_config()
    KnowledgeBases(settings.server.knowledge_bases).create("default", read=["*"], write=["hr"])
    folder = app_env / "shared"
    folder.mkdir()
    for source in ("northwind-support-faq.txt", "aurora-e-bike-manual.md"):
        (folder / source).write_bytes((EXAMPLES / source).read_bytes())
    eng_only = lambda file: ["eng"] if "aurora" in file.source else None  # noqa: E731
    assert ingest([folder], settings, embedder=embedder, access=eng_only).exit_code == 0
    key = KeyFile(settings.server.users).add("alice", ["hr"])

    at = start()
    at.text_input[0].set_value(key)
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    assert metric(at, "Documents") == "1"  # the manual is eng's: not counted for alice
    assert at.dataframe[0].value["document"].tolist() == ["northwind-support-faq.txt"]
    assert at.sidebar.multiselect(key="upload_groups").options == ["hr"]  # she may restrict uploads to her groups

"""The leak suite for per-document groups (rag/stores/restricted.py): the two teams' documents of
test_knowledge_bases.py and a public handbook that names the same people and project, all in ONE knowledge base,
with `ingest.acl` rules giving each team's folder to its group. Every question aimed at the other team's documents,
through every retrieval strategy (the search API), the answer fronts (query, the OpenAI-compatible endpoint) and the
MCP tools, must show nothing of them; a restricted reader still gets k passages (the filter is in the store's
query, not a post-filter); the document list, get_chunk, delete and an upload's own groups follow the same rule.
Real MiniLM, Chroma, BM25, SPLADE-tiny and the packaged Qwen 0.5B."""

from __future__ import annotations

import itertools
import json
import re
import time

import pytest
from fastapi.testclient import TestClient
from mcp.server.mcpserver.exceptions import ToolError

from ingest.run import ingest
from rag.config import AccessRule
from service.api import create_app
from service.identity import Identity, KeyFile
from service.knowledge_bases import KnowledgeBases
from service.mcp_server import Access
from service.rag_service import RagService
from tests.security.test_knowledge_bases import (
    LLM_STRATEGIES,
    OTHER,
    QUESTIONS,
    STRATEGIES,
    TEAMS,
    forbidden_marks,
    team_settings,
)
from tests.security.test_knowledge_bases import leaks as leaks_in

pytestmark = pytest.mark.slow
ADMIN = "admin-token-for-tests"
HANDBOOK = (
    "# Company handbook\n\nDana Whitfield welcomes every new starter. Project Falcon is our biggest project this "
    "year. Salary is paid on the 25th; badge access is requested from the front desk. Our offices open at 8."
)


@pytest.fixture(scope="module")
def world(tmp_path_factory, local_llm, embedder):
    root = tmp_path_factory.mktemp("doc-leaks")
    settings = team_settings(root)
    settings.ingest.acl = [AccessRule(match=f"docs/{team}/*", groups=[team]) for team in TEAMS]
    KnowledgeBases(settings.server.knowledge_bases).create("default", read=["*"], write=["hr", "eng"])
    docs = root / "docs"
    for team, files in TEAMS.items():
        (docs / team).mkdir(parents=True)
        for name, text in files.items():
            (docs / team / name).write_text(text)
    (docs / "public").mkdir()
    (docs / "public" / "handbook.md").write_text(HANDBOOK)
    assert ingest([docs], settings, embedder=embedder).exit_code == 0
    from rag.stores import build_store

    store = build_store(settings.store, embedder.name, embedder.dimension)
    ids = {team: set() for team in [*TEAMS, "public"]}
    for chunk in store.get():
        ids[chunk.metadata["source"].split("/")[1]].add(chunk.id)
    store.close()
    keys = KeyFile(settings.server.users)
    credentials = {"hr": keys.add("alice", ["hr"]), "eng": keys.add("bob", ["eng"]), "nobody": keys.add("eve", [])}
    service = RagService(settings, llm=local_llm, embedder=embedder)
    with TestClient(create_app(service, token=ADMIN)) as client:
        yield {"client": client, "keys": credentials, "ids": ids, "settings": settings, "service": service}
    service.close()


def leaks(payload: object, marks: list[str], visible: set[str], asked: str = "") -> list[str]:
    """The leak check of test_knowledge_bases.py, less a sentence every word of which the asker's question or
    the documents they may read hold: the model drafting "Dana Whitfield leads the platform team" from the question
    "Who leads the platform team?" and the handbook's "Dana Whitfield" is a guess (flagged unsupported), not a leak.
    Chunk ids, file names and canary codes count wherever they appear."""
    typed = {word.lower() for word in re.findall(r"\w+", asked)}
    return [
        mark
        for mark in leaks_in(payload, marks, asked)
        if " " not in mark or not {w.lower() for w in re.findall(r"\w+", mark)} <= typed | visible
    ]


def headers(world, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world['keys'][who]}"}


def test_no_strategy_or_front_shows_a_reader_a_document_of_another_group(world):
    client, service, cases, found = world["client"], world["service"], 0, []
    started = time.perf_counter()
    access = Access(service, Identity(world["settings"].server, ADMIN))
    for team, target in OTHER.items():
        marks = forbidden_marks(target, world["ids"][target])
        allowed = world["ids"][team] | world["ids"]["public"]
        visible = {w.lower() for text in [*TEAMS[team].values(), HANDBOOK] for w in re.findall(r"\w+", text)}
        who = headers(world, team)
        for question, strategy in itertools.product(QUESTIONS[target], STRATEGIES):
            response = client.post("/search", json={"query": question, "k": 3, "strategy": strategy}, headers=who)
            assert response.status_code == 200, response.text
            hits = {hit["id"] for hit in response.json()["hits"]}
            assert hits <= allowed
            if strategy in ("dense", "hybrid"):  # in the store's query, not a post-filter: still k passages
                assert len(hits) == 3, (question, strategy, hits)
            found += [(strategy, question, m) for m in leaks(response.json(), marks, visible, question)]
            cases += 1
        for question, strategy in itertools.product(QUESTIONS[target][:1], LLM_STRATEGIES):
            response = client.post("/search", json={"query": question, "k": 3, "strategy": strategy}, headers=who)
            assert response.status_code in (200, 400, 503), response.text
            if response.status_code == 200:
                assert {hit["id"] for hit in response.json()["hits"]} <= allowed
            found += [(strategy, question, m) for m in leaks(response.json(), marks, visible, question)]
            cases += 1
        for question in QUESTIONS[target][:2]:  # answers: contexts, citations, trace; then the OpenAI endpoint
            body = client.post("/query", json={"question": question}, headers=who).json()
            assert {c["chunk_id"] for c in body["citations"]} <= allowed
            assert {c["id"] for c in body["contexts"]} <= allowed
            found += [("query", question, m, body) for m in leaks(body, marks, visible, question)]
            cases += 1
            if question != QUESTIONS[target][0]:
                continue  # the OpenAI endpoint answers through the same pipeline: once per reader
            openai = client.post(
                "/v1/chat/completions",
                json={"model": "powerhouse-rag", "messages": [{"role": "user", "content": question}]},
                headers=who,
            )
            assert openai.status_code == 200
            found += [("openai", question, m) for m in leaks(openai.json(), marks, visible, question)]
            cases += 1
        listed = client.get("/documents", headers=who).json()
        assert {d["id"].split("/")[1] for d in listed} == {team, "public"}
        found += [("documents", m) for m in leaks(listed, marks, visible)]
        cases += 1
        # MCP: the tools as this principal (service/mcp_server: the same code the stdio/HTTP fronts call)
        tools = access.view("default", _principal(world, team))
        for question in QUESTIONS[target]:
            result = tools.search(question, 3, None, None)
            assert {p.id for p in result.passages} <= allowed and len(result.passages) == 3
            found += [("mcp search", question, m) for m in leaks(result.model_dump(), marks, visible, question)]
            cases += 1
        for chunk_id in sorted(world["ids"][target]):  # a forbidden chunk id is unknown, with nothing of it said
            with pytest.raises(ToolError) as refused:
                tools.chunk(chunk_id, 2)
            found += [("mcp chunk", m) for m in leaks(str(refused.value).replace(chunk_id, ""), marks, visible)]
            cases += 1
        own = tools.chunk(sorted(world["ids"][team])[0], 2)
        assert own.chunk.id in world["ids"][team] and {p.id for p in own.before + own.after} <= allowed
        found += [("mcp documents", m) for m in leaks([d.model_dump() for d in tools.documents()], marks, visible)]
        cases += 1
    print(f"\nper-document leak cases: {cases}, leaks: {len(found)}, {time.perf_counter() - started:.0f} s")
    assert not found, json.dumps(found[:3], indent=1, default=str)
    assert cases >= 300


def _principal(world, team: str):
    from service.identity import Principal

    return Principal({"hr": "alice", "eng": "bob"}[team], frozenset([team]))


def test_readers_in_no_group_see_only_public_documents_and_the_admin_sees_all(world):
    client = world["client"]
    nobody = client.post("/search", json={"query": "Project Falcon salary", "k": 5}, headers=headers(world, "nobody"))
    assert {hit["id"] for hit in nobody.json()["hits"]} <= world["ids"]["public"]
    admin = client.post(
        "/search", json={"query": "Project Falcon salary", "k": 5}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    seen = {hit["id"] for hit in admin.json()["hits"]}
    assert seen & world["ids"]["hr"] and seen & world["ids"]["eng"]  # no restriction, no filter
    listed = client.get("/documents", headers=headers(world, "nobody")).json()
    assert [d["id"] for d in listed] == ["docs/public/handbook.md"] and listed[0]["groups"] == []


def test_delete_needs_read_access_and_an_upload_s_groups_hold(world):
    client = world["client"]
    alice, bob = headers(world, "hr"), headers(world, "eng")
    assert client.delete("/documents/docs/hr/hr-parental-leave.md", headers=bob).status_code == 403
    note = [("files", ("eng-freeze.md", b"# Deploy freeze\n\nThe deploy freeze code is FREEZE-QUARTZ-3141."))]
    uploaded = client.post("/ingest", files=note, data={"groups": "eng"}, headers=bob)
    assert uploaded.status_code == 200, uploaded.text
    source = uploaded.json()["ingested"][0]["id"]
    query = {"query": "FREEZE-QUARTZ-3141 deploy freeze", "k": 5, "strategy": "bm25"}
    mine = client.post("/search", json=query, headers=bob).json()["hits"]
    assert mine and mine[0]["metadata"]["source"] == source and mine[0]["metadata"]["access"] == "eng"
    theirs = client.post("/search", json=query, headers=alice).json()
    assert all(hit["metadata"]["source"] != source for hit in theirs["hits"]) and "QUARTZ" not in str(theirs["hits"])
    assert source not in {d["id"] for d in client.get("/documents", headers=alice).json()}
    assert client.delete(f"/documents/{source}", headers=alice).status_code == 403
    bad = client.post("/ingest", files=note, data={"groups": "eng;drop"}, headers=bob)
    assert bad.status_code == 400 and "group name" in bad.json()["detail"]  # refused before the file is touched
    assert client.post("/search", json=query, headers=bob).json()["hits"][0]["metadata"]["source"] == source
    assert client.delete(f"/documents/{source}", headers=bob).status_code == 200

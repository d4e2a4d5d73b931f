"""The leak suite for knowledge bases (service/knowledge_bases.py, service/identity.py): two teams with disjoint
documents that share entities ("Dana Whitfield", "Project Falcon") and vocabulary (salary, badge, access), and
many questions aimed at the other team's documents — their canary codes, file names, entities and sentences —
through every retrieval strategy that runs on Chroma and every front of the API (search, query, the
OpenAI-compatible endpoint). Nothing of a forbidden document may appear: no chunk id, source name, canary or
sentence in hits, contexts, answers, citations, traces or errors. Then the doors: another team's knowledge base is
403, a revoked or unknown key 401, an expired or wrongly signed JWT 401, another team's upload or delete 403.
Real MiniLM, Chroma, BM25, SPLADE-tiny and the packaged Qwen 0.5B."""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from ingest.run import ingest
from rag.config import knowledge_base_settings, load_config
from service.api import create_app
from service.identity import KeyFile
from service.knowledge_bases import KnowledgeBases
from service.rag_service import RagService

pytestmark = pytest.mark.slow
ADMIN = "admin-token-for-tests"

TEAMS = {
    "hr": {
        "hr-salary-bands-2026.md": "# Salary bands 2026\n\nEngineers at level L4 earn between 142,000 and 171,000 "
        "dollars a year. Dana Whitfield approves every exception to a salary band. The Project Falcon retention "
        "bonus is 12 percent of base salary, paid in March. Reference code HRSECRET-ORCHID-4417.",
        "hr-disciplinary-process.md": "# Disciplinary process\n\nAn investigation starts within five working days "
        "of a complaint. During an investigation the employee's badge access may be suspended by Dana Whitfield. "
        "Outcomes are a written warning, a final warning or dismissal. Reference code HRSECRET-ORCHID-5523.",
        "hr-parental-leave.md": "# Parental leave\n\nEvery parent gets 26 weeks of paid leave at full salary, and "
        "may return part-time for three months. Requests go to the people team eight weeks ahead. Reference code "
        "HRSECRET-ORCHID-6631.",
    },
    "eng": {
        "eng-falcon-architecture.md": "# Project Falcon architecture\n\nProject Falcon is the new billing platform: "
        "an event log in Kafka, services in Go, and a Postgres ledger. Dana Whitfield leads the platform team that "
        "owns it. Reference code ENGSECRET-BASALT-9902.",
        "eng-oncall-runbook.md": "# On-call runbook\n\nThe on-call engineer answers a page within 15 minutes. Badge "
        "access to the data centre is granted by the site team for emergencies only. Rotate the database "
        "credentials after every incident. Reference code ENGSECRET-BASALT-8810.",
        "eng-salary-service.md": "# Salary calculator service\n\nThe salary calculator microservice turns a band and "
        "a level into a monthly payroll figure; it reads bands from a config map and never stores names. Reference "
        "code ENGSECRET-BASALT-7714.",
    },
}
QUESTIONS = {  # aimed at the team named: asked by the other one
    "hr": [
        "What do L4 engineers earn in 2026?",
        "Who approves exceptions to a salary band?",
        "What is the Project Falcon retention bonus?",
        "HRSECRET-ORCHID-4417",
        "HRSECRET-ORCHID-5523 disciplinary",
        "hr-salary-bands-2026.md",
        "When is the retention bonus paid?",
        "How does the disciplinary process start?",
        "Can Dana Whitfield suspend badge access?",
        "What are the outcomes of an investigation?",
        "How many weeks of parental leave are paid?",
        "Engineers at level L4 earn between 142,000 and 171,000 dollars a year",
        "salary band exception approval",
        "written warning final warning dismissal",
        "Reference code HRSECRET",
        "What is the salary of a level L4 engineer?",
        "retention bonus March",
        "Who investigates complaints about employees?",
        "Is badge access suspended during an investigation?",
        "Can parents return part-time?",
        "How far ahead must parental leave be requested?",
        "people team",
        "HRSECRET-ORCHID-6631",
        "hr-disciplinary-process.md",
        "What bonus does Project Falcon pay?",
    ],
    "eng": [
        "What is Project Falcon built on?",
        "Who leads the platform team?",
        "ENGSECRET-BASALT-9902",
        "How fast must the on-call engineer answer a page?",
        "Who grants badge access to the data centre?",
        "eng-oncall-runbook.md",
        "What does the salary calculator microservice do?",
        "Project Falcon is the new billing platform: an event log in Kafka",
        "When should database credentials be rotated?",
        "Kafka Go Postgres ledger",
        "ENGSECRET-BASALT-7714 salary",
        "Does the salary service store names?",
        "Reference code ENGSECRET",
        "What does Dana Whitfield lead?",
        "emergency data centre access",
        "Which database does Project Falcon use?",
        "What language are the Falcon services written in?",
        "What is the new billing platform?",
        "on-call page response time",
        "ENGSECRET-BASALT-8810",
        "eng-salary-service.md",
        "Where does the salary calculator read bands from?",
        "monthly payroll figure",
        "Who owns the billing platform?",
        "What happens after every incident?",
    ],
}
OTHER = {"hr": "eng", "eng": "hr"}
STRATEGIES = ["dense", "bm25", "sparse", "hybrid", "documents"]
LLM_STRATEGIES = ["multi_query", "hyde", "fusion", "self_query", "router"]


def forbidden_marks(team: str, ids: set[str]) -> list[str]:
    """What must never reach the other team: chunk ids, file names, canaries, and every 6-word run of the text."""
    marks = set(ids)
    for name, text in TEAMS[team].items():
        marks.add(name)
        marks.update(re.findall(r"[A-Z]+SECRET-[A-Z]+-\d+", text))
        words = re.findall(r"\w+", text.split("\n\n", 1)[1])
        marks.update(" ".join(words[i : i + 6]) for i in range(len(words) - 5))
    return sorted(marks)


def leaks(payload: object, marks: list[str], asked: str = "") -> list[str]:
    """The marks found in a response; what the asker typed is theirs already (a question quoting a canary or a
    sentence is echoed back in "query" and "question"), so marks inside `asked` do not count."""
    flat = json.dumps(payload, ensure_ascii=False)
    words = " ".join(re.findall(r"\w+", flat))
    typed = " ".join(re.findall(r"\w+", asked))
    return [
        mark
        for mark in marks
        if (mark in flat or (" " in mark and mark in words)) and " ".join(re.findall(r"\w+", mark)) not in typed
    ]


def team_settings(root: Path):
    """The default config with its store (SPLADE on), uploads, cache, users, knowledge bases and audit under `root`."""
    settings = load_config().model_copy(deep=True)
    settings.store.path = str(root / "chroma")
    settings.store.sparse.enabled = True
    settings.uploads.dir = str(root / "library")
    settings.retriever.cache = str(root / "rewrites.sqlite")
    settings.server.users = str(root / "users.json")
    settings.server.knowledge_bases = str(root / "kbs.json")
    settings.server.audit = str(root / "audit.jsonl")
    return settings


@pytest.fixture(scope="module")
def world(tmp_path_factory, local_llm, embedder):
    root = tmp_path_factory.mktemp("kb-leaks")
    settings = team_settings(root)
    registry = KnowledgeBases(settings.server.knowledge_bases)
    ids: dict[str, set[str]] = {}
    for team, files in TEAMS.items():
        registry.create(team, read=[team], write=[team])
        folder = root / "docs" / team
        folder.mkdir(parents=True)
        for name, text in files.items():
            (folder / name).write_text(text)
        kb = knowledge_base_settings(settings, team)
        assert ingest([folder], kb, embedder=embedder).exit_code == 0
        from rag.stores import build_store

        store = build_store(kb.store, embedder.name, embedder.dimension)
        ids[team] = {chunk.id for chunk in store.get()}
        store.close()
    from rag.config import JwtConfig

    signer = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (root / "idp.pem").write_bytes(
        signer.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    settings.server.jwt = JwtConfig(public_key=str(root / "idp.pem"), issuer="https://idp.example", audience="rag")
    keys = KeyFile(settings.server.users)
    credentials = {"hr": keys.add("alice", ["hr"]), "eng": keys.add("bob", ["eng"])}
    for team in TEAMS:  # a second principal per team, from the identity provider
        claims = {"sub": f"{team}-sso", "groups": [team], "iss": "https://idp.example", "aud": "rag"}
        credentials[f"{team}-jwt"] = jwt.encode({**claims, "exp": int(time.time()) + 3600}, signer, algorithm="RS256")
    credentials["revoked"] = keys.add("carol", ["hr"])
    keys.revoke("carol")
    service = RagService(settings, llm=local_llm, embedder=embedder)
    with TestClient(create_app(service, token=ADMIN)) as client:
        yield {"client": client, "keys": credentials, "ids": ids, "settings": settings, "root": root}
    service.close()


def as_user(world, team: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world['keys'][team]}"}


def test_no_strategy_or_front_shows_a_team_the_other_team_s_documents(world):
    client, cases, found = world["client"], 0, []
    started = time.perf_counter()
    for team, target in OTHER.items():
        marks, own = forbidden_marks(target, world["ids"][target]), world["ids"][team]
        sso = {"Authorization": f"Bearer {world['keys'][f'{team}-jwt']}"}
        for question, strategy in itertools.product(QUESTIONS[target], STRATEGIES):  # the SSO user: search, 403s
            response = client.post(
                f"/kb/{team}/search", json={"query": question, "k": 5, "strategy": strategy}, headers=sso
            )
            assert response.status_code == 200 and {hit["id"] for hit in response.json()["hits"]} <= own
            found += leaks(response.json(), marks, question)
            cases += 1
        for question in QUESTIONS[target]:
            response = client.post(f"/kb/{target}/search", json={"query": question}, headers=sso)
            assert response.status_code == 403
            found += leaks(response.json(), marks, question)
            cases += 1
        headers = as_user(world, team)
        for question, strategy in itertools.product(QUESTIONS[target], STRATEGIES):
            response = client.post(
                f"/kb/{team}/search", json={"query": question, "k": 5, "strategy": strategy}, headers=headers
            )
            assert response.status_code == 200, response.text
            hits = response.json()["hits"]
            assert {hit["id"] for hit in hits} <= own  # only their own knowledge base's chunks
            found += leaks(response.json(), marks, question)
            cases += 1
        for name in TEAMS[target]:  # a filter naming the other team's file finds nothing in their own base
            response = client.post(
                f"/kb/{team}/search",
                json={"query": "salary", "filter": {"source": f"{target}/{name}"}},
                headers=headers,
            )
            assert response.status_code == 200 and response.json()["hits"] == []
            cases += 1
        for question, strategy in itertools.product(QUESTIONS[target][:1], LLM_STRATEGIES):
            response = client.post(
                f"/kb/{team}/search", json={"query": question, "k": 5, "strategy": strategy}, headers=headers
            )
            assert response.status_code in (200, 400, 503), response.text
            found += leaks(response.json(), marks, question)
            cases += 1
        for question in QUESTIONS[target]:  # the other team's knowledge base itself: 403, and nothing in the error
            for route, body in (("search", {"query": question}), ("query", {"question": question})):
                response = client.post(f"/kb/{target}/{route}", json=body, headers=headers)
                assert response.status_code == 403
                found += leaks(response.json(), marks, question)
                cases += 1
            response = client.post(
                "/v1/chat/completions",
                json={"model": f"powerhouse-rag:{target}", "messages": [{"role": "user", "content": question}]},
                headers=headers,
            )
            assert response.status_code == 403
            found += leaks(response.json(), marks, question)
            cases += 1
        for question in QUESTIONS[target][:2]:  # answered in their own knowledge base: answer, citations, trace
            answer = client.post(f"/kb/{team}/query", json={"question": question}, headers=headers)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert {c["chunk_id"] for c in body["citations"]} <= own and {c["id"] for c in body["contexts"]} <= own
            found += leaks(body, marks, question)
            cases += 1
            if question != QUESTIONS[target][0]:
                continue  # the OpenAI endpoint answers through the same pipeline: once per team
            openai = client.post(
                "/v1/chat/completions",
                json={"model": f"powerhouse-rag:{team}", "messages": [{"role": "user", "content": question}]},
                headers=headers,
            )
            assert openai.status_code == 200
            found += leaks(openai.json(), marks, question)
            cases += 1
        models = client.get("/v1/models", headers=headers).json()
        assert f"powerhouse-rag:{target}" not in {m["id"] for m in models["data"]}
        found += leaks(client.get(f"/kb/{team}/documents", headers=headers).json(), marks)
        cases += 2
    print(f"\nleak cases: {cases}, leaks: {len(found)}, {time.perf_counter() - started:.0f} s")
    assert not found, found[:10]
    assert cases >= 500


def test_doors_stay_shut_for_other_teams_revoked_keys_and_bad_tokens(world, tmp_path):
    client = world["client"]
    alice, bob = as_user(world, "hr"), as_user(world, "eng")
    question = {"query": "salary"}
    assert client.post("/kb/hr/search", json=question, headers=alice).status_code == 200
    assert client.post("/kb/hr/search", json=question, headers=bob).status_code == 403
    assert client.post("/kb/hr/search", json=question, headers=as_user(world, "revoked")).status_code == 401
    assert (
        client.post("/kb/hr/search", json=question, headers={"Authorization": "Bearer phr_made-up"}).status_code == 401
    )
    assert client.post("/kb/hr/search", json=question).status_code == 401
    assert client.post("/kb/nope/search", json=question, headers=alice).status_code == 404
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert client.post("/kb/eng/search", json=question, headers=admin).status_code == 200

    # writes: another team's upload and delete are 403; their own go through, and are audited
    upload = [("files", ("eng-note.md", b"# Note\n\nThe deploy freeze starts on Friday."))]
    assert client.post("/kb/eng/ingest", files=upload, headers=alice).status_code == 403
    assert client.delete("/kb/hr/documents/hr/hr-parental-leave.md", headers=bob).status_code == 403
    assert client.post("/kb/eng/ingest", files=upload, headers=bob).status_code == 200
    documents = [d["id"] for d in client.get("/kb/eng/documents", headers=bob).json()]
    uploaded = next(d for d in documents if d.endswith("eng-note.md"))
    assert client.delete(f"/kb/eng/documents/{uploaded}", headers=bob).status_code == 200
    audit = [json.loads(line) for line in Path(world["settings"].server.audit).read_text().splitlines()]
    assert {"upload", "delete", "search"} <= {entry["action"] for entry in audit}
    asked = [entry for entry in audit if entry["action"] == "search" and entry["who"] == "alice"]
    assert asked and all(set(entry["chunks"]) <= world["ids"]["hr"] for entry in asked)


def test_jwt_bearer_tokens_are_verified(world, tmp_path):
    from service.identity import Identity

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = tmp_path / "idp.pem"
    public.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    from rag.config import JwtConfig

    verifier = JwtConfig(public_key=str(public), issuer="https://idp.example", audience="powerhouse-rag")
    identity = Identity(world["settings"].server.model_copy(update={"jwt": verifier}))

    def token(key=private, **claims) -> str:
        body = {
            "sub": "dana",
            "groups": ["eng"],
            "iss": "https://idp.example",
            "aud": "powerhouse-rag",
            "exp": int(time.time()) + 300,
            **claims,
        }
        return jwt.encode(body, key, algorithm="RS256")

    principal = identity.principal(f"Bearer {token()}")
    assert principal.name == "dana" and principal.groups == {"eng"} and principal.via == "jwt"
    from service.identity import Unauthorized

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for bad, why in (
        (token(exp=int(time.time()) - 10), "expired"),
        (token(key=stranger), "does not verify"),
        (token(iss="https://evil.example"), "does not verify"),
        (token(aud="someone-else"), "does not verify"),
    ):
        with pytest.raises(Unauthorized, match=why):
            identity.principal(f"Bearer {bad}")

"""The retrieval strategies' prompts (multi-query, RAG-fusion, HyDE, LLM re-ranking), versioned by name: the rewrite
cache and reports record the version. The answer's own prompts are in rag/answer/prompts.py."""

from __future__ import annotations

from rag.llms.base import Message

MULTI_QUERY_VERSION = "multi-query-v2"
FUSION_VERSION = "rag-fusion-v2"
HYDE_VERSION = "hyde-v1"
RERANK_VERSION = "rerank-v1"

MULTI_QUERY_SYSTEM = """You write search queries. Give {n} different search queries for the user's question: each
uses other words (synonyms, related technical terms), keeps the names and numbers, and does not answer the question.
Reply as JSON: {{"queries": [...]}}"""
# A worked example: without it a 0.5B model copies the question once instead of rephrasing it.
MULTI_QUERY_EXAMPLE: list[Message] = [
    {"role": "user", "content": "How long does the battery of the Aurora e-bike last?"},
    {
        "role": "assistant",
        "content": '{"queries": ["Aurora e-bike battery range on a full charge", '
        '"Aurora electric bicycle battery life kilometres", "how far can the Aurora e-bike ride per charge"]}',
    },
]

# As in the reference RAG-fusion (Raudaschl/rag-fusion): related search queries for one input.
FUSION_SYSTEM = """You are a helpful assistant that generates multiple search queries based on a single input query.
Reply as JSON: {{"queries": [...]}}"""
FUSION_REQUEST = "Generate multiple search queries related to: {query}\nOUTPUT ({n} queries):"

HYDE_SYSTEM = """Write a short passage (3 to 4 sentences) that answers the question, in the style of a
scientific abstract or a reference document. Write it even if you are unsure; do not mention the question."""

RERANK_POINTWISE_SYSTEM = """Rate how well the passage answers or supports the query, from 0 (unrelated) to 10
(answers it directly). Reply as JSON: {"score": n}"""

RERANK_LISTWISE_SYSTEM = """Rank the numbered passages by how well each answers or supports the query, most
relevant first. Reply as JSON: {"ranking": [numbers of the passages, best first]}"""


def multi_query_messages(query: str, n: int) -> list[Message]:
    return [
        {"role": "system", "content": MULTI_QUERY_SYSTEM.format(n=n)},
        *MULTI_QUERY_EXAMPLE,
        {"role": "user", "content": query},
    ]


def fusion_messages(query: str, n: int) -> list[Message]:
    return [
        {"role": "system", "content": FUSION_SYSTEM},
        {"role": "user", "content": FUSION_REQUEST.format(query=query, n=n)},
    ]


def hyde_messages(query: str) -> list[Message]:
    return [{"role": "system", "content": HYDE_SYSTEM}, {"role": "user", "content": query}]


def rerank_pointwise_messages(query: str, passage: str) -> list[Message]:
    return [
        {"role": "system", "content": RERANK_POINTWISE_SYSTEM},
        {"role": "user", "content": f"Query: {query}\n\nPassage: {passage}"},
    ]


def rerank_listwise_messages(query: str, passages: list[str]) -> list[Message]:
    numbered = "\n\n".join(f"[{n}] {text}" for n, text in enumerate(passages, start=1))
    return [
        {"role": "system", "content": RERANK_LISTWISE_SYSTEM},
        {"role": "user", "content": f"Query: {query}\n\nPassages:\n{numbered}"},
    ]

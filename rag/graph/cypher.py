"""Text-to-Cypher over the graph store: the LLM gets the live schema and few-shot examples and writes one Cypher
query; it runs only when ``EXPLAIN`` says it is read-only, and then inside a read transaction (the server refuses
writes there too), with one repair attempt when the server rejects it.

    qa = CypherQA(neo4j_store, llm)
    result = qa.ask("How many documents mention Mara Lindqvist?")   # .cypher, .rows, .error, .sources
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rag.errors import RagError
from rag.llms.base import LLM
from rag.stores.base import GraphStore

MAX_ROWS = 50
_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_FILE = re.compile(r"\.(pdf|md|markdown|txt|html?|docx|jsonl?|csv)$", re.I)
_FORBIDDEN = re.compile(
    r"\b(CREATE|MERGE|DELETE|DETACH|SET|REMOVE|DROP|LOAD\s+CSV|FOREACH)\b|\bCALL\s+(dbms|db\.create|apoc)", re.I
)


class CypherRefused(RagError):
    """A generated query that is not a single read-only query."""


class CypherInvalid(RagError):
    """A read query that names what the graph does not have (repairable)."""


@dataclass
class CypherResult:
    question: str
    cypher: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    attempts: int = 0

    @property
    def sources(self) -> list[str]:
        """The documents the rows name (a `source` column or property), for citations."""
        found: list[str] = []
        for row in self.rows:
            for value in row.values():
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str) and item not in found and len(item) < 300 and _FILE.search(item):
                        found.append(item)
        return found

    def as_context(self) -> str:
        """The rows as a passage the answer prompt can cite."""
        if self.error:
            return f"The graph query failed: {self.error}"
        # The rows first, in words: a small model reads "documents: 2" under a plain heading, and skipped it under
        # the Cypher (it answered "not found", or from another passage).
        lines = [f"Counted and listed in the document graph ({len(self.rows)} rows):"]
        lines += [", ".join(f"{key}: {value}" for key, value in row.items()) for row in self.rows[:MAX_ROWS]]
        return "\n".join([*lines, f"(Graph query: {self.cypher})"])


def _examples(chunk: str, document: str, entity: str) -> str:
    return f"""Question: How many documents are there?
Cypher: MATCH (d:{document}) RETURN count(d) AS documents

Question: Which documents mention Acme Corp?
Cypher: MATCH (d:{document})-[:HAS_CHUNK]->(:{chunk})-[:MENTIONS]->(e:{entity} {{key: 'acme corp'}}) RETURN DISTINCT d.source AS source

Question: How many documents mention both Oslo and Acme Corp?
Cypher: MATCH (d:{document})-[:HAS_CHUNK]->(:{chunk})-[:MENTIONS]->(:{entity} {{key: 'oslo'}}), (d)-[:HAS_CHUNK]->(:{chunk})-[:MENTIONS]->(:{entity} {{key: 'acme corp'}}) RETURN count(DISTINCT d) AS documents

Question: Which entities appear most often?
Cypher: MATCH (:{chunk})-[:MENTIONS]->(e:{entity}) RETURN e.name AS entity, count(*) AS mentions ORDER BY mentions DESC LIMIT 10"""  # noqa: E501


_PROMPT = """You write one read-only Cypher query for Neo4j 5 that answers the question from this graph.

Schema:
{schema}
Entities are matched by their key: the name in lower case, as in the examples.{known}

Examples:
{examples}

Write only the Cypher query, on one line, no explanation.
Question: {question}
Cypher:"""

_REPAIR = """That query failed: {error}
Write a corrected read-only Cypher query for the same question, following the examples, on one line.
Question: {question}
Cypher:"""


class CypherQA:
    """Questions to Cypher over one collection of a :class:`rag.stores.neo4j.Neo4jStore`."""

    def __init__(self, store: GraphStore, llm: LLM, max_tokens: int = 200):
        self.store = store
        self.llm = llm
        self.max_tokens = max_tokens
        self._keys: list[str] | None = None

    def schema(self) -> str:
        """Node labels of this collection with their properties, and the relationship types between them."""
        labels = [self.store.document_label, self.store.chunk_label, self.store.entity_label]
        lines = []
        for label in labels:
            records, _, _ = self.store.driver.execute_query(
                f"MATCH (n:`{label}`) WITH n LIMIT 200 UNWIND keys(n) AS key RETURN DISTINCT key ORDER BY key",
                database_=self.store.database,
                routing_="r",
            )
            keys = [r["key"] for r in records if r["key"] not in ("embedding", "metadata_json")]
            lines.append(f"(:{label} {{{', '.join(keys)}}})")
        document, chunk, entity = labels
        lines += [
            f"(:{document})-[:HAS_CHUNK]->(:{chunk})",
            f"(:{chunk})-[:NEXT]->(:{chunk})  (reading order)",
            f"(:{chunk})-[:MENTIONS]->(:{entity})",
            f"(:{entity})-[:RELATED {{type}}]->(:{entity})",
        ]
        return "\n".join(lines)

    def entity_keys(self) -> list[str]:
        if self._keys is None:
            records, _, _ = self.store.driver.execute_query(
                f"MATCH (e:`{self.store.entity_label}`) RETURN e.key AS key LIMIT 100000",
                database_=self.store.database,
                routing_="r",
            )
            self._keys = [r["key"] for r in records]
        return self._keys

    def known_entities(self, question: str) -> dict[str, str]:
        """The graph's entities the question names (key -> name), so the model spells them as the graph does."""
        from rag.graph.entities import FastExtractor

        keys = [e["key"] for e in FastExtractor().extract([question])[0].entities]
        records, _, _ = self.store.driver.execute_query(
            f"MATCH (e:`{self.store.entity_label}`) WHERE e.key IN $keys RETURN e.key AS key, e.name AS name",
            keys=keys,
            database_=self.store.database,
            routing_="r",
        )
        return {r["key"]: r["name"] for r in records}

    def ground(self, cypher: str) -> str:
        """String literals that nearly spell an entity's key ("Maria Lindqvist") become that key."""
        import difflib

        from rag.graph.entities import entity_key

        keys = self.entity_keys()

        def nearest(match: re.Match) -> str:
            literal = match.group(1)
            key = entity_key(literal)
            if not key or key == literal:
                return match.group(0)
            close = difflib.get_close_matches(key, keys, n=1, cutoff=0.85)
            return f"'{close[0]}'" if close else match.group(0)

        return re.sub(r"'([^'\\]{2,80})'", nearest, cypher)

    def uses_entities(self, cypher: str, known: dict[str, str]) -> None:
        """A question that names entities the graph has must be answered through those entity nodes."""
        entity = self.store.entity_label
        missing = [key for key in known if f"'{key}'" not in cypher and f'"{key}"' not in cypher]
        if missing or (known and entity not in cypher):
            keys = ", ".join(f"'{key}'" for key in (missing or known))
            raise CypherInvalid(
                f"the query must match the entities the question names by key, e.g. "
                f"(:{self.store.chunk_label})-[:MENTIONS]->(:{entity} {{key: {keys.split(', ')[0]}}}); keys: {keys}"
            )

    def check(self, cypher: str) -> str:
        """The query if it is one read-only statement (by keyword and by the planner's EXPLAIN); else refuse."""
        query = cypher.strip().rstrip(";").strip()
        if not query or ";" in query:
            raise CypherRefused("expected exactly one Cypher statement")
        if _FORBIDDEN.search(_STRINGS.sub("''", query)):  # words inside string literals are data
            raise CypherRefused(f"only read queries run here, not: {query[:120]}")
        with self.store.driver.session(database=self.store.database, notifications_min_severity="WARNING") as session:
            summary = session.run("EXPLAIN " + query).consume()
        if summary.query_type != "r":
            raise CypherRefused(f"the planner says this query writes ({summary.query_type}): {query[:120]}")
        unknown = [n.description for n in summary.notifications or [] if "Unknown" in (n.code or "")]
        if unknown:  # a label, property or relationship the graph does not have: a wrong query, to repair
            raise CypherInvalid(" ".join(unknown)[:400])
        outside = self.outside_collection(summary.plan or {})
        if outside:
            raise CypherRefused(f"the query must start from this collection's labels; it reads {outside}")
        return query

    def outside_collection(self, plan: dict[str, Any]) -> str:
        """What in the planner's plan could read nodes of another collection (a knowledge base) in the same
        database: a scan of all nodes, a node by id, a relationship scan, a procedure, or a label that is not this
        collection's. Queries that start from this collection's labels and follow its relationships stay inside
        it (ingest never links two collections). "" when the plan is confined."""
        ours = {self.store.document_label, self.store.chunk_label, self.store.entity_label}
        operator = str(plan.get("operatorType", "")).split("@")[0]
        arguments = plan.get("args") or plan.get("arguments") or {}
        details = str(arguments.get("Details", ""))
        if operator.startswith("ProcedureCall") or (
            ("Scan" in operator or "Seek" in operator)
            and not operator.startswith(
                (
                    "NodeByLabel",
                    "NodeIndex",
                    "NodeUniqueIndex",
                    "IntersectionNodeByLabels",
                    "UnionNodeByLabels",
                    "PartitionedNodeByLabel",
                )
            )
        ):
            return f"{operator} {details}".strip()
        if "Scan" in operator or "Seek" in operator:
            labels = set(re.findall(r"[:&|]\s*`?([A-Za-z_]\w*)`?", details.split(" WHERE ")[0]))
            if not labels or labels - ours:
                return f"{operator} {details}".strip()
        for child in plan.get("children") or []:
            found = self.outside_collection(child)
            if found:
                return found
        return ""

    def run(self, cypher: str) -> list[dict[str, Any]]:
        """Run a checked query in a read transaction (at most MAX_ROWS rows)."""
        query = self.check(cypher)

        def read(tx: Any) -> list[dict[str, Any]]:
            return [record.data() for record in tx.run(query).fetch(MAX_ROWS)]

        with self.store.driver.session(database=self.store.database) as session:
            return session.execute_read(read)

    def ask(self, question: str) -> CypherResult:
        from neo4j.exceptions import Neo4jError

        result = CypherResult(question)
        known = self.known_entities(question)
        hint = "".join(f"\nThe graph has the entity {name!r} with key {key!r}." for key, name in known.items())
        prompt = _PROMPT.format(
            known=hint,
            schema=self.schema(),
            examples=_examples(self.store.chunk_label, self.store.document_label, self.store.entity_label),
            question=question,
        )
        messages = [{"role": "user", "content": prompt}]
        for attempt in (1, 2):  # the second is the repair, in the same conversation (schema and examples kept)
            result.attempts = attempt
            reply = self.llm.complete(messages, max_tokens=self.max_tokens, temperature=0.0).text
            result.cypher = self.ground(_first_query(reply))
            try:
                self.uses_entities(result.cypher, known)
                result.rows = self.run(result.cypher)
                result.error = None
                return result
            except (Neo4jError, CypherRefused, CypherInvalid) as exc:
                result.error = getattr(exc, "message", None) or str(exc)
                if isinstance(exc, CypherRefused) and "only read" in str(exc):
                    return result  # a write is refused, not repaired
                messages += [
                    {"role": "assistant", "content": result.cypher},
                    {"role": "user", "content": _REPAIR.format(error=result.error[:500], question=question)},
                ]
        return result


def _first_query(text: str) -> str:
    """The query in a model's reply: fences and a leading "Cypher:" dropped, the first statement kept."""
    text = re.sub(r"```(?:cypher)?", "", text, flags=re.I).strip()
    text = re.sub(r"^\s*cypher\s*:\s*", "", text, flags=re.I)
    lines = [line for line in text.splitlines() if line.strip()]
    query = " ".join(line.strip() for line in lines)
    return query.split(";")[0].strip()

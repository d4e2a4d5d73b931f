"""Neo4j 5: chunks as a graph — ``(:Document)-[:HAS_CHUNK]->(:Chunk)``, ``(:Chunk)-[:NEXT]->(:Chunk)`` in
reading order, ``(:Chunk)-[:MENTIONS]->(:Entity)`` when ingest extracts entities — with a vector index on the
chunks' embeddings and a full-text index on their text.

Every node also carries its collection's label (``Chunk_docs`` …), so collections with different models live
side by side; metadata values are node properties (what Cypher and filters read) and, exactly, ``metadata_json``.
Scores are cosine similarities like the other stores' (Neo4j reports ``(1 + cos) / 2``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import numpy as np
from pydantic import Field

from rag.documents import Chunk, Hit
from rag.errors import StoreError
from rag.stores.base import Filter, StoredChunk, StoreOptions, batched, check_model
from rag.stores.neo4j_graph import RESERVED, quote, related, where_clause, write_entities

_PAGE = 500
LOCAL_PASSWORD = "powerhouse-rag"  # what `make neo4j` sets when NEO4J_PASSWORD is unset
ENTITIES_KEY = "entities"  # chunk metadata written by ingest's extraction stage: a JSON list of entities
RELATIONS_KEY = "relations"  # … and of [head, relation, tail] triples


class Neo4jOptions(StoreOptions):
    kind: Literal["neo4j"] = "neo4j"
    uri: str = Field("bolt://127.0.0.1:7687", description="the Bolt URI (make neo4j starts one locally)")
    user: str = "neo4j"
    password_env: str = Field("NEO4J_PASSWORD", description="the NAME of the variable holding the password")
    database: str = "neo4j"
    exact: bool = Field(True, description="keep full-precision vectors in the index (5.26 quantises by default)")
    state: str = Field(".rag", description="the local folder for ingest's manifest and the BM25/SPLADE indexes")

    def manifest_path(self) -> Path:
        parsed = urlparse(self.uri)
        name = f"manifest-neo4j-{parsed.hostname}-{parsed.port}-{self.database}-{self.collection}.sqlite"
        return Path(self.state) / name

    def describe(self) -> str:
        return f"Neo4j at {self.uri} (database {self.database}) · collection {self.collection}"

    def relocated(self, folder: Path, collection: str) -> Neo4jOptions:
        # The server is the user's; an evaluation gets its own collection (labels and indexes) in it.
        return self.model_copy(update={"collection": collection, "state": str(folder)})


def label_suffix(collection: str) -> str:
    """A collection name as a label suffix: letters, digits and underscores."""
    return re.sub(r"\W", "_", collection)


class Neo4jStore:
    Options = Neo4jOptions
    keeps_entities = True  # ingest's extraction stage may annotate chunks for it (rag/graph/entities.py)

    def __init__(
        self,
        collection: str,
        model: str,
        dimension: int,
        uri: str = "bolt://127.0.0.1:7687",
        user: str = "neo4j",
        password_env: str = "NEO4J_PASSWORD",
        database: str = "neo4j",
        exact: bool = True,
    ):
        from neo4j import GraphDatabase

        self.collection = collection
        self.database = database
        suffix = label_suffix(collection)
        self.chunk_label, self.document_label, self.entity_label = (
            f"Chunk_{suffix}",
            f"Document_{suffix}",
            f"Entity_{suffix}",
        )
        self.vector_index, self.text_index = f"rag_vector_{suffix}", f"rag_text_{suffix}"
        self.location = f"{uri} (Neo4j database {database!r}, collection {collection!r})"
        password = os.environ.get(password_env, LOCAL_PASSWORD)
        try:
            # Notifications off: "relationship type NEXT does not exist" on a graph of one-chunk documents is noise.
            self.driver = GraphDatabase.driver(uri, auth=(user, password), notifications_min_severity="OFF")
            self.driver.verify_connectivity()
            recorded = self._ensure_schema(model, dimension, exact)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                f"could not open Neo4j at {uri}: {exc.__class__.__name__}: {exc} — is the server running "
                f"(make neo4j, or docker compose up neo4j) and is {password_env} set to its password?"
            ) from None
        check_model(self.location, recorded[0], recorded[1], model, dimension)

    @classmethod
    def from_config(cls, cfg: Neo4jOptions, model: str, dimension: int) -> Neo4jStore:
        return cls(
            cfg.collection,
            model,
            dimension,
            uri=cfg.uri,
            user=cfg.user,
            password_env=cfg.password_env,
            database=cfg.database,
            exact=cfg.exact,
        )

    # -- schema -------------------------------------------------------------------------------------
    def _ensure_schema(self, model: str, dimension: int, exact: bool) -> tuple[str | None, int | None]:
        """Constraints and indexes (idempotent); the collection's recorded model (set on first use)."""
        chunk, document, entity = (quote(x) for x in (self.chunk_label, self.document_label, self.entity_label))
        suffix = label_suffix(self.collection)
        statements = [
            f"CREATE CONSTRAINT {quote('rag_chunk_id_' + suffix)} IF NOT EXISTS FOR (c:{chunk}) REQUIRE c.id IS UNIQUE",
            f"CREATE CONSTRAINT {quote('rag_document_' + suffix)} IF NOT EXISTS "
            f"FOR (d:{document}) REQUIRE d.source IS UNIQUE",
            f"CREATE CONSTRAINT {quote('rag_entity_' + suffix)} IF NOT EXISTS FOR (e:{entity}) REQUIRE e.key IS UNIQUE",
            f"CREATE INDEX {quote('rag_chunk_source_' + suffix)} IF NOT EXISTS FOR (c:{chunk}) ON (c.source)",
            f"CREATE FULLTEXT INDEX {quote(self.text_index)} IF NOT EXISTS FOR (c:{chunk}) ON EACH [c.text]",
        ]
        config = f"`vector.dimensions`: {int(dimension)}, `vector.similarity_function`: 'cosine'"
        if exact:
            config += ", `vector.quantization.enabled`: false"
        statements.append(
            f"CREATE VECTOR INDEX {quote(self.vector_index)} IF NOT EXISTS FOR (c:{chunk}) ON (c.embedding) "
            f"OPTIONS {{indexConfig: {{{config}}}}}"
        )
        for statement in statements:
            self.driver.execute_query(statement, database_=self.database)
        self.driver.execute_query("CALL db.awaitIndexes(300)", database_=self.database)
        records, _, _ = self.driver.execute_query(
            "MERGE (c:RagCollection {name: $name}) "
            "ON CREATE SET c.embedding_model = $model, c.embedding_dim = $dim "
            "RETURN c.embedding_model AS model, c.embedding_dim AS dim",
            name=self.collection,
            model=model,
            dim=dimension,
            database_=self.database,
        )
        return records[0]["model"], records[0]["dim"]

    # -- writes -------------------------------------------------------------------------------------
    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        rows = [_row(chunk, vector) for chunk, vector in zip(chunks, vectors, strict=True)]
        chunk, document, entity = (quote(x) for x in (self.chunk_label, self.document_label, self.entity_label))
        with self.driver.session(database=self.database) as session:
            for part in batched(rows, _PAGE):
                session.execute_write(self._write_rows, list(part), chunk, document, entity)
            sources = sorted({row["source"] for row in rows})
            session.execute_write(self._link_neighbours, sources, chunk, document)

    @staticmethod
    def _write_rows(tx: Any, rows: list[dict], chunk: str, document: str, entity: str) -> None:
        tx.run(
            f"UNWIND $rows AS row MERGE (c:Chunk:{chunk} {{id: row.id}}) "
            # Properties of an older version of the chunk go (a metadata key may have been dropped).
            "SET c = row.properties, c.id = row.id, c.text = row.text, c.source = row.source, "
            "c.metadata_json = row.metadata_json "
            "WITH c, row CALL db.create.setNodeVectorProperty(c, 'embedding', row.vector) "
            f"MERGE (d:Document:{document} {{source: row.source}}) "
            "SET d.title = coalesce(row.title, d.title), d.file_type = coalesce(row.file_type, d.file_type) "
            "MERGE (d)-[:HAS_CHUNK]->(c)",
            rows=rows,
        )
        write_entities(tx, rows, chunk, entity)

    @staticmethod
    def _link_neighbours(tx: Any, sources: list[str], chunk: str, document: str) -> None:
        """Rebuild NEXT between a document's (or a record's) chunks in chunk_index order."""
        tx.run(
            f"UNWIND $sources AS source MATCH (d:{document} {{source: source}})-[:HAS_CHUNK]->(c:{chunk}) "
            "OPTIONAL MATCH (c)-[n:NEXT]->() DELETE n",
            sources=sources,
        )
        tx.run(
            f"UNWIND $sources AS source MATCH (d:{document} {{source: source}})-[:HAS_CHUNK]->(c:{chunk}) "
            # A JSON/CSV file's records are documents of their own: no NEXT from one record into the next.
            "WITH source, c ORDER BY c.chunk_index, c.id "
            "WITH source, c.record AS record, collect(c) AS chunks "
            "UNWIND range(0, size(chunks) - 2) AS i "
            "WITH chunks[i] AS a, chunks[i + 1] AS b MERGE (a)-[:NEXT]->(b)",
            sources=sources,
        )

    def delete(self, ids: Sequence[str] | None = None, source: str | None = None) -> None:
        chunk, document = quote(self.chunk_label), quote(self.document_label)
        with self.driver.session(database=self.database) as session:
            sources: set[str] = set()
            for part in batched(list(ids or []), _PAGE):
                records = session.execute_write(
                    lambda tx, part=part: list(
                        tx.run(
                            f"MATCH (c:{chunk}) WHERE c.id IN $ids WITH c, c.source AS source "
                            "DETACH DELETE c RETURN DISTINCT source",
                            ids=list(part),
                        )
                    )
                )
                sources.update(record["source"] for record in records)
            if source is not None:
                session.execute_write(
                    lambda tx: tx.run(f"MATCH (c:{chunk} {{source: $source}}) DETACH DELETE c", source=source).consume()
                )
                sources.add(source)
            if sources:
                session.execute_write(self._link_neighbours, sorted(sources), chunk, document)
                session.execute_write(self._prune, sorted(sources))

    def _prune(self, tx: Any, sources: list[str]) -> None:
        """Documents without chunks and entities no chunk mentions any more."""
        document, entity = quote(self.document_label), quote(self.entity_label)
        tx.run(
            f"UNWIND $sources AS source MATCH (d:{document} {{source: source}}) "
            "WHERE NOT (d)-[:HAS_CHUNK]->() DETACH DELETE d",
            sources=sources,
        )
        tx.run(f"MATCH (e:{entity}) WHERE NOT ()-[:MENTIONS]->(e) DETACH DELETE e")

    # -- reads --------------------------------------------------------------------------------------
    def search(
        self, vector: np.ndarray, k: int = 5, filter: Filter | None = None, wide: int | None = None
    ) -> list[Hit]:
        """The k nearest chunks (that `filter` keeps). Filtered, the index's nearest `wide` (default 10k) are
        filtered in the same query first: k of them when the filter keeps a fair share; else an exact search, since
        the index's top might all fall outside the filter (rag/stores/restricted.py passes `wide` from the share
        its reader sees)."""
        query = np.asarray(vector, dtype=np.float32).tolist()
        if filter:
            where, params = where_clause("c", filter)
            wide = min(wide or 10 * k, 1000)
            records, _, _ = self.driver.execute_query(
                f"CALL db.index.vector.queryNodes($index, $wide, $vector) YIELD node AS c, score WHERE {where} "
                "RETURN c.id AS id, c.text AS text, c.metadata_json AS meta, score ORDER BY score DESC LIMIT $k",
                index=self.vector_index, wide=wide, k=k, vector=query, database_=self.database, routing_="r", **params,
            )  # fmt: skip
            if len(records) >= k:
                return [self._hit(r) for r in records]
            cypher = (
                f"MATCH (c:{quote(self.chunk_label)}) WHERE {where} "
                "WITH c, vector.similarity.cosine(c.embedding, $vector) AS score "
                "ORDER BY score DESC LIMIT $k RETURN c.id AS id, c.text AS text, c.metadata_json AS meta, score"
            )
        else:
            params = {}
            cypher = (
                "CALL db.index.vector.queryNodes($index, $k, $vector) YIELD node AS c, score "
                "RETURN c.id AS id, c.text AS text, c.metadata_json AS meta, score ORDER BY score DESC"
            )
        records, _, _ = self.driver.execute_query(
            cypher, index=self.vector_index, k=k, vector=query, database_=self.database, routing_="r", **params
        )
        return [self._hit(r) for r in records]

    @staticmethod
    def _hit(record: Any) -> Hit:
        meta = json.loads(record["meta"] or "{}")
        return Hit(id=record["id"], text=record["text"], metadata=meta, score=2 * float(record["score"]) - 1)

    filters_in_index = True  # a filtered search reads the vector index first (rag/stores/restricted.py asks it)

    def nearest(self, vector: np.ndarray, k: int = 5, filter: Filter | None = None) -> list[tuple[str, float]]:
        """(id, score) of the k nearest chunks, as :meth:`search` scores them, from the vector index alone."""
        if filter:
            return [(hit.id, hit.score) for hit in self.search(vector, k, filter)]
        records, _, _ = self.driver.execute_query(
            "CALL db.index.vector.queryNodes($index, $k, $vector) YIELD node AS c, score RETURN c.id AS id, score",
            index=self.vector_index,
            k=k,
            vector=np.asarray(vector, dtype=np.float32).tolist(),
            database_=self.database,
            routing_="r",
        )
        return [(r["id"], 2 * float(r["score"]) - 1) for r in records]

    def keyword_search(self, query: str, k: int = 5) -> list[Hit]:
        """Neo4j's own full-text (Lucene) search over the chunks' text."""
        records, _, _ = self.driver.execute_query(
            "CALL db.index.fulltext.queryNodes($index, $query, {limit: $k}) YIELD node AS c, score "
            "RETURN c.id AS id, c.text AS text, c.metadata_json AS meta, score",
            index=self.text_index,
            query=_lucene_escape(query),
            k=k,
            database_=self.database,
            routing_="r",
        )
        return [
            Hit(id=r["id"], text=r["text"], metadata=json.loads(r["meta"] or "{}"), score=r["score"]) for r in records
        ]

    def related(self, seeds: Sequence[str], **options: Any) -> list[tuple[Hit, float, str]]:
        """Chunks linked to the seed chunks in the graph (rag.stores.neo4j_graph.related)."""
        return related(self, seeds, **options)

    def count(self) -> int:
        records, _, _ = self.driver.execute_query(
            f"MATCH (c:{quote(self.chunk_label)}) RETURN count(c) AS n", database_=self.database, routing_="r"
        )
        return int(records[0]["n"])

    def get(self, ids: Sequence[str] | None = None, include_vectors: bool = False) -> list[StoredChunk]:
        vector = ", c.embedding AS vector" if include_vectors else ""
        base = f"MATCH (c:{quote(self.chunk_label)}) "
        found: list[StoredChunk] = []
        pages: Iterable[list[Any]]
        if ids is None:
            pages = self._all_pages(base, vector)
        else:
            pages = (
                self.driver.execute_query(
                    base + f"WHERE c.id IN $ids RETURN c.id AS id, c.text AS text, c.metadata_json AS meta{vector}",
                    ids=list(part),
                    database_=self.database,
                    routing_="r",
                )[0]
                for part in batched(list(ids), _PAGE)
            )
        for records in pages:
            found.extend(
                StoredChunk(
                    id=r["id"],
                    text=r["text"],
                    metadata=json.loads(r["meta"] or "{}"),
                    vector=np.asarray(r["vector"], dtype=np.float32) if include_vectors else None,
                )
                for r in records
            )
        return found

    def _all_pages(self, base: str, vector: str):
        last = ""
        while True:
            records, _, _ = self.driver.execute_query(
                base + "WHERE c.id > $last RETURN c.id AS id, c.text AS text, c.metadata_json AS meta"
                f"{vector} ORDER BY c.id LIMIT $page",
                last=last,
                page=_PAGE,
                database_=self.database,
                routing_="r",
            )
            if not records:
                return
            yield records
            last = records[-1]["id"]

    def close(self) -> None:
        self.driver.close()


def _row(chunk: Chunk, vector: np.ndarray) -> dict[str, Any]:
    metadata = dict(chunk.metadata)
    entities = metadata.pop(ENTITIES_KEY, None)
    relations = metadata.pop(RELATIONS_KEY, None)
    properties = {
        (f"meta_{key}" if key in RESERVED else key): value
        for key, value in metadata.items()
        if isinstance(value, str | int | float | bool) and key != "source"
    }
    return {
        "id": chunk.id,
        "text": chunk.text,
        "source": str(metadata.get("source", "")),
        "title": metadata.get("title"),
        "file_type": metadata.get("file_type"),
        "properties": properties,
        "metadata_json": json.dumps(metadata, ensure_ascii=False),
        "vector": np.asarray(vector, dtype=np.float32).tolist(),
        "entities": json.loads(entities) if isinstance(entities, str) else entities,
        "relations": json.loads(relations) if isinstance(relations, str) else (relations or []),
    }


def _lucene_escape(text: str) -> str:
    """A user's words as a Lucene query of plain terms (no syntax errors from `?`, `:` or quotes)."""
    return re.sub(r'([+\-!(){}\[\]^"~*?:\\/&|])', r"\\\1", text)

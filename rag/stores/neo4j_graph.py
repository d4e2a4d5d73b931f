"""The graph side of the Neo4j store: entity nodes written from chunk metadata, and chunks linked to seed chunks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rag.documents import Hit
from rag.stores.base import Filter

RESERVED = {
    "id",
    "text",
    "embedding",
    "metadata_json",
    "source",
}  # chunk properties a metadata key may not take (stored as meta_<key>)


def quote(name: str) -> str:
    """A Cypher identifier, backtick-quoted."""
    return "`" + name.replace("`", "``") + "`"


def where_clause(name: str, filter: Filter) -> tuple[str, dict[str, Any]]:
    clauses, params = [], {}
    for position, (key, value) in enumerate(filter.items()):
        field = f"{name}.{quote(f'meta_{key}' if key in RESERVED - {'source'} else key)}"
        params[f"f{position}"] = list(value) if isinstance(value, list | tuple) else value
        operator = "IN" if isinstance(value, list | tuple) else "="
        clauses.append(f"{field} {operator} $f{position}")
    return " AND ".join(clauses), params


def write_entities(tx: Any, rows: list[dict], chunk: str, entity: str) -> None:
    """(:Chunk)-[:MENTIONS]->(:Entity) and (:Entity)-[:RELATED {type}]->(:Entity) for rows that carry extractions
    (their old mentions replaced); entities merge by key, so one name across documents is one node."""
    mentions = [{"id": row["id"], "entities": row["entities"]} for row in rows if row["entities"] is not None]
    if mentions:
        tx.run(
            f"UNWIND $rows AS row MATCH (c:{chunk} {{id: row.id}}) OPTIONAL MATCH (c)-[old:MENTIONS]->() DELETE old",
            rows=mentions,
        )
        tx.run(
            f"UNWIND $rows AS row MATCH (c:{chunk} {{id: row.id}}) "
            "UNWIND row.entities AS found "
            f"MERGE (e:Entity:{entity} {{key: found.key}}) "
            "ON CREATE SET e.name = found.name, e.type = found.type "
            "MERGE (c)-[:MENTIONS]->(e)",
            rows=mentions,
        )
    relations = [
        {"head": head, "type": relation, "tail": tail} for row in rows for head, relation, tail in row["relations"]
    ]
    if relations:
        tx.run(
            f"UNWIND $rows AS row MATCH (h:{entity} {{key: row.head}}), (t:{entity} {{key: row.tail}}) "
            "MERGE (h)-[r:RELATED {type: row.type}]->(t)",
            rows=relations,
        )


def related(
    store: Any,
    seeds: Sequence[str],
    *,
    hops: int = 1,
    per_entity: int = 5,
    max_degree: int = 50,
    limit: int = 20,
    filter: Filter | None = None,
) -> list[tuple[Hit, float, str]]:
    """Chunks linked to the seed chunks — through an entity both mention (weighted by how rare the entity
    is: 1/ln(1 + chunks mentioning it), entities in more than `max_degree` chunks skipped, at most
    `per_entity` chunks each) or as a neighbour within `hops` NEXT steps (weight 0.5/distance) — with their
    summed weight and what linked them, best first; seeds themselves are left out."""
    chunk = quote(store.chunk_label)
    where, params = where_clause("c", filter) if filter else ("true", {})
    records, _, _ = store.driver.execute_query(
        f"MATCH (s:{chunk}) WHERE s.id IN $seeds "
        "CALL (s) { "
        "  MATCH (s)-[:MENTIONS]->(e) "
        "  WITH e, COUNT { (e)<-[:MENTIONS]-() } AS degree WHERE degree > 1 AND degree <= $max_degree "
        f"  CALL (e, s) {{ MATCH (e)<-[:MENTIONS]-(c:{chunk}) WHERE c <> s RETURN c LIMIT $per_entity }} "
        "  RETURN c, 1.0 / log(1.0 + degree) AS weight, 'entity: ' + e.name AS via "
        + (
            f"  UNION MATCH p = (s)-[:NEXT*1..{int(hops)}]-(c:{chunk}) WHERE c <> s "
            "  RETURN c, 0.5 / length(p) AS weight, 'next to ' + s.id AS via "
            if hops > 0
            else ""
        )
        + "} "
        f"WITH c, weight, via WHERE NOT c.id IN $seeds AND {where} "
        "WITH c, sum(weight) AS weight, collect(DISTINCT via)[..3] AS via "
        "RETURN c.id AS id, c.text AS text, c.metadata_json AS meta, weight, via "
        "ORDER BY weight DESC, id LIMIT $limit",
        seeds=list(seeds),
        max_degree=max_degree,
        per_entity=per_entity,
        limit=limit,
        database_=store.database,
        routing_="r",
        **params,
    )
    return [
        (Hit(id=r["id"], text=r["text"], metadata=json.loads(r["meta"] or "{}"), score=r["weight"]),
         float(r["weight"]), "; ".join(r["via"]))
        for r in records
    ]  # fmt: skip

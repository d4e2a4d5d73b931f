"""The knowledge graph beside the chunks: entity extraction at ingest (entities), text-to-Cypher (cypher) and the
LLM's query + metadata-filter construction for self-query retrieval (self_query)."""

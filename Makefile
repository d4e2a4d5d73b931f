.PHONY: demo app serve eval test lint bench neo4j
demo:  ## set up and run the main job on embedded defaults
	bash scripts/demo.sh
app:  ## the chat app on http://127.0.0.1:8501 (after make demo)
	.venv/bin/python -m streamlit run apps/chat.py
serve:  ## the REST API on http://127.0.0.1:8000 (docs at /docs)
	.venv/bin/python -m rag serve
neo4j:  ## a local Neo4j 5 on bolt://127.0.0.1:7687 without Docker (JDK + Maven; NEO4J_PASSWORD, default powerhouse-rag)
	.venv/bin/python scripts/neo4j/neo4j_local.py --home .rag/neo4j --port 7687
eval:  ## the nightly answer evaluation (configs/eval.yaml)
	.venv/bin/python -m eval run
test:  ## set up and run the whole test suite
	bash scripts/test.sh
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
bench:
	.venv/bin/python bench/ingest_bench.py

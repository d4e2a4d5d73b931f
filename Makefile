.PHONY: demo app serve eval test lint bench
demo:  ## set up and run the main job on embedded defaults
	bash scripts/demo.sh
app:  ## the chat app on http://127.0.0.1:8501 (after make demo)
	.venv/bin/python -m streamlit run apps/chat.py
serve:  ## the REST API on http://127.0.0.1:8000 (docs at /docs)
	.venv/bin/python -m rag serve
eval:  ## the nightly answer evaluation (configs/eval.yaml)
	.venv/bin/python -m eval run
test:  ## set up and run the whole test suite
	bash scripts/test.sh
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
bench:
	.venv/bin/python bench/ingest_bench.py

.PHONY: demo test lint bench
demo:  ## set up and run the main job on embedded defaults
	bash scripts/demo.sh
test:  ## set up and run the whole test suite
	bash scripts/test.sh
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
bench:
	.venv/bin/python bench/ingest_bench.py

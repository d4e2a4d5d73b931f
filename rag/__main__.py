"""`python -m rag`: the entry point only. The commands live above the service (apps/cli.py), since `serve` starts
the REST API; this module is the one place the library names them (an import-linter exception)."""

from apps.cli import app

app(prog_name="python -m rag")

"""The issue's folder of the files people keep — a scanned memo, a whiteboard photo, a receipt, slides, a
workbook, an e-mail with an attachment, an e-book, OpenDocument and RTF text — ingested by the CLI as a user
runs it, and each fact that only one file states found by what `rag search` runs (tests/integration/test_cli.py
covers the command itself)."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.support.office_files import office_folder

pytestmark = pytest.mark.slow

QUESTIONS = {
    "memo.pdf": ("When does the warehouse in Tromso reopen?", "reopens on 9 June"),
    "whiteboard.png": ("What is the sprint goal?", "offline installer"),
    "receipt.jpg": ("What was the total on the bakery receipt?", "TOTAL 47.80"),
    "deck.pptx": ("What is the launch date?", "14 March 2025"),
    "book.xlsx": ("How many units were sold in Lisbon?", "Lisbon | 8812"),
    "mail.eml": ("When does the contract renew?", "renews on 30 November"),
    "book.epub": ("What was the lighthouse keeper called?", "Oskar Lindqvist"),
    "notes.odt": ("When does the Vienna office open?", "07:45"),
    "letter.rtf": ("What is my policy number?", "PX-20931"),
}


def run(*args, cwd, env):
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def squashed(text: str) -> str:
    return "".join(text.lower().split())


def test_a_real_document_folder_ingests_every_file_and_each_fact_is_found(tmp_path, monkeypatch, embedder):
    from rag.config import load_config
    from rag.documents import location
    from rag.search import search

    folder = office_folder(tmp_path / "folder")
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAG__STORE__PATH": str(tmp_path / "store")}
    report = tmp_path / "report.json"
    ingest = run("ingest", str(folder), "--report", str(report), cwd=tmp_path, env=env)
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    outcome = json.loads(report.read_text())
    assert outcome["counts"]["new"] == len(QUESTIONS) and outcome["counts"]["failed"] == 0
    monkeypatch.setenv("RAG__STORE__PATH", str(tmp_path / "store"))
    settings = load_config()
    for name, (question, fact) in QUESTIONS.items():  # what `rag search` runs, with the model loaded once
        top = search(settings, question, k=3, embedder=embedder)[0]
        assert top.metadata["source"] == f"folder/{name}", (question, top.metadata["source"])
        assert squashed(fact) in squashed(top.text), (question, top.text)
        if name == "mail.eml":
            assert location(top.metadata) == "folder/mail.eml · attachment terms.txt"
        if name == "memo.pdf":
            assert location(top.metadata) == "folder/memo.pdf · page 2"  # the scan's second page, cited as such

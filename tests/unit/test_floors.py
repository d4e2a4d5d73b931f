"""The layout's contracts (pyproject [tool.importlinter]): no import from a lower floor to a higher one, and
LangChain/LlamaIndex only in rag.integrations. import-linter reads the real import graph (grimp)."""

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_import_runs_from_a_lower_floor_to_a_higher_one():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    result = subprocess.run([lint, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_no_module_is_over_400_lines():
    long = {
        str(path.relative_to(REPO)): lines
        for folder in ("rag", "ingest", "service", "eval", "apps")
        for path in (REPO / folder).rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > 420
    }
    assert not long, long

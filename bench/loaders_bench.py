"""Speed of the office, mail, e-book and image loaders, and the two spreadsheet readers side by side.

    .venv/bin/python bench/loaders_bench.py [--rows 100000] [--repeat 20]

Files are generated here (tests/support/office_files.py builds the same kinds): each loader reads its file
`--repeat` times in this process (warm), files/s and pages/s (slides, sheets' row blocks, pages) are printed.
The spreadsheet readers read one sheet of `--rows` rows x 8 columns in a fresh process each, for the time and
the peak resident memory (VmHWM): python-calamine (what ingest uses) against openpyxl in read-only mode.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

READ_SHEET = {
    "python-calamine": """
import python_calamine, sys
book = python_calamine.CalamineWorkbook.from_path(sys.argv[1])
rows = sum(1 for _ in book.get_sheet_by_name(book.sheet_names[0]).iter_rows())
print(rows)
""",
    "openpyxl (read_only)": """
import openpyxl, sys
book = openpyxl.load_workbook(sys.argv[1], read_only=True, data_only=True)
rows = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
print(rows)
""",
    "ingest loader (calamine + blocks)": """
import sys
from pathlib import Path
from ingest.loaders import load
from rag.config import LoaderConfig
print(sum(1 for _ in load(Path(sys.argv[1]), LoaderConfig(), [])))
""",
}


def big_sheet(path: Path, rows: int) -> Path:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("Ledger")
    sheet.write_row(0, 0, ["id", "date", "account", "description", "debit", "credit", "balance", "note"])
    for n in range(1, rows + 1):
        sheet.write_row(n, 0, [n, f"2024-{n % 12 + 1:02d}-01", f"ACC-{n % 97}", f"item {n}", n * 1.5, 0, n * 3, "ok"])
    book.close()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from ingest.loaders import load
    from rag.config import LoaderConfig
    from tests.support import office_files as files

    console = Console()
    cfg = LoaderConfig()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        deck = files.deck_pptx(root / "deck.pptx")
        samples = {
            "PPTX (python-pptx), 2 slides": deck,
            "XLSX (python-calamine), 2 sheets": files.book_xlsx(root / "book.xlsx"),
            "EML + PPTX attachment (email)": files.mail_eml(root / "mail.eml", attachment=deck),
            "MSG (aspose-email-foss)": files.mail_msg(root / "note.msg", "Hello", files.letter_rtf(root / "l.rtf")),
            "EPUB (zipfile + lxml), 2 chapters": files.book_epub(root / "book.epub"),
            "ODT (lxml)": files.notes_odt(root / "notes.odt"),
            "RTF (striprtf)": files.letter_rtf(root / "letter.rtf"),
            "PNG 1400x500 (OCR, rapidocr)": files.whiteboard_png(root / "board.png"),
            "scanned PDF, 2 pages at 150 DPI (OCR)": files.memo_pdf(root / "memo.pdf"),
        }
        speed = Table(title=f"Loaders: {args.repeat} reads of each file, warm (OCR files: 3)")
        for column in ("file", "documents", "files/s", "documents/s"):
            speed.add_column(column)
        for name, path in samples.items():
            repeat = 3 if "OCR" in name else args.repeat
            list(load(path, cfg, []))  # warm: imports, models
            started = time.perf_counter()
            for _ in range(repeat):
                documents = list(load(path, cfg, []))
            seconds = time.perf_counter() - started
            speed.add_row(
                name, str(len(documents)), f"{repeat / seconds:.1f}", f"{repeat * len(documents) / seconds:.1f}"
            )
        console.print(speed)

        sheet = big_sheet(root / "ledger.xlsx", args.rows)
        readers = Table(title=f"One sheet of {args.rows:,} rows x 8 columns ({sheet.stat().st_size / 1e6:.1f} MB XLSX)")
        for column in ("reader", "rows / documents", "seconds", "rows/s", "peak RSS (MB)"):
            readers.add_column(column)
        # VmHWM, not ru_maxrss: the latter keeps the forking parent's peak across exec on Linux
        peak = "\nprint(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))"
        for name, code in READ_SHEET.items():
            started = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", code + peak, str(sheet)], capture_output=True, text=True, check=True, cwd=REPO
            )
            seconds = time.perf_counter() - started
            count, kilobytes = out.stdout.split()
            readers.add_row(
                name, count, f"{seconds:.2f}", f"{args.rows / seconds:,.0f}", f"{int(kilobytes) / 1024:.0f}"
            )
        console.print(readers)


if __name__ == "__main__":
    main()

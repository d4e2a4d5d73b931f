"""Parse each file in a child process with a time and a memory budget, so a parser that spins or swells (a PDF
that loops, a zip bomb, a huge nested JSON) costs that one file, never the run.

One long-lived child per process (spawned, so it shares no threads or locks with the parent) runs the
loaders and streams their Documents back in batches. A parser silent for ``loaders.parse_timeout_s`` gets
its child killed and a fresh one for the next file. Memory is the memory the child really uses: a watchdog
thread reads its resident set (/proc, or psutil) every 50 ms and kills it past ``loaders.parse_memory_mb``;
the file is reported with the budget it broke. The address space (RLIMIT_AS, which counts every mapping —
libraries, thread stacks, allocator arenas — not memory used) is only a loose outer bound, four times the
budget plus 8 GB, so that one giant allocation fails at once instead of between two readings.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import multiprocessing.spawn
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.loaders import REGISTRY
from rag.config import LoaderConfig
from rag.errors import LoaderError

if TYPE_CHECKING:
    from ingest.splitters import Piece

_CONTEXT = multiprocessing.get_context("spawn")
_CHILD_NAME = "ingest-parser"


def _without_parent_main(get_preparation_data: Callable[[str], dict]) -> Callable[[str], dict]:
    """A spawned child re-imports the parent's ``__main__`` before it runs its target. Under ``streamlit run`` that
    module is the app script (Streamlit installs it as ``__main__``), so every parser child ran the whole app in
    bare mode: a second of imports and a flood of "missing ScriptRunContext" warnings per file. The parser needs
    nothing from ``__main__`` (its target lives here), so its children start without it."""

    def preparation_data(name: str) -> dict:
        data = get_preparation_data(name)
        if name == _CHILD_NAME:
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
        return data

    return preparation_data


if not getattr(multiprocessing.spawn.get_preparation_data, "_sandbox", False):
    multiprocessing.spawn.get_preparation_data = _without_parent_main(multiprocessing.spawn.get_preparation_data)
    multiprocessing.spawn.get_preparation_data._sandbox = True  # type: ignore[attr-defined]
_BATCH = 256  # documents per message from the parser
_PIECES = 512  # most pieces of one document per message
_GROUP, _GROUP_CHARS = 64, 256_000  # small documents split together (one tokenizer call), at most
_WATCH_S = 0.05  # how often the watchdog reads the child's resident memory
_EXIT_S = 2.0  # how long a closed parser gets to exit on its own before it is killed
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def outer_bound_mb(memory_mb: int) -> int:
    """The child's address-space cap: loose, so mappings never count against a file (see the docstring)."""
    return max(4 * memory_mb, memory_mb + 8192)


def resident_mb(pid: int) -> float | None:
    """The resident memory of process `pid` in MB (None when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * _PAGE / 2**20
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except Exception:
        return None


@dataclass(frozen=True)
class SplitPlan:
    """What the child needs to split the documents it parses, so splitting runs beside the parent's embedding and
    store writes instead of competing with them for the interpreter: the splitter's settings, the embedding model's
    tokenizer (a picklable ``tokenizers.Tokenizer``) and window. ``key`` names the plan: it crosses once per child."""

    key: str
    cfg: dict
    tokenizer: Any
    max_tokens: int
    keyword_terms: bool = False  # also the keyword index's tokens of each piece (rag.stores.keyword.chunk_terms)


def _serve(connection: Any, memory_mb: int) -> None:
    """The child: cap memory, then parse (and, given a split plan, split) the files the parent sends until the pipe
    closes."""
    import resource

    from ingest.loaders import load, page_progress, register
    from ingest.splitters import Splitter
    from rag.config import SplitterConfig

    if memory_mb:
        limit = outer_bound_mb(memory_mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    splitters: dict[str, Splitter] = {}
    with_terms: dict[str, Callable[[Runs], None] | None] = {}
    while True:
        try:
            path, cfg, entry, split = connection.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if entry:  # a loader registered in the parent (a plugin) is registered here too
            register(Path(path).suffix, entry)
        splitter, termed = None, None
        if split is not None:
            key, plan = split
            if plan is not None:
                splitters[key] = Splitter.from_tokenizer(SplitterConfig.model_validate(plan.cfg), plan.tokenizer,
                                                         plan.max_tokens)  # fmt: skip
                with_terms[key] = _keyword_terms() if plan.keyword_terms else None
            splitter, termed = splitters[key], with_terms[key]
        warnings: list[str] = []
        try:
            batch: list[Any] = []
            waiting: list[Any] = []  # small documents split together: one tokenizer call for all of them
            with page_progress(lambda done, total: connection.send(("pages", (done, total), []))):
                for document in load(Path(path), LoaderConfig.model_validate(cfg), warnings):
                    if splitter is None:
                        batch.append(document)
                    elif len(document.text) <= _GROUP_CHARS:
                        waiting.append(document)
                        if len(waiting) >= _GROUP or sum(len(d.text) for d in waiting) > _GROUP_CHARS:
                            batch += _split_together(splitter, termed, waiting)
                            waiting = []
                    else:  # the pieces carry the text: the document goes back without it, in runs of pieces
                        batch += _split_together(splitter, termed, waiting)
                        waiting = []
                        head, pieces, previous_end = replace(document, text=""), [], None
                        for piece in splitter.split(document):
                            pieces.append(piece)
                            if len(pieces) >= _PIECES:  # a huge document streams too (and meets the chunk cap early)
                                previous_end = _termed(termed, pieces, previous_end)
                                connection.send(("documents", [*batch, (head, pieces)], []))
                                batch, pieces = [], []
                        _termed(termed, pieces, previous_end)
                        batch.append((head, pieces))
                    if len(batch) >= _BATCH:  # streamed: a large file never sits in either process whole
                        connection.send(("documents", batch, []))
                        batch = []
                if waiting:
                    batch += _split_together(splitter, termed, waiting)
            connection.send(("documents", batch, []))
            reply: tuple = ("done", None, warnings)
        except LoaderError as exc:
            reply = ("error", exc.reason, warnings)
        except MemoryError:
            reply = ("error", f"needed more memory than loaders.parse_memory_mb={memory_mb}", warnings)
        except Exception as exc:  # a loader bug: this file's problem, reported as such
            reply = ("error", f"could not be parsed ({exc.__class__.__name__}: {exc})", warnings)
        connection.send(reply)


Runs = list[tuple[list["Piece"], int | None]]  # runs of a document's consecutive pieces, each with where the
# piece before its first ended (None: the document's first)


def _keyword_terms() -> Callable[[Runs], None]:
    """Give pieces the keyword index's tokens, so the index is not tokenized in the parent at the end of the run
    (one tokenizer call for all the runs)."""
    from rag.stores.keyword import Tokenizer, chunk_terms, tail_of

    tokenize = Tokenizer()

    def give(runs: Runs) -> None:
        pieces, tails = [], []
        for run, previous_end in runs:
            ends = [previous_end, *(piece.end for piece in run[:-1])]
            pieces += run
            tails += [tail_of(piece.text, end, piece.start) for piece, end in zip(run, ends, strict=True)]
        for piece, terms in zip(pieces, chunk_terms([piece.text for piece in pieces], tails, tokenize), strict=True):
            piece.terms = terms

    return give


def _split_together(splitter: Any, termed: Callable[[Runs], None] | None, documents: list[Any]) -> list[tuple]:
    """(document without its text, its pieces) for small documents, tokenized in one call (and given their
    keyword terms in one more)."""
    if not documents:
        return []
    splitter.prefetch(documents)
    done = [(replace(document, text=""), list(splitter.split(document))) for document in documents]
    if termed is not None:
        termed([(pieces, None) for _, pieces in done])
    return done


def _termed(give: Callable[[Runs], None] | None, pieces: list[Piece], previous_end: int | None) -> int | None:
    """Pieces given their terms when the plan asks for them; the end of the last one (the next run's start)."""
    if give is not None and pieces:
        give([(pieces, previous_end)])
    return pieces[-1].end if pieces else previous_end


class ParseSandbox:
    """Loaders in a budgeted child process; ``load`` has the signature of ``ingest.loaders.load``, plus the page
    progress of a long file (``on_pages(done, total)``). A page reported is progress: the time budget counts from
    the last message, so an OCR'd scan has ``parse_timeout_s`` per page."""

    def __init__(self, timeout_s: float, memory_mb: int):
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self._process: Any = None
        self._connection: Any = None
        self._lock = threading.Lock()
        self._over: float | None = None  # the resident MB at which the watchdog stopped the child
        self._plans: set[str] = set()  # the split plans the current child holds

    def load(
        self,
        path: Path,
        cfg: LoaderConfig,
        warnings: list[str],
        on_pages: Callable[[int, int], None] | None = None,
        split: SplitPlan | None = None,
    ) -> Iterator[Any]:
        """The file's Documents; with `split`, (Document, its pieces) pairs, split in the child."""
        with self._lock:  # one file at a time per child
            connection = self._child()
            entry = REGISTRY.get(path.suffix.lower())
            plan = None
            if split is not None:
                plan = (split.key, None if split.key in self._plans else split)
                self._plans.add(split.key)
            connection.send((str(path), cfg.model_dump(by_alias=True), entry if isinstance(entry, str) else None, plan))
            finished = False
            try:
                while True:
                    status, payload, child_warnings = self._receive(connection, path)
                    if status == "documents":
                        yield from payload
                        continue
                    if status == "pages":
                        if on_pages is not None:
                            on_pages(*payload)
                        continue
                    finished = True
                    warnings.extend(child_warnings)
                    if status == "error":
                        raise LoaderError(str(path), payload)
                    return
            finally:
                if not finished:  # stopped early (a timeout, a dead parser, or the caller gave up): start afresh
                    self._stop()

    def warm(self) -> None:
        """Start the child now (its imports run on another core while the caller opens the store and the model),
        so the first file does not wait for them."""
        with self._lock:
            self._child()

    def _receive(self, connection: Any, path: Path) -> tuple:
        """The parser's next message; the budget counts only time spent waiting for it (the caller may be
        slower than the parser, e.g. while the embedder catches up)."""
        if not connection.poll(self.timeout_s):
            raise LoaderError(
                str(path),
                f"the parser made no progress for loaders.parse_timeout_s={self.timeout_s:g} s and was stopped",
            )
        try:
            return connection.recv()
        except (EOFError, OSError):
            if self._over is not None:
                raise LoaderError(
                    str(path),
                    f"the parser used {self._over:.0f} MB, more memory than loaders.parse_memory_mb={self.memory_mb}, "
                    "and was stopped",
                ) from None
            code = self._process.exitcode if self._process is not None else None
            raise LoaderError(
                str(path),
                f"the parser died (exit code {code}) — most likely over loaders.parse_memory_mb={self.memory_mb}",
            ) from None

    def _child(self) -> Any:
        if self._process is None or not self._process.is_alive():
            self._stop()
            parent, child = _CONTEXT.Pipe()
            self._process = _CONTEXT.Process(target=_serve, args=(child, self.memory_mb), name=_CHILD_NAME, daemon=True)
            self._process.start()
            child.close()
            self._connection = parent
            self._over = None
            self._plans = set()
            if self.memory_mb:
                watchdog = threading.Thread(
                    target=self._watch, args=(self._process,), name="ingest-parser-watchdog", daemon=True
                )
                watchdog.start()
        return self._connection

    def _watch(self, process: Any) -> None:
        """Kill `process` when its resident memory passes the budget (it then reads as a dead parser)."""
        while process.is_alive():
            used = resident_mb(process.pid)
            if used is not None and used > self.memory_mb:
                self._over = used
                process.kill()
                return
            process.join(_WATCH_S)

    def _stop(self, wait: float = 0.0) -> None:
        """Stop the child: at once (stopped mid-file, hung, dead), or given `wait` seconds to exit on its own first."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._process is not None:
            with contextlib.suppress(ValueError, AssertionError):  # a child that never started has nothing to stop
                if wait:  # the closed pipe ends an idle child's loop: it exits and frees what it holds (semaphores)
                    self._process.join(timeout=wait)
                if self._process.is_alive():
                    self._process.kill()
                self._process.join(timeout=5)
            self._process = None

    def close(self) -> None:
        """The run is over: an idle child exits on its own (killed, it would leave its semaphores to the resource
        tracker, which warns of them at exit); one still busy after `_EXIT_S` is killed."""
        self._stop(_EXIT_S)


_SANDBOXES: dict[tuple[float, int], ParseSandbox] = {}


def sandbox_for(cfg: LoaderConfig) -> ParseSandbox | None:
    """This process's sandbox for the budgets in ``cfg`` (None when ``loaders.sandbox`` is off)."""
    if not cfg.sandbox:
        return None
    key = (cfg.parse_timeout_s, cfg.parse_memory_mb)
    if key not in _SANDBOXES:
        _SANDBOXES[key] = ParseSandbox(*key)
    return _SANDBOXES[key]


@atexit.register
def _close_all() -> None:
    for sandbox in _SANDBOXES.values():
        sandbox.close()

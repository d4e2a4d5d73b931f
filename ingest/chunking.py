"""Files → chunks with stable ids and metadata: the loaders (in the parse sandbox), then the splitter. What every
ingest engine runs per file — the local pipeline's loader thread, a Ray worker."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.discover import SourceFile
from ingest.loaders import load, page_progress
from ingest.sandbox import SplitPlan, sandbox_for
from ingest.splitters import Splitter
from rag.config import Settings
from rag.documents import Chunk, Document, chunk_id, content_hash
from rag.embeddings import Embedder
from rag.errors import LoaderError


@dataclass
class Job:
    """One file to (re-)ingest, with what the manifest knew of it."""

    file: SourceFile
    file_hash: str
    status: str  # "new" or "changed"
    access: str = "*"  # who may read its chunks (rag/stores/restricted.py: "*" or "group,group")
    old_ids: set[str] = field(default_factory=set)
    new_ids: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    resumed: bool = False  # a killed run's staged chunks are among old_ids (reused, the rest deleted at commit)
    moved_from: str | None = None  # the file's older source id (its vectors are reused; that id is removed)


class ChunkMaker:
    """Files → chunks with stable ids and metadata: what every engine runs per file (here, or in a Ray worker)."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        ingested_at: str | None = None,
        on_pages: Callable[[str, int, int], None] | None = None,
    ):
        self.settings = settings
        self.embedder = embedder
        self.on_pages = on_pages
        self.splitter = Splitter(
            settings.splitter, embedder.count_tokens, embedder.max_tokens, getattr(embedder, "token_starts", None)
        )
        self.ingested_at = ingested_at or datetime.now(UTC).isoformat(timespec="seconds")

    def chunks(self, job: Job):
        """A file's chunks with their ids and metadata (the loaders, then the splitter)."""
        source = job.file.source
        occurrences: Counter[str] = Counter()
        index = 0
        document: Document
        cap = self.settings.ingest.max_chunks_per_file
        for document, pieces in self._split_documents(job):
            for piece in pieces:
                if index >= cap:
                    raise LoaderError(
                        str(job.file.path),
                        f"makes more than {cap} chunks (ingest.max_chunks_per_file): split the file, or raise the cap",
                    )
                context = self._context_header(source, document.metadata, piece)
                text_hash = content_hash(f"{context}\n{piece.text}" if context else piece.text)
                occurrence = occurrences[text_hash]
                occurrences[text_hash] += 1
                metadata = {
                    "title": Path(source).stem,
                    **document.metadata,
                    "source": source,
                    "file_type": job.file.path.suffix.lower().lstrip("."),
                    "chunk_index": index,
                    "start": piece.start,
                    "end": piece.end,
                    "file_hash": job.file_hash,
                    "chunk_hash": text_hash,
                    "ingested_at": self.ingested_at,
                    "access": job.access,
                }
                if piece.section:
                    metadata["section"] = piece.section
                if piece.table_header:
                    metadata["table_header"] = piece.table_header
                if context:
                    metadata["context"] = context
                yield Chunk(
                    id=chunk_id(source, text_hash, occurrence), text=piece.text, metadata=metadata, terms=piece.terms
                )
                index += 1

    def _split_documents(self, job: Job):
        """(document, its pieces) for each document of the file: parsed and split in the parse child when there is
        one (splitting then runs beside this process's embedding and writes), else here."""
        pages = (lambda done, total: self.on_pages(job.file.source, done, total)) if self.on_pages else None
        sandbox = sandbox_for(self.settings.loaders)
        if sandbox is not None:
            plan = self._split_plan()
            found = sandbox.load(job.file.path, self.settings.loaders, job.warnings, pages, plan)
            yield from (found if plan is not None else ((d, self.splitter.split(d)) for d in found))
            return
        with page_progress(pages):
            for document in load(job.file.path, self.settings.loaders, job.warnings):
                yield document, self.splitter.split(document)

    def _split_plan(self) -> SplitPlan | None:
        """What the parse child splits with: the embedder's own tokenizer (None for a model without one, such as a
        remote API's, whose tokens are estimated here)."""
        tokenizer = getattr(self.embedder, "tokenizer", None)
        if tokenizer is None:
            return None
        cfg = self.settings.splitter.model_dump()
        terms = self.settings.store.bm25.enabled  # the keyword index's tokens made there too
        key = f"{self.embedder.name}|{self.embedder.max_tokens}|{sorted(cfg.items())}|{terms}"
        return SplitPlan(key, cfg, tokenizer(), self.embedder.max_tokens, terms)

    def _context_header(self, source: str, metadata: dict, piece: Any) -> str:
        """The contextual header indexed with a chunk: a real title (not just the file name), the section path,
        and the header rows of a table the chunk continues; "" when the splitter settings ask for none."""
        cfg = self.settings.splitter
        parts = []
        if cfg.context_header:
            stem = Path(source).stem
            title = str(metadata.get("title") or "")
            # a file's own title, or its name with the separators as spaces: "AMAZON_2017_10K" names the filing
            parts.append(title if title and title != stem else re.sub(r"[_\-.]+", " ", stem).strip())
            section = piece.section or str(metadata.get("section") or "")
            if section and section != title:
                parts.append(section)
        if cfg.table_header and piece.table_header:
            parts.append(piece.table_header)
        return "\n".join(parts)

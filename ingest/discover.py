"""Find the files to ingest under the given paths, with include/exclude globs."""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from ingest.loaders import is_supported
from rag.config import LoaderConfig


@dataclass
class SourceFile:
    """A file to ingest; `source` is its path relative to the ingest root (POSIX form)."""

    path: Path
    source: str


@dataclass
class Discovery:
    files: list[SourceFile] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    scanned: list[Path] = field(default_factory=list)  # absolute roots and files, for pruning


def discover(paths: list[str | Path], cfg: LoaderConfig) -> Discovery:
    """Walk folders recursively; a folder is the root of its files, a file's root is its folder."""
    found = Discovery()
    seen: dict[str, Path] = {}
    for given in paths:
        path = Path(given).expanduser().resolve()
        if not path.exists():
            found.missing.append(str(given))
            continue
        found.scanned.append(path)
        candidates = sorted(p for p in path.rglob("*") if p.is_file() or p.is_symlink()) if path.is_dir() else [path]
        root = path if path.is_dir() else path.parent
        for file in candidates:
            relative = file.relative_to(root).as_posix()
            if path.is_dir() and not _selected(relative, cfg):
                continue
            if not file.is_file():  # a link to a folder is not followed; a dangling or looping one is reported
                if not file.exists():
                    found.missing.append(f"{relative} (a symbolic link that loops or points nowhere)")
                continue
            if not is_supported(file):
                found.unsupported.append(relative)
                continue
            if relative in seen:
                if seen[relative] != file:
                    found.missing.append(f"{file} (same relative name as {seen[relative]}; ingest separately)")
                continue
            seen[relative] = file
            found.files.append(SourceFile(path=file, source=relative))
    return found


def _selected(relative: str, cfg: LoaderConfig) -> bool:
    return any(fnmatch(relative, pattern) for pattern in cfg.include) and not any(
        fnmatch(relative, pattern) for pattern in cfg.exclude
    )

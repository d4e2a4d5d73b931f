"""Find the files to ingest under the given paths, with include/exclude globs.

A file's source id is ``<root label>/<path relative to the root>``: the label is the root folder's name (made
unique per store by the manifest), so two folders that both hold ``README.md`` never overwrite each other.
Symbolic links inside a folder are not followed unless ``loaders.follow_symlinks`` says so, and even then never
out of the folder: each skipped link is reported with the reason.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from ingest.loaders import is_supported
from rag.config import LoaderConfig


@dataclass
class SourceFile:
    """A file to ingest; `source` is its id: root label + path relative to the root (POSIX form)."""

    path: Path
    source: str


@dataclass
class Discovery:
    files: list[SourceFile] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "name (reason)": links not followed
    scanned: list[Path] = field(default_factory=list)  # absolute roots and files, for pruning


def folder_label(root: Path) -> str:
    """A root's label before the manifest makes it unique: the folder's own name."""
    return safe_id(root.name) or "root"


def safe_id(text: str) -> str:
    """`text` with control, format (bidi) and line-separator characters escaped as ``\\uXXXX``: an id or a name
    that cannot reorder or break the line it is shown on."""
    return "".join(
        f"\\u{ord(char):04x}" if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") else char for char in text
    )


def discover(paths: list[str | Path], cfg: LoaderConfig, label: Callable[[Path], str] = folder_label) -> Discovery:
    """Walk folders recursively; a folder is the root of its files, a file's root is its folder.
    `label(root)` names a root in source ids (the manifest passes one that is unique per store)."""
    found = Discovery()
    seen: dict[str, Path] = {}
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            found.missing.append(str(given))
            continue
        path = path.resolve()  # a path the user names is theirs to name, link or not
        found.scanned.append(path)
        root = path if path.is_dir() else path.parent
        prefix = label(root)
        candidates = _walk(root, cfg, found) if path.is_dir() else [(path, path.name)]
        for file, relative in candidates:
            if path.is_dir() and not _selected(relative, cfg):
                continue
            if not is_supported(file):
                found.unsupported.append(safe_id(relative))
                continue
            source = f"{prefix}/{safe_id(relative)}"
            if source in seen:
                if seen[source] != file:
                    found.missing.append(f"{file} (same source id as {seen[source]}; ingest separately)")
                continue
            seen[source] = file
            found.files.append(SourceFile(path=file, source=source))
    return found


def _walk(root: Path, cfg: LoaderConfig, found: Discovery) -> list[tuple[Path, str]]:
    """(path, relative name) of the files under `root`, sorted; links handled as ``loaders.follow_symlinks`` says."""
    files: list[tuple[Path, str]] = []
    visited: set[Path] = {root}
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(folder)
        for name in sorted(dirnames):
            link = here / name
            relative = link.relative_to(root).as_posix()
            if _excluded_folder(relative, cfg):  # .git, __pycache__, …: not even walked
                dirnames.remove(name)
                continue
            if not link.is_symlink():
                continue
            dirnames.remove(name)
            target = _inside(link, root, cfg, found, relative)
            if target is not None and target not in visited:
                visited.add(target)
                files.extend(
                    (file, f"{relative}/{inner}")
                    for file, inner in _walk_linked(target, root, cfg, found, relative, visited)
                )
        for name in filenames:
            file = here / name
            relative = file.relative_to(root).as_posix()
            if file.is_symlink():
                if not _selected(relative, cfg):
                    continue
                target = _inside(file, root, cfg, found, relative)
                if target is None:
                    continue
                if not target.is_file():
                    found.skipped.append(f"{safe_id(relative)} (a link to something that is not a file)")
                    continue
                file = target
            files.append((file, relative))
    return sorted(files, key=lambda item: item[1])


def _walk_linked(
    target: Path, root: Path, cfg: LoaderConfig, found: Discovery, relative: str, visited: set[Path]
) -> list[tuple[Path, str]]:
    """The files of a linked folder (follow_symlinks on, target inside the root), named under the link."""
    inner: list[tuple[Path, str]] = []
    for file, name in _walk(target, cfg, found):
        resolved = file.resolve()
        if resolved != root and root not in resolved.parents:
            found.skipped.append(f"{safe_id(relative)}/{safe_id(name)} (a symbolic link out of the ingest folder)")
            continue
        inner.append((file, name))
    return inner


def _inside(link: Path, root: Path, cfg: LoaderConfig, found: Discovery, relative: str) -> Path | None:
    """The target of `link` when it may be followed; None (and the reason recorded) otherwise."""
    name = safe_id(relative)
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):
        found.missing.append(f"{name} (a symbolic link that loops or points nowhere)")
        return None
    if target != root and root not in target.parents:
        found.skipped.append(f"{name} (a symbolic link to {target}, outside the ingest folder: never followed)")
        return None
    if not cfg.follow_symlinks:
        found.skipped.append(f"{name} (a symbolic link; loaders.follow_symlinks: true follows links inside the folder)")
        return None
    return target


def _excluded_folder(relative: str, cfg: LoaderConfig) -> bool:
    """True when an exclude pattern takes every file under the folder (checked with a name no file has)."""
    return any(fnmatch(f"{relative}/\x00", pattern) for pattern in cfg.exclude)


def _selected(relative: str, cfg: LoaderConfig) -> bool:
    return any(fnmatch(relative, pattern) for pattern in cfg.include) and not any(
        fnmatch(relative, pattern) for pattern in cfg.exclude
    )

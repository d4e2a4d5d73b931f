"""Office files, e-books and OpenDocument files are zip archives: checked before any parser opens one."""

from __future__ import annotations

import zipfile
from pathlib import Path

from rag.config import LoaderConfig
from rag.errors import LoaderError


def check_zip(path: Path, cfg: LoaderConfig, kind: str) -> None:
    """Refuse a file that is not a zip, or that would unpack past loaders.max_file_mb (a zip bomb), before a
    parser inflates it. `kind` names the format in the message ("PowerPoint file")."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise LoaderError(str(path), f"not a readable {kind} (not a zip archive: {exc})") from None
    if unpacked > cfg.max_file_mb * 1024 * 1024:
        raise LoaderError(
            str(path),
            f"unpacks to {unpacked / 1e6:.0f} MB, over loaders.max_file_mb={cfg.max_file_mb:g} (a zip bomb?)",
        )

"""A file type defined outside the package: `.recipe` files ("Title: …" then "- ingredient" lines), one Document per
recipe with its title as metadata. One function, then ``ingest.loaders.register(".recipe", "…:load_recipe")``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rag.config import LoaderConfig
from rag.documents import Document
from rag.errors import LoaderError


def load_recipe(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or not lines[0].startswith("Title:"):
        raise LoaderError(str(path), "not a recipe: the first line must be 'Title: …'")
    title = lines[0].removeprefix("Title:").strip()
    ingredients = [line[2:] for line in lines[1:] if line.startswith("- ")]
    yield Document(text=f"{title}\n\nIngredients: {', '.join(ingredients)}.", metadata={"title": title})

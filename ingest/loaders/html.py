"""HTML: the main text as Markdown (headings kept as structure); scripts, styles and navigation dropped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ingest.loaders.encoding import read_text
from rag.config import LoaderConfig
from rag.documents import Document

_DROP_TAGS = [
    "script",
    "style",
    "noscript",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "iframe",
    "svg",
    "button",
    "template",
    "link",
    "meta",
]
# Chrome that pages mark with roles or common class/id names (navigation, menus, edit links).
_DROP_SELECTORS = [
    "[role=navigation]",
    "[role=banner]",
    "[role=contentinfo]",
    "[aria-hidden=true]",
    ".mw-editsection",
    ".navbox",
    ".sidebar",
    ".reflist",
    "#toc",
    ".toc",
    ".mw-jump-link",
    ".noprint",
]
_MAIN_SELECTORS = ["main", "article", "[role=main]", "#mw-content-text", "#content", "body"]
_BLANK_RUNS = re.compile(r"\n{3,}")


def load_html(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    title, markdown = html_to_markdown(read_text(path))
    yield Document(text=markdown, metadata={"title": title or path.stem}, format="markdown")


def html_to_markdown(markup: str) -> tuple[str, str]:
    """(title, the main text as Markdown) of an HTML page; the title is "" when the page names none. Mail
    bodies and e-book chapters go through here too."""
    import warnings as python_warnings

    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning
    from markdownify import MarkdownConverter

    with python_warnings.catch_warnings():
        python_warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)  # XHTML pages parse fine as HTML
        soup = BeautifulSoup(markup, "lxml")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for selector in _DROP_SELECTORS:
        for tag in soup.select(selector):
            tag.decompose()
    main = next((found for selector in _MAIN_SELECTORS if (found := soup.select_one(selector))), soup)
    converter = MarkdownConverter(heading_style="ATX", bullets="-", strip=["a", "img"], escape_misc=False)
    markdown = _BLANK_RUNS.sub("\n\n", converter.convert_soup(main)).strip()
    if not title:
        heading = soup.find(["h1", "h2"])
        title = heading.get_text(" ", strip=True) if heading else ""
    return title, markdown

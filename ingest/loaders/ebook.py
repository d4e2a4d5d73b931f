"""EPUB: the chapters in reading order (the package's spine), each through the HTML loader, headings kept as
sections. An EPUB is a zip of XHTML files plus a package document; read with zipfile and lxml (EbookLib is AGPL)."""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from pathlib import Path

from ingest.loaders.archive import check_zip
from rag.config import LoaderConfig
from rag.documents import Document
from rag.errors import LoaderError

_CONTAINER = "META-INF/container.xml"
_NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
}


def load_epub(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    from lxml import etree

    from ingest.loaders.encoding import decode
    from ingest.loaders.html import html_to_markdown

    check_zip(path, cfg, "e-book")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    with zipfile.ZipFile(path) as book:
        try:
            container = etree.fromstring(book.read(_CONTAINER), parser)
            package_path = container.find(".//c:rootfile", _NS).get("full-path")
            package = etree.fromstring(book.read(package_path), parser)
        except (KeyError, AttributeError, etree.XMLSyntaxError) as exc:
            raise LoaderError(str(path), f"not a readable EPUB (no package document: {exc})") from None
        title = " ".join(package.findtext(".//dc:title", default="", namespaces=_NS).split()) or path.stem
        base = posixpath.dirname(package_path)
        items = {
            item.get("id"): item.get("href")
            for item in package.iterfind(".//opf:manifest/opf:item", _NS)
            if "html" in (item.get("media-type") or "")
        }
        chapter = 0
        for reference in package.iterfind(".//opf:spine/opf:itemref", _NS):
            href = items.get(reference.get("idref"))
            if href is None:
                continue
            name = posixpath.normpath(posixpath.join(base, href.split("#")[0]))
            try:
                markup = decode(book.read(name), path)
            except KeyError:
                warnings.append(f"chapter {name} is listed but missing from the book")
                continue
            heading, text = html_to_markdown(markup)
            if not text.strip():
                continue
            chapter += 1
            metadata = {"title": title, "chapter": chapter}
            if heading:
                metadata["chapter_title"] = heading
            yield Document(text=text, metadata=metadata, format="markdown")

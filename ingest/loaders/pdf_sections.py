"""The section path of each PDF page: from the outline (bookmarks) where the file has one, else from its headings.

A filing has no outline as often as not (4 of the 24 FinanceBench filings have one), but its structure is printed:
"Item 7. Management's Discussion …" starts a part that runs until the next item, a statement page is titled
("Consolidated Statements of Cash Flows", often broken over two lines by the text layer: "CONSOLIDATED STATEME" /
"NTS OF …"), and the notes are numbered ("NOTE 10. Income Taxes"). A page's path is its item and, under it, the
statement it holds or the note it is in: "Item 8. Financial Statements and Supplementary Data > Consolidated
Statement of Cash Flows". The chunks of the page carry it (metadata ``section``; with ``splitter.context_header``
it is indexed with them), so a question about "the cash flow statement" finds the statement's second half too.
"""

from __future__ import annotations

import re

_DASH = r"[.:\-–—]"
_ITEM = re.compile(rf"^(?:PART\s+[IV]+\W{{1,3}})?ITEM\s+(\d{{1,2}}(?:\.\d{{2}})?[A-C]?)\s*{_DASH}?\s*(.*)$", re.I)
_NOTE = re.compile(rf"^NOTE\s+(\d{{1,2}})\s*{_DASH}?\s*(.*)$", re.I)
# letters only, lower case: "CONSOLIDATED STATEME" + "NTS OF CASH FLOWS(in millions)" -> "consolidatedstatementsof..."
_STATEMENT = re.compile(
    r"(?:consolidated|combined|condensed|and)+(?:statements?of(?:income|operations|earnings|cashflows?"
    r"|comprehensive(?:income|loss|earnings)|financialposition|(?:changesin)?(?:stockholders|shareholders"
    r"|shareowners|shareholder|stockholder)?['’]?s?(?:equity|deficit))|balancesheets?)"
)
_STATEMENT_TAIL = re.compile(r"(?:continued|unaudited|in(?:millions|thousands|billions)\w*|[a-z]{0,3})")
_TOC = 4  # this many item or note headings on one page: a table of contents, not a heading
_HEADING_CHARS = 100
_SHORTEST_PART = 200  # non-space characters: less is a running header or a heading alone, not a part
# the items of 10-K and 10-Q forms: a heading run into its first sentence ("Item 1. Business This Annual Report
# on Form 10-K …", as the text layer gives it) is cut after its known title
_ITEM_TITLES = (
    "Business",
    "Risk Factors",
    "Unresolved Staff Comments",
    "Cybersecurity",
    "Properties",
    "Legal Proceedings",
    "Mine Safety Disclosures",
    "Market for Registrant's Common Equity, Related Stockholder Matters and Issuer Purchases of Equity Securities",
    "Selected Financial Data",
    "Selected Consolidated Financial Data",
    "[Reserved]",
    "Management's Discussion and Analysis of Financial Condition and Results of Operations",
    "Quantitative and Qualitative Disclosures About Market Risk",
    "Financial Statements and Supplementary Data",
    "Financial Statements",
    "Changes in and Disagreements with Accountants on Accounting and Financial Disclosure",
    "Controls and Procedures",
    "Other Information",
    "Directors, Executive Officers and Corporate Governance",
    "Executive Compensation",
    "Security Ownership of Certain Beneficial Owners and Management and Related Stockholder Matters",
    "Certain Relationships and Related Transactions, and Director Independence",
    "Principal Accountant Fees and Services",
    "Principal Accounting Fees and Services",
    "Exhibits, Financial Statement Schedules",
    "Exhibits and Financial Statement Schedules",
    "Exhibits",
    "Form 10-K Summary",
    "Unregistered Sales of Equity Securities and Use of Proceeds",
    "Defaults Upon Senior Securities",
)


def page_sections(texts: list[str], outline: list[tuple[int, str]] | None = None) -> list[str]:
    """One section path per page: the one in force where the page ends ("" where none is known yet)."""
    if outline and len(outline) >= 3:
        return _from_outline(len(texts), outline)
    return [end for _, end in _from_headings(texts)]


def section_starts(texts: list[str], outline: list[tuple[int, str]] | None = None) -> list[list[tuple[int, str]]]:
    """For each page, (character offset, path) where a section starts in its text: the path carried in from the page
    before (with the page's statement title) at 0, then each item or note heading printed further down ("Item 3.
    Legal Proceedings" below the end of "Item 2. Properties"). A stretch under `_SHORTEST_PART` characters before a
    heading ("Table of Contents") goes with the heading; a short one after the page's last heading stays with it.
    `outline`: (0-based page, path) of each bookmark, in order; used instead of the headings where it has a few
    entries (one path per page)."""
    if outline and len(outline) >= 3:
        return [[(0, path)] for path in _from_outline(len(texts), outline)]
    return [starts for starts, _ in _from_headings(texts)]


def outline_entries(reader) -> list[tuple[int, str]]:
    """(0-based page, "Parent > Child") of each bookmark of a pypdf reader; [] where it has none or it is broken."""
    entries: list[tuple[int, str]] = []

    def walk(items, parents: tuple[str, ...]) -> None:
        last: tuple[str, ...] = parents
        for item in items:
            if isinstance(item, list):
                walk(item, last)
                continue
            title = _clean(str(getattr(item, "title", "") or ""))
            try:
                page = reader.get_destination_page_number(item)
            except Exception:  # a bookmark to nowhere: skipped
                continue
            if title and page is not None and page >= 0:
                last = (*parents, title)
                entries.append((page, " > ".join(last)))

    try:
        walk(reader.outline or [], ())
    except Exception:  # a damaged outline is no outline
        return []
    return entries


def _from_outline(pages: int, outline: list[tuple[int, str]]) -> list[str]:
    result, current, entries = [], "", sorted(outline, key=lambda entry: entry[0])
    position = 0
    for page in range(pages):
        while position < len(entries) and entries[position][0] <= page:
            current = entries[position][1]
            position += 1
        result.append(current)
    return result


def _from_headings(texts: list[str]) -> list[tuple[list[tuple[int, str]], str]]:
    """Each page's section starts, and the path in force where it ends."""
    item = note = ""
    result = []
    for text in texts:
        lines = _lines(text)
        plain = [line for _, line in lines]
        statement = _statement(plain[:8])
        starts = [(0, _path(item, statement or note))]
        items = [index for index, (_, line) in enumerate(lines) if _ITEM.match(line)]
        notes = {index for index, (_, line) in enumerate(lines) if _note(line)}
        headings = sorted({*(items if len(items) < _TOC else []), *(notes if len(notes) < _TOC else [])})
        for index in headings:
            offset, line = lines[index]
            if index in notes:
                note = _note(line)
            else:
                heading = _item(plain, index)
                if not heading:
                    continue
                item, note = heading, ""
            here = _path(item, statement or note)
            if len("".join(text[starts[-1][0] : offset].split())) < _SHORTEST_PART:  # only a running header above
                starts[-1] = (starts[-1][0], here)  # it: the heading's from there
            else:
                starts.append((offset, here))
        end = starts[-1][1]
        if len(starts) > 1 and len("".join(text[starts[-1][0] :].split())) < _SHORTEST_PART:
            starts[-2:] = [starts[-2]]  # a heading at the foot of the page: its few words stay with the part above
        result.append((starts, end))
    return result


def _path(*parts: str) -> str:
    return " > ".join(part for part in parts if part)


def _lines(text: str) -> list[tuple[int, str]]:
    """The non-empty lines with their offsets in `text`, a stray 1-2 letter fragment ("Consolidated Balance Shee" /
    "t") joined to the line above."""
    lines: list[tuple[int, str]] = []
    offset = 0
    for raw in text.splitlines(keepends=True):
        line = raw.strip()
        at = offset + len(raw) - len(raw.lstrip())
        offset += len(raw)
        if not line:
            continue
        if lines and re.fullmatch(r"[a-z]{1,2}[.:]?", line):
            lines[-1] = (lines[-1][0], lines[-1][1] + line)
        else:
            lines.append((at, line))
    return lines


def _item(lines: list[str], index: int) -> str:
    number, rest = _ITEM.match(lines[index]).groups()
    if len(rest) < 30 and index + 1 < len(lines) and len(lines[index + 1]) < _HEADING_CHARS:
        rest = f"{rest} {lines[index + 1]}".strip()  # "Item 7." / "Management's Discussion …" on the next line
    if rest and not rest[0].isupper() and not rest.startswith("["):
        return ""  # "Item 7A, as described …" is a reference, not a heading
    squeezed = _letters(rest)
    for title in _ITEM_TITLES:
        if squeezed.startswith(_letters(title)):
            return f"Item {number}. {title}"
    return _clean(f"Item {number}. {_words(rest, 8)}")


def _note(line: str) -> str:
    match = _NOTE.match(line)
    if not match or len(line) >= _HEADING_CHARS:
        return ""
    title = match.group(2)
    if not title[:1].isupper() or re.search(r"\d\s*$", title):  # "Note 12 for details"; a contents line "… 108"
        return ""
    return _clean(f"Note {match.group(1)}. {title}")


def _statement(lines: list[str]) -> str:
    """The financial statement a page is titled with in its first lines (one line, or two a word is broken over)."""
    for index in range(len(lines)):
        for count in (1, 2):
            joined = " ".join(lines[index : index + count])
            if len(joined) > _HEADING_CHARS:
                continue
            squeezed = _letters(joined)
            match = _STATEMENT.match(squeezed)
            if match and _STATEMENT_TAIL.fullmatch(squeezed[match.end() :]):
                return _statement_title(match.group(0))
    return ""


_STATEMENT_WORDS = sorted(
    [
        "consolidated",
        "combined",
        "condensed",
        "and",
        "statements",
        "statement",
        "of",
        "income",
        "operations",
        "earnings",
        "cash",
        "flows",
        "flow",
        "comprehensive",
        "loss",
        "financial",
        "position",
        "changes",
        "in",
        "stockholders",
        "shareholders",
        "shareowners",
        "shareholder",
        "stockholder",
        "equity",
        "deficit",
        "balance",
        "sheets",
        "sheet",
        "s",
        "'",
    ],
    key=len,
    reverse=True,
)


def _statement_title(squeezed: str) -> str:
    """ "consolidatedstatementsofcashflows" -> "Consolidated Statements of Cash Flows" (the words put back)."""
    words: list[str] = []
    while squeezed:
        word = next((w for w in _STATEMENT_WORDS if squeezed.startswith(w)), squeezed[0])
        if word in ("s", "'") and words:
            words[-1] += word
        else:
            words.append(word)
        squeezed = squeezed[len(word) :]
    return " ".join(w if w in ("of", "in", "and") else w.capitalize() for w in words)


def _letters(text: str) -> str:
    return re.sub(r"[^a-z\[\]]", "", text.lower().replace("’", "'"))


def _words(text: str, count: int) -> str:
    return " ".join(text.split()[:count])


def _clean(text: str) -> str:
    text = re.sub(r"\b([A-Za-z]{2,}) ([a-z])\b(?![\w&])", r"\1\2", text.strip())  # "Cash Flow s" -> "Cash Flows"
    return re.sub(r"\s+", " ", text)[:_HEADING_CHARS].rstrip(" .:")

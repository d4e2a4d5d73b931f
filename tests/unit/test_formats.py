"""The office, mail, e-book and rich-text loaders on files the tests build: what each file holds comes out as
text, with the metadata a user filters and cites by. (Images and scans: tests/integration/test_ocr.py.)"""

from email.message import EmailMessage

import pytest

from ingest.loaders import is_supported, load
from rag.config import LoaderConfig
from rag.documents import location
from rag.errors import LoaderError
from tests.support import office_files as files

CFG = LoaderConfig()


def docs(path, cfg=CFG, warnings=None):
    return list(load(path, cfg, warnings if warnings is not None else []))


def test_slides_one_document_per_slide_with_title_table_and_notes(tmp_path):
    first, second = docs(files.deck_pptx(tmp_path / "deck.pptx"))
    assert [first.metadata["page"], second.metadata["page"]] == [1, 2]
    assert second.metadata["slide"] == 2 and second.metadata["slide_title"] == "Timeline"
    assert first.metadata["title"] == second.metadata["title"] == "Product launch"  # the deck's title
    assert second.text.startswith("## Timeline")
    assert "Launch date 14 March 2025" in second.text
    assert "Ads | $5,000" in second.text.splitlines()  # a table row, cells separated
    assert second.text.endswith("Speaker notes: Remind the team that the venue is in Porto.")
    assert second.metadata["notes"] is True and "notes" not in first.metadata
    assert location({"source": "deck.pptx", **second.metadata}) == "deck.pptx · slide 2"


def test_sheets_repeat_the_header_read_cached_formulas_and_drop_empty_rows(tmp_path):
    path = files.book_xlsx(tmp_path / "book.xlsx")
    sales, staff = docs(path)
    assert sales.metadata == {"sheet": "Sales", "row": 2, "rows": "2-4"}
    assert sales.text.splitlines() == [
        "Sheet: Sales",
        "City | Units | Price | Revenue",
        "Oslo | 120 | 10 | 1200",
        "Lisbon | 8812 | 1 | 8812",  # the formula's cached value, as Excel saved it
        "Turin | 40 | 7 | 280",
    ]
    assert staff.metadata["rows"] == "4-4" and staff.text.splitlines()[1:] == ["Name | Role", "Ada | CTO"]
    one_per_block = docs(path, LoaderConfig(sheets={"rows_per_document": 1}))
    assert [d.text.splitlines()[1] for d in one_per_block[:3]] == ["City | Units | Price | Revenue"] * 3
    assert [d.metadata["row"] for d in one_per_block[:3]] == [2, 3, 4]
    assert location({"source": "b.xlsx", **sales.metadata}) == "b.xlsx · sheet Sales, rows 2-4"


def test_sheets_cap_the_rows_read_and_say_so(tmp_path):
    import xlsxwriter

    path = tmp_path / "long.xlsx"
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("Log")
    sheet.write_row(0, 0, ["n", "square"])
    for n in range(1, 5001):
        sheet.write_row(n, 0, [n, n * n])
    book.close()
    warnings = []
    documents = docs(path, LoaderConfig(sheets={"rows_per_document": 100, "max_rows": 1000}), warnings)
    assert len(documents) == 10 and documents[-1].metadata["rows"] == "902-1000"
    assert warnings == ["sheet 'Log': read the first 1000 rows (loaders.sheets.max_rows)"]


def test_opendocument_spreadsheet_through_the_same_loader(tmp_path):
    table = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    text = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"

    def cell(value):
        kind = 'office:value-type="float" office:value="{}"' if value.isdigit() else 'office:value-type="string"'
        return f"<table:table-cell {kind.format(value)}><text:p>{value}</text:p></table:table-cell>"

    def row(*cells):
        return f"<table:table-row>{''.join(cell(c) for c in cells)}</table:table-row>"

    content = (
        f'<?xml version="1.0"?><office:document-content xmlns:office="{office}" xmlns:table="{table}" '
        f'xmlns:text="{text}" office:version="1.3"><office:body><office:spreadsheet>'
        f'<table:table table:name="Budget">{row("Item", "Cost")}{row("Rent", "1200")}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    path = tmp_path / "budget.ods"
    path.write_bytes(
        files.zip_bytes(
            {
                "mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
                "content.xml": content.encode(),
                "META-INF/manifest.xml": manifest.encode(),
            }
        )
    )
    [budget] = docs(path)
    assert budget.metadata["sheet"] == "Budget"
    assert budget.text.splitlines()[1:] == ["Item | Cost", "Rent | 1200"]


def test_mail_headers_as_metadata_and_attachments_as_their_own_documents(tmp_path):
    deck = files.deck_pptx(tmp_path / "deck.pptx")
    mail, terms, *slides = docs(files.mail_eml(tmp_path / "mail.eml", attachment=deck))
    assert mail.metadata == {
        "subject": "Contract renewal",
        "from": "Ana Silva <ana@example.com>",
        "to": "legal@example.com",
        "date": "2024-10-01T10:00:00+00:00",
        "title": "Contract renewal",
    }
    assert "please review the attached terms before Friday." in mail.text  # the plain body, preferred
    assert terms.metadata["attachment"] == "terms.txt" and terms.metadata["subject"] == "Contract renewal"
    assert files.FACTS["mail.eml"] in terms.text
    assert [s.metadata["slide"] for s in slides] == [1, 2]  # an attachment goes through its own loader
    assert {s.metadata["attachment"] for s in slides} == {"deck.pptx"}
    assert location({"source": "m.eml", **slides[1].metadata}) == "m.eml · attachment deck.pptx · slide 2"


def test_an_html_only_mail_and_a_broken_attachment(tmp_path):
    message = EmailMessage()
    message["Subject"] = "Newsletter"
    message.set_content("<html><body><h1>News</h1><p>The <b>depot</b> moves in May.</p></body></html>", subtype="html")
    message.add_attachment(b"%PDF-1.4 garbage", maintype="application", subtype="pdf", filename="report.pdf")
    message.add_attachment(b"\x00\x01", maintype="application", subtype="octet-stream", filename="tool.exe")
    path = tmp_path / "news.eml"
    path.write_bytes(bytes(message))
    warnings = []
    [mail] = docs(path, warnings=warnings)
    assert "# News" in mail.text and "The **depot** moves in May." in mail.text
    assert len(warnings) == 2
    assert warnings[0].startswith("attachment 'report.pdf' not ingested: corrupt PDF")
    assert warnings[1] == "attachment 'tool.exe' skipped: unsupported type '.exe'"
    assert docs(path, LoaderConfig(mail={"attachments": False}), []) != []


def test_a_mailbox_is_one_document_per_message(tmp_path):
    import mailbox

    box = mailbox.mbox(str(tmp_path / "inbox.mbox"))
    for number in (1, 2):
        message = EmailMessage()
        message["Subject"] = f"Report {number}"
        message["From"] = "ops@example.com"
        message.set_content(f"Incident count this week: {number * 7}")
        box.add(message)
    box.flush()
    box.close()
    first, second = docs(tmp_path / "inbox.mbox")
    assert [first.metadata["message"], second.metadata["message"]] == [1, 2]
    assert second.metadata["subject"] == "Report 2" and "Incident count this week: 14" in second.text


def test_outlook_msg_with_its_attachment(tmp_path):
    attachment = tmp_path / "quote.txt"
    attachment.write_text("The quoted price is 913 euros.")
    mail, quote = docs(files.mail_msg(tmp_path / "note.msg", "See the quote.", attachment))
    assert mail.metadata["subject"] == "Outlook note" and mail.metadata["from"] == "Ana <ana@example.com>"
    assert "See the quote." in mail.text
    assert quote.metadata["attachment"] == "quote.txt" and "913 euros" in quote.text


def test_epub_chapters_in_reading_order(tmp_path):
    arrival, light = docs(files.book_epub(tmp_path / "book.epub"))
    assert [arrival.metadata["chapter"], light.metadata["chapter"]] == [1, 2]
    assert light.metadata == {"title": "The Keeper", "chapter": 2, "chapter_title": "The Light"}
    assert light.format == "markdown" and light.text.startswith("# The Light")
    assert files.FACTS["book.epub"] in light.text


def test_odt_headings_spaces_and_tables(tmp_path):
    [note] = docs(files.notes_odt(tmp_path / "notes.odt"))
    assert note.metadata["title"] == "Office guide"
    assert note.text.splitlines()[:5] == [
        "# Office guide",
        "",
        "## Opening hours",
        "",
        files.FACTS["notes.odt"] + ".",  # <text:s/> read as a space
    ]
    assert "Saturday | closed" in note.text


def test_rtf_text_with_escaped_characters(tmp_path):
    [letter] = docs(files.letter_rtf(tmp_path / "letter.rtf"))
    assert letter.text.splitlines() == ["Dear customer,", files.FACTS["letter.rtf"] + ".", "Café hours are unchanged."]


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("deck.pptx", b"PK\x03\x04 not really a zip", "not a readable PowerPoint file (not a zip archive"),
        ("book.xlsx", b"<html>an error page saved as xlsx</html>", "not a readable spreadsheet (not a zip archive"),
        ("book.epub", files.zip_bytes({"mimetype": b"application/epub+zip"}), "not a readable EPUB (no package"),
        ("notes.odt", files.zip_bytes({"x.txt": b"x"}), "not a readable OpenDocument text (content.xml"),
        ("letter.rtf", b"Dear customer", "not an RTF file"),
        ("note.msg", b"\xd0\xcf\x11\xe0 truncated", "not a readable Outlook message"),
        ("mail.eml", b"\x00\x01\x02", "not an e-mail"),
    ],
)
def test_a_damaged_file_is_named_with_its_reason(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LoaderError) as raised:
        docs(path)
    assert raised.value.path == str(path)
    assert reason in raised.value.reason


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(files.zip_bytes({"xl/workbook.xml": b"\x00" * (12 * 1024 * 1024)}))
    assert path.stat().st_size < 100_000
    with pytest.raises(LoaderError, match=r"unpacks to 13 MB, over loaders.max_file_mb=10 \(a zip bomb\?\)"):
        docs(path, LoaderConfig(max_file_mb=10))


def test_every_new_type_is_known_to_the_loaders_and_the_uploads(tmp_path):
    from rag.config import Settings
    from service.library import Library

    types = [".pptx", ".xlsx", ".xlsm", ".xls", ".ods", ".eml", ".mbox", ".msg", ".epub", ".odt", ".rtf"]
    types += [".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"]
    assert all(is_supported(tmp_path / f"f{t}") for t in types)
    library = Library(Settings(uploads={"dir": str(tmp_path / "lib")}))
    assert set(types) <= set(library.accepted_types())  # one list: the loaders'
    assert library.check("Deck.PPTX", 10) == "Deck.PPTX"
    narrowed = Library(Settings(uploads={"dir": str(tmp_path / "lib"), "types": [".pdf"]}))
    assert narrowed.accepted_types() == [".pdf"]

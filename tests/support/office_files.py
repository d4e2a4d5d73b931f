"""Real files of the formats people keep, built by the tests (nothing is checked in): a scanned memo, a
whiteboard photo, a receipt, a slide deck, a workbook, e-mails, an e-book, OpenDocument and RTF text.
Each states one fact only it holds, so a search can show that the file got in."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from pathlib import Path

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

# fact each file alone states -> (file, a question's words that find it)
FACTS = {
    "memo.pdf": "The warehouse in Tromso reopens on 9 June",  # on the scan's second page
    "whiteboard.png": "Sprint goal ship the offline installer",
    "receipt.jpg": "TOTAL 47.80",
    "deck.pptx": "Launch date 14 March 2025",
    "book.xlsx": "Lisbon 8812",
    "mail.eml": "The attached contract renews on 30 November",
    "book.epub": "The lighthouse keeper was called Oskar Lindqvist",
    "notes.odt": "The Vienna office opens at 07:45",
    "letter.rtf": "Your policy number is PX-20931",
}


def font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default(size=size)


def page_image(lines: list[str], size: tuple[int, int] = (1240, 1754), text_size: int = 30, angle: float = 0.0):
    """A white page with `lines` of black text (150 DPI A4 by default), turned by `angle` degrees."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    y = 120
    for line in lines:
        draw.text((100, y), line, fill="black", font=font(text_size))
        y += int(text_size * 1.8)
    if angle:
        image = image.rotate(angle, expand=True, fillcolor="white")
    return image


def scanned_pdf(path: Path, pages: list[list[str]]) -> Path:
    """An image-only PDF (no text layer), one page per list of lines."""
    images = [page_image(lines) for lines in pages]
    images[0].save(path, "PDF", resolution=150, save_all=True, append_images=images[1:])
    return path


def memo_pdf(path: Path) -> Path:
    return scanned_pdf(
        path,
        [
            ["MEMO", "To: all staff", "Subject: site changes", "The canteen moves to the ground floor."],
            ["Page 2", FACTS["memo.pdf"] + ".", "Questions go to facilities."],
        ],
    )


def whiteboard_png(path: Path) -> Path:
    image = page_image(["Retro notes", FACTS["whiteboard.png"]], size=(1400, 500), text_size=40, angle=1.5)
    image.save(path)
    return path


def receipt_jpg(path: Path) -> Path:
    lines = ["CORNER BAKERY", "2 x Rye bread 9.80", "1 x Cake 38.00", FACTS["receipt.jpg"], "Thank you"]
    page_image(lines, size=(700, 700), text_size=34).save(path, quality=90)
    return path


def deck_pptx(path: Path) -> Path:
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[0])
    first.shapes.title.text = "Product launch"
    second = deck.slides.add_slide(deck.slide_layouts[1])
    second.shapes.title.text = "Timeline"
    second.placeholders[1].text = FACTS["deck.pptx"] + "\nBeta ends in February"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(4.5), Inches(4), Inches(1)).table
    for (row, column), text in {(0, 0): "Item", (0, 1): "Cost", (1, 0): "Ads", (1, 1): "$5,000"}.items():
        table.cell(row, column).text = text
    second.notes_slide.notes_text_frame.text = "Remind the team that the venue is in Porto."
    deck.save(path)
    return path


def book_xlsx(path: Path) -> Path:
    """Two sheets; the total column is a formula with its cached value (as Excel saves it)."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path))
    sales = workbook.add_worksheet("Sales")
    sales.write_row(0, 0, ["City", "Units", "Price", "Revenue"])
    for row, (city, units, price) in enumerate([("Oslo", 120, 10), ("Lisbon", 8812, 1), ("Turin", 40, 7)], 1):
        sales.write_row(row, 0, [city, units, price])
        sales.write_formula(row, 3, f"=B{row + 1}*C{row + 1}", None, units * price)
    staff = workbook.add_worksheet("Staff")
    staff.write_row(0, 0, ["Name", "Role"])
    staff.write_row(3, 0, ["Ada", "CTO"])  # rows 2 and 3 empty
    workbook.close()
    return path


def mail_eml(path: Path, attachment: Path | None = None) -> Path:
    message = EmailMessage()
    message["Subject"] = "Contract renewal"
    message["From"] = "Ana Silva <ana@example.com>"
    message["To"] = "legal@example.com"
    message["Date"] = "Tue, 01 Oct 2024 10:00:00 +0000"
    message.set_content("Hello legal team,\nplease review the attached terms before Friday.\n")
    message.add_alternative(
        "<p>Hello legal team,<br>please review the <b>attached terms</b> before Friday.</p>", subtype="html"
    )
    message.add_attachment(
        f"Terms of service\n{FACTS['mail.eml']}.\n".encode(), maintype="text", subtype="plain", filename="terms.txt"
    )
    if attachment is not None:
        message.add_attachment(
            attachment.read_bytes(), maintype="application", subtype="octet-stream", filename=attachment.name
        )
    path.write_bytes(bytes(message))
    return path


def mail_msg(path: Path, body: str, attachment: Path) -> Path:
    """An Outlook message (msgforge writes it; the loader reads it with another library)."""
    from msgforge import Message

    message = Message(
        subject="Outlook note", text_body=body, to=[("bob@example.com", "Bob")], sender=("ana@example.com", "Ana")
    )
    message.attach(attachment)
    message.save(path)
    return path


def book_epub(path: Path) -> Path:
    chapters = [
        ("Arrival", "The ferry reached the island at dusk."),
        ("The Light", FACTS["book.epub"] + ". He kept a log of every ship."),
    ]
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        book.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        manifest = "".join(
            f'<item id="c{n}" href="text/c{n}.xhtml" media-type="application/xhtml+xml"/>' for n in range(len(chapters))
        )
        spine = "".join(f'<itemref idref="c{n}"/>' for n in range(len(chapters)))
        book.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>The Keeper</dc:title></metadata>'
            f"<manifest>{manifest}</manifest><spine>{spine}</spine></package>",
        )
        for n, (title, text) in enumerate(chapters):
            book.writestr(
                f"OEBPS/text/c{n}.xhtml",
                f'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title></head>'
                f"<body><h1>{title}</h1><p>{text}</p></body></html>",
            )
    return path


def notes_odt(path: Path) -> Path:
    text = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    table = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        f'xmlns:text="{text}" xmlns:table="{table}" office:version="1.3"><office:body><office:text>'
        '<text:h text:outline-level="1">Office guide</text:h>'
        '<text:h text:outline-level="2">Opening hours</text:h>'
        f"<text:p>{FACTS['notes.odt'].replace(' at', '<text:s/>at', 1)}.</text:p>"
        "<table:table><table:table-row><table:table-cell><text:p>Day</text:p></table:table-cell>"
        "<table:table-cell><text:p>Open</text:p></table:table-cell></table:table-row>"
        "<table:table-row><table:table-cell><text:p>Saturday</text:p></table:table-cell>"
        "<table:table-cell><text:p>closed</text:p></table:table-cell></table:table-row></table:table>"
        "</office:text></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", content)
    return path


def letter_rtf(path: Path) -> Path:
    path.write_text(
        r"{\rtf1\ansi\deff0{\fonttbl{\f0 Times;}}\f0\fs24 Dear customer,\par "
        + FACTS["letter.rtf"]
        + r".\par Caf\'e9 hours are unchanged.\par}",
        encoding="ascii",
    )
    return path


def office_folder(folder: Path) -> Path:
    """The issue's folder: one file of each kind, each with its fact."""
    folder.mkdir(parents=True, exist_ok=True)
    memo_pdf(folder / "memo.pdf")
    whiteboard_png(folder / "whiteboard.png")
    receipt_jpg(folder / "receipt.jpg")
    deck_pptx(folder / "deck.pptx")
    book_xlsx(folder / "book.xlsx")
    mail_eml(folder / "mail.eml")
    book_epub(folder / "book.epub")
    notes_odt(folder / "notes.odt")
    letter_rtf(folder / "letter.rtf")
    return folder


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()

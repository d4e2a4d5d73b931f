"""E-mail: EML and MBOX (the standard library's ``email`` and ``mailbox``), Outlook MSG (aspose-email-foss, MIT,
turns it into the same message). Each message is a Document of its headers and body (an HTML body through the
HTML loader); each attachment goes through the loaders as its own Documents, with ``attachment`` naming it and
the mail's subject kept — budgeted like any file (size, type), and a bad attachment is a warning, not a failed mail.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import email.utils
import re
import tempfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

from rag.config import LoaderConfig
from rag.documents import Document
from rag.errors import LoaderError

_MAX_DEPTH = 3  # a mail attached to a mail attached to a mail…
_UNSAFE = re.compile(r"[^\w.() +-]+")


def load_eml(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    if not message.keys():
        raise LoaderError(str(path), "not an e-mail (no headers)")
    yield from message_documents(message, cfg, warnings)


def load_mbox(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    import mailbox

    box = mailbox.mbox(
        str(path),
        factory=lambda handle: email.message_from_binary_file(handle, policy=email.policy.default),
        create=False,
    )
    try:
        for number, message in enumerate(box, start=1):
            for document in message_documents(message, cfg, warnings, where=f"message {number}: "):
                document.metadata["message"] = number
                yield document
    finally:
        box.close()


def load_msg(path: Path, cfg: LoaderConfig, warnings: list[str]) -> Iterator[Document]:
    from aspose.email_foss import msg

    try:
        with msg.MapiMessage.from_file(str(path)) as outlook:
            message = outlook.to_email_message()
    except Exception as exc:  # the reader raises its own errors for every kind of damage
        raise LoaderError(str(path), f"not a readable Outlook message ({exc.__class__.__name__}: {exc})") from None
    yield from message_documents(message, cfg, warnings)


def message_documents(
    message: EmailMessage, cfg: LoaderConfig, warnings: list[str], where: str = "", depth: int = 0
) -> Iterator[Document]:
    """The message's own Document, then its attachments' (when ``loaders.mail.attachments``)."""
    headers = _headers(message)
    body = _body(message)
    lines = [f"{name.capitalize()}: {value}" for name, value in headers.items() if value]
    yield Document(text="\n".join(lines) + "\n\n" + body, metadata={**headers, "title": headers["subject"]})
    if not cfg.mail.attachments:
        return
    for part in message.iter_attachments():
        name = part.get_filename() or ""
        if part.get_content_type() == "message/rfc822":
            inner = part.get_content()
            if depth + 1 >= _MAX_DEPTH:
                warnings.append(f"{where}attached mail {name or inner.get('subject', '')!r} nested too deep; skipped")
                continue
            for document in message_documents(inner, cfg, warnings, where, depth + 1):
                document.metadata.setdefault("attachment", name or f"{inner.get('subject', 'mail')}.eml")
                yield document
            continue
        if not name:
            continue  # inline parts without a name: signatures, logos
        yield from _attachment(part, name, headers["subject"], cfg, warnings, where)


def _attachment(
    part: EmailMessage, name: str, subject: str, cfg: LoaderConfig, warnings: list[str], where: str
) -> Iterator[Document]:
    from ingest.loaders import is_supported, load

    safe = _UNSAFE.sub("_", Path(name).name).strip(" .") or "attachment"
    if not is_supported(Path(safe)):
        warnings.append(f"{where}attachment {name!r} skipped: unsupported type {Path(safe).suffix!r}")
        return
    try:
        data = part.get_payload(decode=True) or b""
    except Exception as exc:
        warnings.append(f"{where}attachment {name!r} could not be decoded ({exc})")
        return
    with tempfile.TemporaryDirectory(prefix="rag-attachment-") as folder:
        file = Path(folder) / safe
        file.write_bytes(data)
        del data
        inner: list[str] = []
        try:
            for document in load(file, cfg, inner):
                document.metadata = {**document.metadata, "attachment": name, "subject": subject}
                if document.metadata.get("title") in (None, "", file.stem):
                    document.metadata["title"] = name
                yield document
        except LoaderError as exc:
            warnings.append(f"{where}attachment {name!r} not ingested: {exc.reason}")
        warnings.extend(f"{where}attachment {name!r}: {warning}" for warning in inner)


def _headers(message: EmailMessage) -> dict[str, str]:
    def header(key: str) -> str:
        try:
            return " ".join(str(message.get(key, "") or "").split())
        except Exception:  # a malformed header is read as missing, not a failed mail
            return ""

    date = header("date")
    with contextlib.suppress(TypeError, ValueError):  # an unreadable date stays as written
        date = email.utils.parsedate_to_datetime(date).isoformat() if date else ""
    return {"subject": header("subject"), "from": header("from"), "to": header("to"), "date": date}


def _body(message: EmailMessage) -> str:
    from ingest.loaders.html import html_to_markdown

    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: the bytes as best we can
        content = (part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")
    if part.get_content_type() == "text/html":
        return html_to_markdown(content)[1]
    return content.strip()

"""Test and benchmark documents made on the spot: PDFs (fpdf2), DOCX files (python-docx) and web
pages, with a small HTTP server on 127.0.0.1 to fetch pages from.

A document is a list of sections, each a heading and its paragraphs. PDFs get a running header
and a page number on every page, optionally two columns, metadata, a table or a password; the
seed article is available as sections (its first line the title, date line dropped).
"""

from __future__ import annotations

import datetime
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SEED = Path(__file__).resolve().parents[1] / "docs" / "OnePlus-eyes-US-carriers-after-Huawei-deal-falls-through.txt"
SEED_TITLE = "OnePlus eyes US carriers after Huawei deal falls through"
HEADER = "Askbot Test Manual"
NAV = '<nav><a href="/docs/">Home</a> <a href="/docs/install.html">Install</a> <a href="/docs/usage.html">Usage</a></nav>'
COOKIES = '<div class="cookie-banner">We use cookies. Accept all cookies to continue browsing.</div>'
FOOTER = "<footer>Copyright 2026 Example docs team. Privacy policy. Terms of service.</footer>"
_LATIN1 = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "..."})


@dataclass(frozen=True)
class Section:
    heading: str | None
    paragraphs: Sequence[str]
    table: Sequence[Sequence[str]] = field(default=())  # rows of cells, the first row the header


def seed_paragraphs() -> list[str]:
    """The seed article's paragraphs, without its leading date."""
    text = re.sub(r"\A\s*date \d{4}-\d{2}-\d{2}\s*", "", SEED.read_text(encoding="utf-8"))
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]


def seed_sections() -> list[Section]:
    """The seed article as one headless section."""
    return [Section(None, seed_paragraphs())]


def page_html(title: str, body: str, links: str = "") -> bytes:
    """A documentation page the way sites serve them: a cookie banner, navigation, the article, a footer."""
    return (
        f"<html><head><title>{title}</title></head><body>{COOKIES}{NAV}<main><article><h1>{title}</h1>{body}"
        f"</article></main>{links}{FOOTER}</body></html>"
    ).encode()


def seed_html() -> bytes:
    return page_html(SEED_TITLE, "".join(f"<p>{p}</p>" for p in seed_paragraphs()))


@contextmanager
def serve(answer: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering each GET with `answer`; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                answer(self)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): expected

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def make_pdf(
    path: Path,
    sections: Sequence[Section],
    *,
    columns: int = 1,
    title: str | None = None,
    created: datetime.datetime | None = None,
    password: str | None = None,
    header: str | None = HEADER,
    new_page_per_section: bool = False,
) -> Path:
    """A PDF of the sections: headings in bold 16 pt, body 11 pt, header and page number on each page."""
    from fpdf import FPDF

    class Paper(FPDF):
        def header(self) -> None:
            if header:
                self.set_font("Helvetica", "I", 9)
                self.cell(0, 8, header, align="C")
                self.ln(12)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("Helvetica", "", 9)
            self.cell(0, 10, str(self.page_no()), align="C")

    pdf = Paper()
    if title:
        pdf.set_title(title)
    if created:
        pdf.set_creation_date(created)
    if password:
        pdf.set_encryption(owner_password=password + "-owner", user_password=password)
    pdf.add_page()
    for number, section in enumerate(sections):
        if new_page_per_section and number:
            pdf.add_page()
        if section.heading:
            pdf.set_font("Helvetica", "B", 16)
            pdf.multi_cell(0, 9, _latin1(section.heading), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        pdf.set_font("Helvetica", "", 11)
        if columns > 1:
            with pdf.text_columns(ncols=columns, gutter=8) as cols:
                for paragraph in section.paragraphs:
                    cols.write(_latin1(paragraph) + "\n\n")
        else:
            for paragraph in section.paragraphs:
                pdf.multi_cell(0, 6, _latin1(paragraph), new_x="LMARGIN", new_y="NEXT")
                pdf.ln(3)
        if section.table:
            with pdf.table() as table:
                for row in section.table:
                    cells = table.row()
                    for cell in row:
                        cells.cell(_latin1(cell))
            pdf.ln(3)
    pdf.output(str(path))
    return path


def make_docx(
    path: Path, sections: Sequence[Section], *, title: str | None = None, created: datetime.datetime | None = None
) -> Path:
    """A Word document: each section a Heading 1 and its paragraphs, tables as Word tables."""
    import docx

    document = docx.Document()
    document.core_properties.title = title or ""
    document.core_properties.created = created or datetime.datetime(2024, 3, 5)
    for section in sections:
        if section.heading:
            document.add_heading(section.heading, level=1)
        for paragraph in section.paragraphs:
            document.add_paragraph(paragraph)
        if section.table:
            table = document.add_table(rows=len(section.table), cols=len(section.table[0]))
            for row, values in zip(table.rows, section.table):
                for cell, value in zip(row.cells, values):
                    cell.text = value
    document.save(str(path))
    return path


def prose(topic: str, sentences: int, seed: int = 0) -> str:
    """Plain generated sentences about a topic, distinct per seed."""
    return " ".join(
        f"The {topic} note {seed}.{i} explains step {i} of the {topic} procedure in plain words." for i in range(sentences)
    )


def _latin1(text: str) -> str:
    return text.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")

"""PDF and Word documents: text in reading order with pages and headings, and bad files skipped
with one line each, within a time and memory bound. Every file is generated here."""

from __future__ import annotations

import datetime
import re
import zipfile
import zlib
from pathlib import Path

import pytest

from askbot.documents import SourceFile, load
from askbot.extraction import Extractor, Limits
from doc_factory import Section, make_docx, make_pdf, prose, seed_sections

LIMITS = Limits(seconds=60, memory_mb=512, max_pdf_pages=2000)
INSTALL = Section(
    "Installation",
    ["Install the trans-\nmission module first. " + prose("install", 5), "COVID-\n19 changed the schedule."],
    table=[["System", "Command"], ["Linux", "apt install askbot"]],
)
USAGE = Section("Usage", [prose("usage", 60, 1)])
REFERENCE = Section("Reference", [prose("reference", 60, 2), "The last reference sentence is here."])


@pytest.fixture(scope="module")
def extractor():
    with Extractor(LIMITS) as worker:
        yield worker


def read(path: Path, extractor: Extractor | None):
    warnings: list[str] = []
    doc = load(SourceFile(path.name, path, ""), warnings.append, extractor=extractor)
    return doc, warnings


@pytest.fixture(scope="module")
def two_columns(tmp_path_factory, extractor):
    path = tmp_path_factory.mktemp("pdf") / "manual.pdf"
    created = datetime.datetime(2024, 3, 5, tzinfo=datetime.timezone.utc)
    make_pdf(path, [INSTALL, USAGE, REFERENCE], columns=2, title="Askbot Manual", created=created)
    doc, warnings = read(path, extractor)
    assert warnings == []
    return doc


def test_pdf_title_and_date_come_from_its_metadata(two_columns):
    assert (two_columns.title, two_columns.date) == ("Askbot Manual", "2024-03-05")


def test_pdf_running_header_and_page_numbers_are_dropped(two_columns):
    assert "Askbot Test Manual" not in two_columns.text
    assert not [line for line in two_columns.text.splitlines() if re.fullmatch(r"\s*\d+\s*", line)]
    assert len(two_columns.pages) == 3


def test_pdf_line_break_hyphenation_is_undone(two_columns):
    assert "Install the transmission module first." in two_columns.text
    assert "COVID-19 changed the schedule." in two_columns.text


def test_pdf_columns_are_read_in_order_and_tables_as_text(two_columns):
    text = " ".join(two_columns.text.split())
    positions = [text.index(f"The usage note 1.{i} explains step {i} ") for i in range(60)]
    assert positions == sorted(positions)  # column after column, page after page
    assert "apt install askbot" in text and text.index("Linux") < text.index("apt install askbot")


def test_pdf_headings_and_pages_locate_every_passage(two_columns):
    doc = two_columns
    assert [(h.level, h.text) for h in doc.headings] == [(1, "Installation"), (1, "Usage"), (1, "Reference")]
    assert doc.page_at(doc.text.index("transmission")) == 1
    last = doc.text.rindex("The last reference sentence")
    assert doc.page_at(last) == len(doc.pages) == 3
    assert doc.section(last, last + 10) == "Reference"
    assert doc.section_breaks() == tuple(h.offset for h in doc.headings[1:])


def test_pdf_without_metadata_title_uses_its_first_heading(tmp_path, extractor):
    doc, _ = read(make_pdf(tmp_path / "guide.pdf", [INSTALL]), extractor)
    assert doc.title == "Installation" and doc.date is not None


def _one_warning(path: Path, extractor: Extractor | None) -> str:
    doc, warnings = read(path, extractor)
    assert doc is None and len(warnings) == 1, warnings
    return warnings[0]


def test_encrypted_pdf_is_skipped(tmp_path, extractor):
    path = make_pdf(tmp_path / "secret.pdf", [INSTALL], password="s3cret")
    assert _one_warning(path, extractor) == "skipped secret.pdf: encrypted: not indexed"


def test_damaged_pdf_is_skipped(tmp_path, extractor):
    good = make_pdf(tmp_path / "good.pdf", [INSTALL]).read_bytes()
    (tmp_path / "cut.pdf").write_bytes(good[: len(good) // 3])
    (tmp_path / "noise.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    assert _one_warning(tmp_path / "cut.pdf", extractor).startswith("skipped cut.pdf: ")
    assert _one_warning(tmp_path / "noise.pdf", extractor).startswith("skipped noise.pdf: damaged PDF (")


def test_pdf_without_text_layer_is_skipped(tmp_path, extractor):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")  # a "scan": drawing, no text
    pdf.output(str(tmp_path / "scan.pdf"))
    assert _one_warning(tmp_path / "scan.pdf", extractor) == "skipped scan.pdf: no text layer: scanned pages are not read"


def test_pdf_over_the_page_limit_is_skipped(tmp_path):
    path = make_pdf(tmp_path / "long.pdf", [INSTALL, INSTALL, INSTALL], new_page_per_section=True)
    with Extractor(Limits(seconds=60, memory_mb=512, max_pdf_pages=2)) as small:
        warning = _one_warning(path, small)
    assert warning == "skipped long.pdf: 3 pages is over the 2-page limit (ASKBOT_MAX_PDF_PAGES)"


def raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF file of the given objects (numbered from 1; object 1 is the catalog), with its xref."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def bomb_pdf(pages: int, unpacked: int) -> bytes:
    """Every page draws the same content stream, which inflates to `unpacked` bytes of text."""
    content = zlib.compress(b"BT /F1 12 Tf 72 700 Td (" + b"A" * unpacked + b") Tj ET", 9)
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 3 0 R >> >> >>"
    return raw_pdf(objects + [page] * pages)


def test_decompression_bomb_hits_the_time_bound_and_the_worker_recovers(tmp_path):
    (tmp_path / "bomb.pdf").write_bytes(bomb_pdf(pages=2000, unpacked=20_000_000))
    with Extractor(Limits(seconds=3, memory_mb=512, max_pdf_pages=2000)) as worker:
        assert _one_warning(tmp_path / "bomb.pdf", worker) == "skipped bomb.pdf: reading took over 3 s (ASKBOT_EXTRACT_SECONDS)"
        doc, warnings = read(make_pdf(tmp_path / "after.pdf", [INSTALL]), worker)  # a fresh worker takes over
    assert warnings == [] and "transmission" in doc.text


def test_decompression_bomb_hits_the_memory_bound(tmp_path):
    (tmp_path / "bomb.pdf").write_bytes(bomb_pdf(pages=1, unpacked=70_000_000))
    with Extractor(Limits(seconds=60, memory_mb=100, max_pdf_pages=2000)) as worker:
        warning = _one_warning(tmp_path / "bomb.pdf", worker)
    assert warning == "skipped bomb.pdf: reading needed over 100 MB (ASKBOT_EXTRACT_MEMORY_MB)"


def test_page_tree_loop_is_skipped(tmp_path, extractor):
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",  # the tree holds itself
        b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
    ]
    (tmp_path / "loop.pdf").write_bytes(raw_pdf(objects))
    assert _one_warning(tmp_path / "loop.pdf", extractor).startswith("skipped loop.pdf: ")


def test_docx_paragraphs_headings_and_tables(tmp_path, extractor):
    path = make_docx(tmp_path / "guide.docx", [INSTALL, USAGE], title="Askbot Guide")
    doc, warnings = read(path, extractor)
    assert warnings == [] and doc.title == "Askbot Guide" and doc.date == "2024-03-05"
    assert "Linux | apt install askbot" in doc.text and "System | Command" in doc.text
    assert "Install the transmission module first." in doc.text and "COVID-19 changed" in doc.text
    assert [(h.level, h.text) for h in doc.headings] == [(1, "Installation"), (1, "Usage")]
    at = doc.text.index("usage note 1.30")
    assert doc.section(at, at + 5) == "Usage" and doc.pages == ()


def test_docx_title_falls_back_to_the_first_heading(tmp_path, extractor):
    doc, _ = read(make_docx(tmp_path / "notes.docx", [USAGE]), extractor)
    assert doc.title == "Usage"


def test_malformed_docx_is_skipped(tmp_path, extractor):
    (tmp_path / "text.docx").write_text("not a zip at all")
    with zipfile.ZipFile(tmp_path / "empty.docx", "w") as package:
        package.writestr("hello.txt", "a zip, but no Word document in it")
    assert _one_warning(tmp_path / "text.docx", extractor) == "skipped text.docx: damaged Word file (not a zip package)"
    assert _one_warning(tmp_path / "empty.docx", extractor).startswith("skipped empty.docx: damaged Word file (")


def test_docx_zip_bomb_is_skipped(tmp_path):
    with zipfile.ZipFile(tmp_path / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as package:
        with package.open("word/document.xml", "w") as part:
            for _ in range(80):
                part.write(b"\0" * (1 << 20))
    with Extractor(Limits(seconds=60, memory_mb=64, max_pdf_pages=2000)) as worker:
        warning = _one_warning(tmp_path / "bomb.docx", worker)
    assert warning == "skipped bomb.docx: zip bomb: its parts unpack to 83,886,080 bytes (ASKBOT_EXTRACT_MEMORY_MB)"


def test_a_file_loaded_alone_starts_its_own_worker(tmp_path):
    doc, warnings = read(make_docx(tmp_path / "alone.docx", [INSTALL]), None)
    assert warnings == [] and doc.title == "Installation"


def test_assembly_drops_running_lines_and_finds_headings_and_paragraphs():
    from askbot.pdf import Line, assemble

    def page(number: int) -> list[Line]:
        return [
            Line("ACME Handbook", 800, 9),
            Line(f"Chapter {number}", 760, 16),
            Line(f"Body line one of page {number} runs on", 740, 11),
            Line("to the next line.", 727, 11),
            Line(f"A new paragraph after a gap on page {'one two three'.split()[number - 1]}.", 700, 11),
            Line(f"Page {number} of 3", 40, 9),
        ]

    extracted = assemble([page(1), page(2), page(3)], None, None)
    assert extracted.text.split("\n\n")[:4] == [
        "Chapter 1", "Body line one of page 1 runs on\nto the next line.", "A new paragraph after a gap on page one.", "Chapter 2",
    ]
    assert [extracted.text[o : o + 9] for o in extracted.pages] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    assert [(extracted.text[o : o + 9], level, h) for o, level, h in extracted.headings][0] == ("Chapter 1", 1, "Chapter 1")
    assert extracted.title == "Chapter 1" and "ACME" not in extracted.text and "of 3" not in extracted.text

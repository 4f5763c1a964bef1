"""PDF text with pages and headings, read with pypdf (BSD licence).

Why pypdf: on the same files it read 1.7–8× more pages per second than pdfminer.six (TeX
manuals 9–12 pages/s against 5–6, a generated two-column file 38 against 4), and both keep
columns apart where the PDF writes one column after the other, as TeX, Word and fpdf2 do.
pypdf follows the content stream; pdfminer's layout analysis would only pay off for PDFs
that interleave columns line by line, which is rare.

Each text line comes with its height on the page and its font size (pypdf's text visitor). From
those: a blank line where the vertical gap between lines is clearly larger than the page's usual
line pitch (a paragraph break, which the chunker honours), headings where the font is clearly
larger than the body text, and running headers and footers (a first or last line of a page that
repeats, digits aside, on at least half the pages of a PDF of three or more) dropped along with
bare page numbers. Pages
are joined in order, line-break hyphenation is undone (hyphenation.py) and the start of every
page is kept, so a passage can cite "p. 12".

This runs inside the extraction worker (extraction.py), which bounds its time and memory.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .extracted import Extracted, Unreadable
from .hyphenation import dehyphenate_offsets
from .sections import clean_heading

HEADING_SCALE = 1.15  # a line this much larger than the body font is a heading
PARAGRAPH_GAP = 1.45  # a vertical gap this many times the usual line pitch is a paragraph break
MIN_PAGES_FOR_RUNNING = 3  # fewer pages cannot tell a running header from a repeated line
EDGE_LINES = 2  # lines at the top and the bottom of a page that may be running headers/footers
MAX_HEADING_LEVELS = 3
_PAGE_NUMBER = re.compile(r"(?:page\s+)?[-–—(\[]?\s*(?:\d+|[ivxlcdm]+)\s*[-–—)\]]?(?:\s*(?:of|/)\s*\d+)?", re.IGNORECASE)
_PDF_DATE = re.compile(r"D?:?(\d{4})(\d{2})?(\d{2})?")
_SENTENCE_END = re.compile(r"[.!?:;\"”')\]]$")
_DOT_LEADER = re.compile(r"(?:\.\s?){4,}")  # "1 Introduction . . . . 1": a table of contents line
_JUNK_TITLES = re.compile(r"^(untitled|microsoft word - .*|document\d*|slide \d+|\W*)$", re.IGNORECASE)


@dataclass
class Line:
    text: str
    y: float  # baseline height on the page (PDF units, larger is higher)
    size: float  # font size as drawn, scaled by the text and page matrices


def extract_pdf(path: Path, max_pages: int) -> Extracted:
    """The document's text, page starts, headings, title and date; Unreadable says why not."""
    import pypdf

    try:
        reader = pypdf.PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unreadable("encrypted: not indexed")
        count = len(reader.pages)
        if count > max_pages:
            raise Unreadable(f"{count:,} pages is over the {max_pages:,}-page limit (ASKBOT_MAX_PDF_PAGES)")
        pages = [_page_lines(page) for page in reader.pages]
        metadata = reader.metadata or {}
    except (Unreadable, MemoryError):
        raise
    except Exception as error:  # pypdf raises many kinds on broken files (PdfReadError, KeyError...)
        raise Unreadable(f"damaged PDF ({_reason(error)})") from None
    return assemble(pages, _metadata_title(metadata), _metadata_date(metadata))


def assemble(pages: list[list[Line]], title: str | None, date: str | None) -> Extracted:
    """Pages of lines to one text with page starts and headings (pure, so it is tested directly)."""
    pages = _drop_running_lines(pages, _body_size(pages))
    if not any(line.text.strip() for page in pages for line in page):
        raise Unreadable("no text layer: scanned pages are not read")
    body_size = _body_size(pages)
    levels = _heading_levels(pages, body_size)
    parts: list[str] = []
    page_marks: list[int] = []  # index in parts of each page's first line
    heading_marks: list[tuple[int, int, str]] = []  # (index in parts, level, text)
    for page in pages:
        pitch = _line_pitch(page, body_size)
        previous: Line | None = None
        for line in page:
            heading = _heading(line) if _rounded(line.size) in levels else None
            if parts:
                parts.append(_separator(parts[-1], previous, line, pitch, heading is not None))
            if previous is None:
                page_marks.append(len(parts))
            if heading:
                heading_marks.append((len(parts), levels[_rounded(line.size)], heading))
            parts.append(line.text)
            previous = Line(line.text, math.inf, line.size) if heading else line  # after a heading: a new paragraph
        if not page:
            page_marks.append(len(parts))
    text, offsets = _join(parts, [*page_marks, *(m[0] for m in heading_marks)])
    page_starts = offsets[: len(page_marks)]
    headings = [(offset, level, heading) for offset, (_, level, heading) in zip(offsets[len(page_marks) :], heading_marks)]
    first_heading = next((h for _, level, h in headings if level == 1), None)
    return Extracted(
        text=text,
        title=title or first_heading or _first_line(text),
        date=date,
        pages=page_starts,
        headings=headings,
    )


def _page_lines(page) -> list[Line]:
    """The page's text lines in content order, each with its height and font size."""
    lines: list[Line] = []
    pieces: list[str] = []
    where: list[float | None] = [None, 0.0]  # y of the line's first text, its largest font size

    def end_line() -> None:
        text = "".join(pieces)
        if text.strip():
            lines.append(Line(" ".join(text.split()), where[0] or 0.0, where[1]))
        pieces.clear()
        where[:] = [None, 0.0]

    def visit(text: str, cm, tm, font_dict, font_size) -> None:
        for i, part in enumerate(text.split("\n")):
            if i:
                end_line()
            if part.strip():
                if where[0] is None:
                    where[0] = tm[5] * cm[3] + cm[5]
                scale = math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3]) or 1.0
                where[1] = max(where[1], float(font_size or 0) * scale)
            pieces.append(part)

    page.extract_text(visitor_text=visit)
    end_line()
    return lines


def _drop_running_lines(pages: list[list[Line]], body: float) -> list[list[Line]]:
    """Without page numbers and the header/footer lines most pages repeat ("Chapter 3" set
    larger than the body text at the top of a page is a heading, not a running header)."""
    def shape(line: Line) -> str:
        return re.sub(r"\d+", "#", line.text.casefold()) if line.size < HEADING_SCALE * body else f"heading {id(line)}"

    counts = Counter(shape(line) for page in pages for line in {id(l): l for l in _edges(page)}.values())
    repeated = {s for s, n in counts.items() if len(pages) >= MIN_PAGES_FOR_RUNNING and n >= len(pages) / 2}
    kept = []
    for page in pages:
        edges = {id(line) for line in _edges(page)}
        kept.append(
            [
                line
                for line in page
                if id(line) not in edges or not (shape(line) in repeated or _PAGE_NUMBER.fullmatch(line.text.strip()))
            ]
        )
    return kept


def _edges(page: list[Line]) -> list[Line]:
    return page[:EDGE_LINES] + page[-EDGE_LINES:]


def _body_size(pages: list[list[Line]]) -> float:
    """The font size most characters are set in."""
    sizes = Counter()
    for page in pages:
        for line in page:
            sizes[_rounded(line.size)] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _heading_levels(pages: list[list[Line]], body: float) -> dict[float, int]:
    """Font sizes used for headings, largest first, as levels 1, 2, 3."""
    sizes = {
        _rounded(line.size)
        for page in pages
        for line in page
        if body and line.size >= HEADING_SCALE * body and _heading(line)
    }
    return {size: level for level, size in enumerate(sorted(sizes, reverse=True)[:MAX_HEADING_LEVELS], 1)}


def _heading(line: Line) -> str | None:
    return None if _DOT_LEADER.search(line.text) else clean_heading(line.text)


def _line_pitch(page: list[Line], body: float) -> float:
    """The usual distance between two lines of body text on the page (its lower quartile: the
    larger gaps are the paragraph breaks being looked for)."""
    gaps = sorted(a.y - b.y for a, b in zip(page, page[1:]) if a.y > b.y and _rounded(a.size) == _rounded(b.size) == body)
    return gaps[len(gaps) // 4] if gaps else body * 1.2


def _separator(before: str, previous: Line | None, line: Line, pitch: float, heading: bool) -> str:
    """A blank line (a paragraph break) or a line break between two lines.

    A new page continues the paragraph unless the last one ended a sentence; a new column
    (the line is higher than the one before) only breaks a line."""
    if heading:
        return "\n\n"
    if previous is None:
        return "\n\n" if _SENTENCE_END.search(before) else "\n"
    return "\n\n" if previous.y - line.y > PARAGRAPH_GAP * pitch else "\n"


def _join(parts: list[str], marks: list[int]) -> tuple[str, list[int]]:
    """The parts joined, hyphenation undone, and where each marked part starts in the result."""
    starts, total = [], 0
    for part in parts:
        starts.append(total)
        total += len(part)
    return dehyphenate_offsets("".join(parts), [starts[i] if i < len(parts) else total for i in marks])


def _rounded(size: float) -> float:
    return round(size * 2) / 2


def _first_line(text: str) -> str | None:
    line = text.strip().split("\n", 1)[0].strip()
    return clean_heading(line)


def _metadata_title(metadata) -> str | None:
    title = metadata.get("/Title") if hasattr(metadata, "get") else None
    title = " ".join(str(title).split()) if title else ""
    return None if _JUNK_TITLES.match(title) else clean_heading(title)


def _metadata_date(metadata) -> str | None:
    raw = metadata.get("/CreationDate") if hasattr(metadata, "get") else None
    match = _PDF_DATE.match(str(raw or "").strip())
    if not match or not match.group(2) or not match.group(3):
        return None
    year, month, day = match.groups()
    return f"{year}-{month}-{day}" if 1 <= int(month) <= 12 and 1 <= int(day) <= 31 else None


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split())[:120]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__

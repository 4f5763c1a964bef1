"""Word (.docx) text with headings, read with python-docx (MIT licence).

Paragraphs and tables in document order; a table becomes one line per row, cells joined by
" | "; paragraphs styled "Heading N" become headings of level N (a "Title" paragraph is the
title). Title from the core properties, else the Title paragraph, else the first heading; date
from the core properties' creation time. A zip bomb (the parts declare more bytes unpacked than
the worker may hold) or a file that is not a valid package is skipped.

This runs inside the extraction worker (extraction.py), which bounds its time and memory.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from .extracted import Extracted, Unreadable
from .hyphenation import dehyphenate_offsets
from .sections import clean_heading

_HEADING_STYLE = re.compile(r"heading\s*(\d)", re.IGNORECASE)


def extract_docx(path: Path, max_unpacked: int) -> Extracted:
    _check_package(path, max_unpacked)
    import docx

    try:
        document = docx.Document(str(path))
        blocks = list(_blocks(document))
        properties = document.core_properties
        meta_title, created = properties.title, properties.created
    except MemoryError:
        raise
    except Exception as error:  # python-docx and lxml raise many kinds on broken parts (PackageNotFoundError...)
        raise Unreadable(f"damaged Word file ({type(error).__name__})") from None
    parts: list[str] = []
    marks: list[tuple[int, int, str]] = []  # (index in parts, level, heading)
    title_paragraph = None
    for level, text in blocks:
        if level == 0:
            title_paragraph = title_paragraph or clean_heading(text)
        if parts:
            parts.append("\n\n")
        if level and (heading := clean_heading(text)):
            marks.append((len(parts), level, heading))
        parts.append(text)
    if not "".join(parts).strip():
        raise Unreadable("no text")
    starts, total = [], 0
    for part in parts:
        starts.append(total)
        total += len(part)
    text, offsets = dehyphenate_offsets("".join(parts), [starts[i] for i, _, _ in marks])
    headings = [(offset, level, heading) for offset, (_, level, heading) in zip(offsets, marks)]
    first_heading = headings[0][2] if headings else None
    return Extracted(
        text=text,
        title=clean_heading(meta_title or "") or title_paragraph or first_heading,
        date=created.date().isoformat() if created else None,
        headings=headings,
    )


def _blocks(document):
    """(heading level or None, text) for each paragraph and table, in order; level 0 is the Title."""
    from docx.table import Table

    style_names = {style.style_id: style.name for style in document.styles}  # python-docx's lookup per paragraph is slow
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in block.rows]
            text = "\n".join(row for row in rows if row.strip(" |"))
            if text:
                yield None, text
            continue
        text = block.text.strip()
        if not text:
            continue
        style = style_names.get(block._p.style or "", "") or ""  # _p.style: the paragraph's style id
        match = _HEADING_STYLE.fullmatch(style.strip())
        yield (0 if style == "Title" else int(match.group(1)) if match else None), text


def _check_package(path: Path, max_unpacked: int) -> None:
    try:
        with zipfile.ZipFile(path) as package:
            unpacked = sum(info.file_size for info in package.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise Unreadable("damaged Word file (not a zip package)") from None
    if unpacked > max_unpacked:
        raise Unreadable(f"zip bomb: its parts unpack to {unpacked:,} bytes (ASKBOT_EXTRACT_MEMORY_MB)")

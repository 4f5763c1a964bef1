"""Sections: a document's headings as paths ("Installation › Linux") and top-level break offsets.

Every format that has headings (Markdown, HTML, DOCX, PDF) records them as `Heading`s: where the
heading starts in `Document.text`, its level (1 is the outermost) and its text. A place in the
document then has a section path: the enclosing heading of each level, outermost first. A heading
that only repeats the document title (a page's `<h1>`) is left out of paths: the title is shown
beside every citation already.

Top-level sections are those of the outermost heading level that occurs at least twice (a lone
`# Title` above `## Installation` and `## Usage` makes the `##` headings the top level); the
chunker ends a chunk at each of their starts, so no chunk spans two of them when it can help it.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

SEPARATOR = " › "
MAX_HEADING_CHARS = 120  # a "heading" longer than this is a paragraph set in a large font
MAX_PATH_CHARS = 300


@dataclass(frozen=True)
class Heading:
    offset: int  # where the heading's text starts in Document.text
    level: int  # 1 is the outermost
    text: str


def section_path(headings: Sequence[Heading], offset: int, title: str = "") -> tuple[str, ...]:
    """The headings enclosing `offset`, outermost first (headings sorted by offset)."""
    stack: list[Heading] = []
    for heading in headings[: bisect.bisect_right([h.offset for h in headings], offset)]:
        while stack and stack[-1].level >= heading.level:
            stack.pop()
        stack.append(heading)
    return tuple(h.text for h in stack if not _same(h.text, title))


def section_label(headings: Sequence[Heading], start: int, end: int, title: str = "") -> str | None:
    """The path shared by both ends of a span ("Installation › Linux"), None when there is none.

    A span running from one subsection into the next is labelled by their common parent."""
    first = section_path(headings, start, title)
    last = section_path(headings, max(start, end - 1), title)
    shared = []
    for a, b in zip(first, last):
        if a != b:
            break
        shared.append(a)
    path = tuple(shared) or first or last
    label = SEPARATOR.join(path)
    if len(label) > MAX_PATH_CHARS:
        label = "…" + label[-(MAX_PATH_CHARS - 1) :]
    return label or None


def top_level_breaks(headings: Sequence[Heading], title: str = "") -> tuple[int, ...]:
    """Offsets where a top-level section starts (see the module docstring)."""
    counts = Counter(h.level for h in headings if not _same(h.text, title))
    repeated = [level for level, n in counts.items() if n >= 2]
    if not repeated:
        return ()
    top = min(repeated)
    return tuple(h.offset for h in headings if h.level <= top and not _same(h.text, title))


def clean_heading(text: str) -> str | None:
    """One line of heading text, or None when it is empty or too long to be a heading."""
    line = " ".join(text.split())
    return line if 0 < len(line) <= MAX_HEADING_CHARS else None


def _same(heading: str, title: str) -> bool:
    return heading.casefold() == title.casefold()

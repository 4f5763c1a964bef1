"""Section paths: headings become "Installation › Linux", and chunks stay inside top-level sections."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from askbot.chunking import ChunkingParams, chunk_document
from askbot.documents import Document, _parse_html, _parse_markdown
from askbot.sections import SEPARATOR, Heading, section_label, section_path, top_level_breaks

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None)
GUIDE = """# Guide

Intro text.

## Installation

Install it first.

### Linux

Run apt install askbot.

```
# a comment in code, not a heading
```

## Usage

Run askbot ask.
"""


def words(texts):
    return [len(t.split()) for t in texts]


def markdown_document(text: str) -> Document:
    title, date, body, start, headings = _parse_markdown(text)
    return Document("guide.md", title or "", date, body, start, "0" * 64, headings=headings)


def test_markdown_headings_give_paths_without_the_title():
    doc = markdown_document(GUIDE)
    assert [(h.level, h.text) for h in doc.headings] == [(1, "Guide"), (2, "Installation"), (3, "Linux"), (2, "Usage")]
    at = GUIDE.index("apt")
    assert doc.section(at, at + 3) == "Installation › Linux"
    assert doc.section(GUIDE.index("Run askbot"), len(GUIDE)) == "Usage"
    assert doc.section(0, 5) is None  # only the title encloses it
    assert doc.section_breaks() == (GUIDE.index("## Installation"), GUIDE.index("## Usage"))


def test_html_headings_are_paragraphs_of_their_own():
    title, _, text, _, headings = _parse_html(
        "<title>Guide</title><h1>Guide</h1><p>Intro.</p><h2>Install <b>it</b></h2><p>Run it.</p><h2>Use</h2><p>Ask.</p>"
    )
    assert text == "Guide\n\nIntro.\n\nInstall\nit\n\nRun it.\n\nUse\n\nAsk."
    assert [(h.offset, h.level, h.text) for h in headings] == [(0, 1, "Guide"), (15, 2, "Install it"), (36, 2, "Use")]


def test_a_span_across_subsections_is_labelled_by_their_parent():
    headings = [Heading(0, 1, "A"), Heading(10, 2, "B"), Heading(20, 2, "C")]
    assert section_label(headings, 12, 25) == "A"
    assert section_label(headings, 12, 15) == f"A{SEPARATOR}B"


def test_a_chunk_never_spans_two_top_level_sections():
    sections = "".join(f"## Part {p}\n\n" + " ".join(f"Sentence {p}.{i} has five words." for i in range(4)) + "\n\n" for p in range(3))
    doc = markdown_document("# Guide\n\n" + sections)
    chunks = chunk_document(doc, ChunkingParams(max_tokens=500, max_chars=10_000, overlap_sentences=2), words)
    assert [doc.section(c.start, c.end) for c in chunks] == ["Part 0", "Part 1", "Part 2"]


_levels = st.lists(st.integers(1, 4), min_size=1, max_size=12)


@PROPERTY
@given(_levels, st.data())
def test_paths_nest_and_end_at_the_latest_heading(levels, data):
    headings = [Heading(10 * i, level, f"h{i}") for i, level in enumerate(levels)]
    offset = data.draw(st.integers(0, 10 * len(levels)))
    path = section_path(headings, offset)
    enclosing = [h for h in headings if h.offset <= offset]
    by_text = {h.text: h for h in headings}
    assert [by_text[t].level for t in path] == sorted({by_text[t].level for t in path})  # strictly deeper
    if enclosing:
        assert path[-1] == enclosing[-1].text
        outer = [h for h in enclosing if h.level < enclosing[-1].level]
        assert len(path) == 1 + len({h.level for h in outer if not any(
            later.level <= h.level for later in enclosing[enclosing.index(h) + 1 :])})
    else:
        assert path == ()


@PROPERTY
@given(
    st.lists(st.tuples(st.integers(1, 3), st.integers(1, 6)), min_size=1, max_size=8),
    st.integers(20, 120),
    st.integers(0, 3),
)
def test_chunks_stay_within_top_level_sections(parts, budget, overlap):
    text = "".join(
        f"{'#' * level} Heading {n}\n\n" + " ".join(f"Words of sentence {n}.{i} here." for i in range(count)) + "\n\n"
        for n, (level, count) in enumerate(parts)
    )
    doc = markdown_document(text)
    breaks = top_level_breaks(doc.headings, doc.title)
    chunks = chunk_document(doc, ChunkingParams(max_tokens=budget, max_chars=10_000, overlap_sentences=overlap), words)
    for chunk in chunks:
        assert not any(chunk.start < b < chunk.end for b in breaks), (chunk, breaks)

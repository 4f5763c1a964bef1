"""Chunking: split a document into sentence-aligned, token-budgeted, overlapping chunks.

Sentences come from pysbd (rule-based; keeps "U.S." and "$1,2 billion" whole). Chunks pack
whole sentences up to a token budget and a character cap, and each chunk repeats the last
`overlap` sentences of the one before, so a sentence that leans on its predecessor ("the phone
will ...") is indexed together with the sentence that names the subject. Every span is a pair
of character offsets into `Document.text`, so the exact source text can always be shown.

A chunk never runs across a paragraph break: the paragraphs of a news digest are unrelated
stories, and packing short ones together blurred them into one passage. The overlap still opens
a chunk with the last sentence of the paragraph before, so a paragraph that names its subject
only there ("According to Lau, the phone will ... be powered by a Snapdragon 845" after "... the
OnePlus 6.") holds it; without that overlap 8 of the 46 seed-fact questions lost their passage.
A heading (a short line without a sentence end) joins the paragraph after it. Measured against
packing short paragraphs together until half the budget (benchmarks/retrieval_lab.py): see the
README's table.

A chunk also ends where a top-level section starts (Document.section_breaks), and the overlap
does not reach back across one.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .documents import Document

Span = tuple[int, int]
TokenCounter = Callable[[Sequence[str]], list[int]]

PARAGRAPH_FILL = 0.0  # share of the token budget a chunk holds before a paragraph break ends it
MAX_HEADING_CHARS = 200  # a one-line paragraph this short without a sentence end is a heading
SENTENCE_END = re.compile(r"[.!?:;]['\"”’)\]]*\s*\Z")
_LINE_BREAKS_AS_SPACES = str.maketrans("\r\n", "  ")
PARAGRAPH_BREAK = re.compile(r"\n[ \t\r]*\n\s*")  # a blank line, CRLF files too
_SEGMENT_WINDOW = 10_000  # pysbd is quadratic-ish on huge runs; feed it bounded windows


@dataclass(frozen=True)
class ChunkingParams:
    max_tokens: int
    max_chars: int
    overlap_sentences: int


@dataclass(frozen=True)
class Chunk:
    source: str
    start: int
    end: int
    sentences: tuple[Span, ...]  # absolute offsets into the document text


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans of text[start:end], stripped of surrounding white space."""
    return [span for paragraph in split_paragraphs(text, start, end) for span in paragraph]


def split_paragraphs(text: str, start: int = 0, end: int | None = None) -> list[list[Span]]:
    """The sentence spans of each paragraph of text[start:end] (blank lines separate paragraphs)."""
    end = len(text) if end is None else end
    # A line break inside a paragraph is where a line wrapped (text extracted from PDFs), not
    # where a sentence ends: pysbd reads it as a space. Same length, so offsets hold.
    unwrapped = text.translate(_LINE_BREAKS_AS_SPACES)
    paragraphs = []
    for p_start, p_end in _paragraphs(text, start, end):
        spans = [span for w_start, w_end in _windows(unwrapped, p_start, p_end) for span in _segment(unwrapped, w_start, w_end)]
        if spans:
            paragraphs.append(spans)
    return paragraphs


def _paragraphs(text: str, start: int, end: int) -> list[Span]:
    spans, cursor = [], start
    for match in PARAGRAPH_BREAK.finditer(text, start, end):
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, end))
    return [s for s in spans if text[s[0] : s[1]].strip()]


def _windows(text: str, start: int, end: int) -> list[Span]:
    spans = []
    while end - start > _SEGMENT_WINDOW:
        cut = text.rfind(" ", start + _SEGMENT_WINDOW // 2, start + _SEGMENT_WINDOW)
        cut = cut + 1 if cut > 0 else start + _SEGMENT_WINDOW
        spans.append((start, cut))
        start = cut
    spans.append((start, end))
    return spans


def _segment(text: str, start: int, end: int) -> list[Span]:
    spans, cursor = [], start
    for sentence in _segmenter().segment(text[start:end]):
        piece = sentence.strip()
        if not piece:
            continue
        found = text.find(piece, cursor, end)
        if found < 0:  # pysbd altered the text; fall back to the rest of the window
            found = cursor
            piece = text[cursor:end].strip()
            if not piece:
                break
            found = text.find(piece, cursor, end)
        if skipped := _stripped(text, cursor, found):  # pysbd drops some text ("the. ?!" loses "?!")
            spans.append(skipped)
        spans.append((found, found + len(piece)))
        cursor = found + len(piece)
    if rest := _stripped(text, cursor, end):
        spans.append(rest)
    return spans


def _stripped(text: str, start: int, end: int) -> Span | None:
    """The span of text[start:end] without surrounding white space; None when nothing is left."""
    piece = text[start:end]
    if not piece.strip():
        return None
    start += len(piece) - len(piece.lstrip())
    return start, start + len(piece.strip())


def chunk_document(doc: Document, params: ChunkingParams, count_tokens: TokenCounter) -> list[Chunk]:
    """Pack the document's sentences into chunks within the token budget and character cap."""
    paragraphs = split_paragraphs(doc.text, doc.body_start)
    sentences = [span for paragraph in paragraphs for span in paragraph]
    opens = {paragraph[0][0] for paragraph in paragraphs}  # where paragraphs start
    in_heading = {span for paragraph in paragraphs if _is_heading(doc.text, paragraph) for span in paragraph}
    budget = max(16, params.max_tokens)
    sentences, tokens = _fit_long_sentences(doc.text, sentences, count_tokens, budget, params.max_chars)
    breaks = doc.section_breaks()
    section = [bisect.bisect_right(breaks, start) for start, _ in sentences]  # each sentence's section
    chunks: list[Chunk] = []
    i = covered = 0  # sentences before `covered` are in some chunk already
    while i < len(sentences):
        j, used = i, 0
        while j < len(sentences):
            chars = sentences[j][1] - sentences[i][0]
            if j > i and (used + tokens[j] > budget or chars > params.max_chars):
                break
            # past the overlap, and never a one-sentence chunk for a one-sentence paragraph
            if j > max(i + 1, covered) and sentences[j][0] in opens and used >= PARAGRAPH_FILL * budget:
                if not all(span in in_heading for span in sentences[i:j]):  # a heading stays with its text
                    break
            if section[j] != section[i]:
                break
            used += tokens[j]
            j += 1
        if j <= covered:  # the overlap left no room for a new sentence: this chunk would repeat one
            i = covered
            continue
        group = tuple(sentences[i:j])
        chunks.append(Chunk(doc.source, group[0][0], group[-1][1], group))
        covered = j
        if j >= len(sentences):
            break
        i = max(i + 1, j - params.overlap_sentences)
        while section[i] != section[j]:  # the overlap stays in the new chunk's section
            i += 1
    return chunks


def _is_heading(text: str, paragraph: list[Span]) -> bool:
    """A paragraph that reads as a heading or title line: one short line, no sentence end."""
    (start, end), *rest = paragraph
    return not rest and end - start <= MAX_HEADING_CHARS and not SENTENCE_END.search(text, start, end)


def _fit_long_sentences(
    text: str, sentences: list[Span], count_tokens: TokenCounter, budget: int, max_chars: int
) -> tuple[list[Span], list[int]]:
    """Cut any sentence over the budget into word-aligned pieces that fit."""
    tokens = count_tokens([text[a:b] for a, b in sentences])
    if all(t <= budget for t in tokens) and all(b - a <= max_chars for a, b in sentences):
        return sentences, tokens
    fitted: list[Span] = []
    fitted_tokens: list[int] = []
    for (a, b), n in zip(sentences, tokens):
        if n <= budget and b - a <= max_chars:
            fitted.append((a, b))
            fitted_tokens.append(n)
            continue
        # Pieces sized by characters, then checked: ~4 chars per token is typical English,
        # so start there and halve until every piece fits.
        width = min(max_chars, budget * 4)
        while True:
            pieces = _cut(text, a, b, width)
            counts = count_tokens([text[p:q] for p, q in pieces])
            if all(c <= budget for c in counts) or width <= 32:
                break
            width //= 2
        fitted.extend(pieces)
        fitted_tokens.extend(counts)
    return fitted, fitted_tokens


def _cut(text: str, start: int, end: int, width: int) -> list[Span]:
    pieces = []
    while end - start > width:
        cut = text.rfind(" ", start + width // 2, start + width)
        cut = cut if cut > start else start + width
        pieces.append(_stripped(text, start, cut))  # "a  b" cut at the second space keeps one
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        pieces.append((start, end))
    return pieces

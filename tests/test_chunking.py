"""Chunking: sentence-aligned, budgeted, overlapping, and paragraph-aware."""

from __future__ import annotations

from askbot.chunking import ChunkingParams, chunk_document, split_paragraphs
from askbot.documents import Document


def words(texts):
    return [len(t.split()) for t in texts]


def document(text: str) -> Document:
    return Document("a.txt", "A", None, text, 0, "0" * 64)


def sentence(i: int, n: int = 10) -> str:
    return f"Sentence {i} " + " ".join(f"w{i}x{j}" for j in range(n - 3)) + " end."


def test_paragraphs_keep_their_sentences_apart():
    text = "One. Two.\n\nThree.\n  \nFour."
    assert [[text[a:b] for a, b in p] for p in split_paragraphs(text)] == [["One.", "Two."], ["Three."], ["Four."]]
    crlf = text.replace("\n", "\r\n")
    assert [[crlf[a:b] for a, b in p] for p in split_paragraphs(crlf)] == [["One.", "Two."], ["Three."], ["Four."]]


def test_a_chunk_ends_at_a_paragraph_break_and_the_next_opens_with_the_overlap():
    first = " ".join(sentence(i) for i in range(3))
    second = " ".join(sentence(i) for i in range(3, 6))
    doc = document(f"{first}\n\n{second}")
    chunks = chunk_document(doc, ChunkingParams(max_tokens=200, max_chars=10_000, overlap_sentences=1), words)
    assert [doc.text[c.start : c.end] for c in chunks] == [first, f"{sentence(2)}\n\n{second}"]


def test_short_paragraphs_are_not_packed_together():
    """News digests: each paragraph is another story. A one-sentence paragraph comes with the
    one before it (the overlap), never with a third."""
    stories = [sentence(i) for i in range(4)]  # four one-sentence paragraphs
    doc = document("\n\n".join(stories))
    chunks = chunk_document(doc, ChunkingParams(max_tokens=100, max_chars=10_000, overlap_sentences=1), words)
    assert [doc.text[c.start : c.end] for c in chunks] == [f"{a}\n\n{b}" for a, b in zip(stories, stories[1:])]


def test_long_paragraph_splits_with_overlap_and_within_caps():
    doc = document(" ".join(sentence(i) for i in range(12)))
    params = ChunkingParams(max_tokens=34, max_chars=400, overlap_sentences=1)
    chunks = chunk_document(doc, params, words)
    assert len(chunks) > 3
    for before, after in zip(chunks, chunks[1:]):
        assert after.sentences[0] == before.sentences[-1]
    assert all(c.end - c.start <= 400 for c in chunks)
    assert all(sum(words([doc.text[a:b] for a, b in c.sentences])) <= 30 for c in chunks)


def test_line_wraps_inside_a_paragraph_do_not_end_sentences():
    text = "The pandemic of 1918,\nwhich caused 50 million deaths, remains an\nominous warning. New\ninformation is emerging.\n\nNext paragraph."
    assert [[text[a:b] for a, b in p] for p in split_paragraphs(text)] == [
        ["The pandemic of 1918,\nwhich caused 50 million deaths, remains an\nominous warning.", "New\ninformation is emerging."],
        ["Next paragraph."],
    ]


def test_a_heading_line_joins_the_paragraph_after_it():
    doc = document(f"Results\n\n{sentence(0)}\n\n{sentence(1)}")
    chunks = chunk_document(doc, ChunkingParams(max_tokens=100, max_chars=10_000, overlap_sentences=1), words)
    assert [doc.text[c.start : c.end] for c in chunks] == [f"Results\n\n{sentence(0)}", f"{sentence(0)}\n\n{sentence(1)}"]

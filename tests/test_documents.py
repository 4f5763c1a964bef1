"""Loading documents: titles, dates, formats, and the text offsets refer to."""

from pathlib import Path

from askbot.chunking import ChunkingParams, chunk_document, split_sentences
from askbot.documents import load, scan
from askbot.settings import Settings

from conftest import SEED_DOCS


def load_one(folder: Path, name: str, content: str | bytes):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    warnings: list[str] = []
    files = [f for f in scan(folder, 10**7, warnings.append) if f.source == Path(name).as_posix()]
    return (load(files[0], warnings.append) if files else None), warnings


def test_seed_article_date_title_and_body(tmp_path):
    doc, warnings = load_one(tmp_path, "OnePlus-eyes-US-carriers.txt", (SEED_DOCS / "OnePlus-eyes-US-carriers-after-Huawei-deal-falls-through.txt").read_text())
    assert warnings == []
    assert doc.date == "2018-01-12"
    assert doc.title == "OnePlus eyes US carriers"
    assert doc.text[doc.body_start :].startswith("After months of being rumored")


def test_markdown_front_matter_and_heading(tmp_path):
    doc, _ = load_one(tmp_path, "a.md", "---\ntitle: Release notes\ndate: 2024-05-01\n---\n# Ignored heading\nVersion 2 adds search.\n")
    assert (doc.title, doc.date) == ("Release notes", "2024-05-01")
    assert doc.text[doc.body_start :].startswith("# Ignored heading")
    doc, _ = load_one(tmp_path, "sub/b.md", "Intro line.\n\n## Getting started\nRun it.\n")
    assert doc.source == "sub/b.md" and doc.title == "Getting started" and doc.date is None


def test_html_text_title_and_no_scripts(tmp_path):
    html = "<html><head><title>FAQ</title><script>var x = 'secret';</script></head><body><h1>Questions</h1><p>Shipping takes <b>3 days</b>.</p><style>p{}</style></body></html>"
    doc, _ = load_one(tmp_path, "faq.html", html)
    assert doc.title == "FAQ"
    assert "Shipping takes" in doc.text and "3 days" in doc.text
    assert "secret" not in doc.text and "p{}" not in doc.text


def test_title_from_file_name_and_utf16(tmp_path):
    doc, _ = load_one(tmp_path, "2020-01-01_quarterly-report.txt", "Revenue grew.".encode("utf-16"))
    assert doc.title == "Quarterly report"
    assert doc.text.strip() == "Revenue grew."


def test_empty_and_unsupported_files_are_skipped_with_one_line(tmp_path):
    doc, warnings = load_one(tmp_path, "empty.txt", "   \n")
    assert doc is None and warnings == ["skipped empty.txt: no text"]
    doc, warnings = load_one(tmp_path, "image.png", b"\x89PNG")
    assert doc is None and warnings == ["skipped image.png: unsupported file type"]


def test_sentences_keep_abbreviations_and_amounts_whole():
    text = "ZTE received a record $1,2 billion fine. The U.S. government was wary. Mr. Lau said so."
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "ZTE received a record $1,2 billion fine.",
        "The U.S. government was wary.",
        "Mr. Lau said so.",
    ]


def test_chunks_overlap_keep_offsets_and_respect_the_budget(tmp_path):
    from askbot.embedding import load_embedder, resolve_model

    embedder = load_embedder(resolve_model(Settings().model))
    doc, _ = load_one(tmp_path, "seed.txt", (SEED_DOCS / "OnePlus-eyes-US-carriers-after-Huawei-deal-falls-through.txt").read_text())
    chunks = chunk_document(doc, ChunkingParams(max_tokens=80, max_chars=400, overlap_sentences=1), embedder.count_tokens)
    assert len(chunks) > 3
    tokens = lambda span: embedder.count_tokens([doc.text[span[0] : span[1]]])[0]  # noqa: E731
    for before, after in zip(chunks, chunks[1:]):
        shared, following = before.sentences[-1], after.sentences[0]
        if len(before.sentences) > 1 and following != shared:  # a one-sentence chunk can't share its only sentence
            # No overlap only when the shared sentence and the next one do not fit together
            # (a chunk of the shared sentence alone would repeat part of the one before).
            too_long = following[1] - shared[0] > 400
            assert too_long or tokens(shared) + tokens(following) > 80, "one sentence of overlap"
        assert after.start > before.start and after.end > before.end
    for chunk in chunks:
        assert chunk.end - chunk.start <= 400
        assert doc.text[chunk.start : chunk.end].strip() == doc.text[chunk.start : chunk.end]
        assert sum(embedder.count_tokens([doc.text[a:b] for a, b in chunk.sentences])) <= 80  # no title is prepended
    covered = set().union(*(range(a, b) for c in chunks for a, b in c.sentences))
    assert all(i in covered for i, ch in enumerate(doc.text) if i >= doc.body_start and not ch.isspace())

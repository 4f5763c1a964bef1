"""Property tests (hypothesis): the chunker, the loader and the question path on generated input.

- Chunker: every span maps back to the exact source text, nothing is lost between chunks (each
  non-space character of the body is inside a sentence of some chunk), chunks respect the
  character cap and move forward.
- Loader: any bytes under any supported name give a Document or one warning, never an exception;
  a Document's text holds no control characters and its title is one short line.
- Question path: any string gives an Answer or a UsageError; a passage is the exact document text
  at its offsets, and the answer is the exact passage text at its offsets.

Examples are fixed per run (derandomize) so a failure reproduces; no deadlines (shared machines).
"""

from __future__ import annotations

import re
import string
import unicodedata
from functools import lru_cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from askbot.chunking import ChunkingParams, chunk_document
from askbot.documents import Document, SourceFile, load
from askbot.errors import UsageError
from askbot.settings import BUNDLED_MODEL
from conftest import SEED_DOCS

CHUNKER_EXAMPLES = 400
LOADER_EXAMPLES = 400
QUESTION_EXAMPLES = 80
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _settings(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@lru_cache(maxsize=1)
def _count_tokens():
    from askbot.embedding import load_embedder, resolve_model

    return load_embedder(resolve_model(BUNDLED_MODEL)).count_tokens


# -- chunker ------------------------------------------------------------------------------------

WORDS = st.sampled_from(
    ["the", "OnePlus", "6", "U.S.", "Mr.", "Dr.", "e.g.", "$1,2", "billion", "3.14", "Inc.", "—", "...", "?!",
     "(paren)", '"quoted"', "日本語の文章。", "Zürich", "😀", "a-b", "x" * 150, "snapdragon845", "'", "-", "•"]
)
SEPARATORS = st.sampled_from([" ", " ", " ", "  ", ". ", "! ", "? ", "\n", "\n\n", "\t", "\r\n", "\n \n", "\u00a0", "\u2028"])
PROSE = st.lists(st.tuples(WORDS, SEPARATORS), max_size=250).map(lambda pairs: "".join(w + s for w, s in pairs))
NOISE = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=1500)
PARAMS = st.builds(ChunkingParams, st.integers(16, 200), st.integers(40, 1200), st.integers(0, 3))


@_settings(CHUNKER_EXAMPLES)
@given(body=st.one_of(PROSE, NOISE), prefix=st.sampled_from(["", "date 2018-01-12\n", "   \n"]), params=PARAMS)
def test_chunks_map_back_to_the_source_and_lose_nothing(body, prefix, params):
    text = prefix + body
    doc = Document("doc.txt", "A title", None, text, len(prefix), "0" * 64)
    chunks = chunk_document(doc, params, _count_tokens())

    covered = bytearray(len(text))
    previous = None
    for chunk in chunks:
        assert doc.body_start <= chunk.start < chunk.end <= len(text)
        assert chunk.end - chunk.start <= params.max_chars
        assert (chunk.start, chunk.end) == (chunk.sentences[0][0], chunk.sentences[-1][1])
        for (a, b), following in zip(chunk.sentences, [*chunk.sentences[1:], None]):
            piece = text[a:b]
            assert piece and piece == piece.strip(), (a, b, piece)
            assert following is None or b <= following[0]
            covered[a:b] = b"\x01" * (b - a)
        if previous is not None:
            assert previous.start < chunk.start and previous.end < chunk.end
        previous = chunk

    lost = [i for i in range(doc.body_start, len(text)) if not text[i].isspace() and not covered[i]]
    assert not lost, f"lost {text[lost[0]]!r} at {lost[0]}"


# -- loader -------------------------------------------------------------------------------------

PREFIXES = st.sampled_from(
    [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"date 2018-01-12\n", b"---\ntitle: T\ndate: 2020-02-02\n---\n",
     b"---\ntitle: [a, b]\ndate: not-a-date\n---\n", b"---\n: : :\n---\n", b"<html><head><title>", b"<!doctype html><body>",
     b"<meta name='date' content='garbage'>", b"# Heading\n"]
)
BYTES = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=1000).map(lambda t: t.encode("utf-8")),
    st.text(max_size=300).map(lambda t: t.encode("utf-16")),
    st.lists(st.sampled_from([b"<div>", b"</div>", b"<p>", b"text ", b"&#27;", b"<script>x</script>", b"\x1b[2J", b"\x00"]), max_size=200).map(b"".join),
)


@_settings(LOADER_EXAMPLES)
@given(prefix=PREFIXES, body=BYTES, suffix=st.sampled_from([".txt", ".md", ".html"]))
def test_loader_gives_a_document_or_one_warning(tmp_path_factory, prefix, body, suffix):
    path = tmp_path_factory.getbasetemp() / f"property-input{suffix}"
    path.write_bytes(prefix + body)
    warnings: list[str] = []
    doc = load(SourceFile(path.name, path, ""), warnings.append)
    if doc is None:
        assert len(warnings) == 1 and "\n" not in warnings[0]
        return
    assert warnings == []
    assert 0 <= doc.body_start <= len(doc.text) and doc.text[doc.body_start :].strip()
    assert not _CONTROL.search(doc.text)
    assert doc.title and doc.title.isprintable() and len(doc.title) <= 300
    assert doc.date is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", doc.date)


# -- question path ------------------------------------------------------------------------------

ANY_CHARACTER = st.characters(codec=None, exclude_categories=())  # surrogates and controls included
QUESTIONS = st.one_of(
    st.text(alphabet=ANY_CHARACTER, max_size=300),
    st.lists(st.sampled_from(["What", "chip", "OnePlus", "CEO", "the", "@everyone", "<@&1>", "```", "?", "\x00", "\u202e", "\n"]), max_size=30).map(" ".join),
    st.text(alphabet=string.printable, min_size=1900, max_size=2100),
)


@lru_cache(maxsize=1)
def _seed_text() -> dict[str, str]:
    files = {p.relative_to(SEED_DOCS).as_posix(): p for p in SEED_DOCS.rglob("*.txt")}
    return {source: load(SourceFile(source, path, ""), lambda _: None).text for source, path in files.items()}


@_settings(QUESTION_EXAMPLES)
@given(question=QUESTIONS)
def test_any_question_gets_an_answer_or_a_usage_error(seed_engine, question):
    try:
        answer = seed_engine.ask(question)
    except UsageError as error:
        assert str(error) == "the question is empty" or str(error).startswith("the question is too long")
        return
    assert not any(unicodedata.category(c) in {"Cc", "Cf", "Cs"} for c in answer.question)
    assert answer.question == answer.question.strip()
    assert 0.0 <= answer.confidence <= 1.0
    assert 1 <= len(answer.passages) <= seed_engine.settings.top_k
    for passage in answer.passages:
        assert passage.text == _seed_text()[passage.source][passage.start : passage.end]
    if answer.answered:
        assert answer.passages[0].text[answer.answer_start : answer.answer_end] == answer.answer
    else:
        assert answer.answer is None

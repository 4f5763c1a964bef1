"""The seed article as a PDF, as a Word file and as a fetched web page, indexed together with the
real model: each answers "What chip powers the OnePlus 6?" and cites what a reader can open."""

from __future__ import annotations

import datetime

import pytest

from askbot import fetch
from askbot.render import source_line
from doc_factory import SEED_TITLE, make_docx, make_pdf, seed_html, seed_sections, serve

QUESTION = "What chip powers the OnePlus 6?"
CREATED = datetime.datetime(2018, 1, 12, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def answered(tmp_path_factory):
    from askbot.engine import Engine
    from askbot.settings import Settings

    docs = tmp_path_factory.mktemp("formats")
    make_pdf(docs / "oneplus.pdf", seed_sections(), title=SEED_TITLE, created=CREATED)
    make_docx(docs / "oneplus.docx", seed_sections(), title=SEED_TITLE, created=CREATED.replace(tzinfo=None))

    def answer(handler) -> None:
        body = seed_html()
        handler.send_response(200 if handler.path == "/news/oneplus.html" else 404)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.end_headers()
        handler.wfile.write(body if handler.path == "/news/oneplus.html" else b"")

    with serve(answer) as base:
        report = fetch.fetch([f"{base}/news/oneplus.html"], docs, sitemap=False, max_pages=5, delay=0, timeout=10,
                             max_bytes=1_000_000, notify=print)
    assert (report.fetched, report.skipped) == (1, 0)
    engine = Engine.open(Settings(docs_dir=docs, index_dir=tmp_path_factory.mktemp("formats-index")), notify=lambda _: None)
    try:
        yield base, engine.ask(QUESTION, k=10)
    finally:
        engine.close()


def best_from(answer, suffix: str):
    return next(p for p in answer.passages if p.source.endswith(suffix))


def test_the_answer_is_the_chip(answered):
    _, answer = answered
    assert answer.answered and "Snapdragon 845" in answer.answer


def test_the_pdf_passage_cites_page_one(answered):
    p = best_from(answered[1], ".pdf")
    assert "Snapdragon 845" in p.text
    assert source_line(p) == f"{SEED_TITLE} (2018-01-12) — oneplus.pdf, p. 1"


def test_the_word_passage_cites_the_file(answered):
    p = best_from(answered[1], ".docx")
    assert "Snapdragon 845" in p.text and (p.page_start, p.url) == (None, None)
    assert source_line(p).startswith(f"{SEED_TITLE} (2018-01-12) — oneplus.docx, chars ")


def test_the_fetched_page_cites_its_url(answered):
    base, answer = answered
    p = best_from(answer, "oneplus.html")
    assert "Snapdragon 845" in p.text and "cookies" not in p.text
    assert p.url == f"{base}/news/oneplus.html"
    assert source_line(p) == f"{SEED_TITLE} — {base}/news/oneplus.html"

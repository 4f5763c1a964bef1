"""Answer spans: a sentence that points back brings its antecedent, but never across a paragraph."""

from __future__ import annotations

import pytest

from askbot.engine import Engine
from askbot.settings import Settings

FOUNDING = "Acme Corporation was founded in 1990 in Springfield by Jane Roe."
PRODUCT = "It makes anvils for coyotes and sells them in forty countries."
OTHER = "The weather in Springfield is mild in spring. Rain falls mostly in November."


@pytest.fixture
def ask(tmp_path):
    engines = []

    def ask_in(text: str, question: str):
        docs = tmp_path / f"docs{len(engines)}"
        docs.mkdir()
        (docs / "acme.txt").write_text(text, encoding="utf-8")
        engine = Engine.open(Settings(docs_dir=docs, index_dir=tmp_path / f"index{len(engines)}"), notify=lambda _: None)
        engines.append(engine)
        return engine.ask(question)

    yield ask_in
    for engine in engines:
        engine.close()


def test_a_sentence_that_points_back_brings_the_one_before(ask):
    answer = ask(f"{FOUNDING} {PRODUCT}\n\n{OTHER}", "What does Acme Corporation sell to coyotes?")
    assert answer.answered
    assert answer.answer == f"{FOUNDING} {PRODUCT}"


def test_an_answer_never_spans_a_paragraph_break(ask):
    answer = ask(f"{FOUNDING}\n\n{PRODUCT}\n\n{OTHER}", "What does Acme Corporation sell to coyotes?")
    assert answer.answered
    assert answer.answer == PRODUCT

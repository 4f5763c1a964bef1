"""Issue 11, part 1: the seed article's facts hold whatever the file is called and wherever it sits.

tests/data/seed-facts.jsonl holds each fact twice, as written ("What chip powers the OnePlus 6?")
and as people type in chat ("what cpu does the oneplus 6 have"). The article is indexed as
`article.txt`, as `sub/9c1e.txt`, and as `seed article.txt` beside slices of squad-dev and
news-dev; every question must find a passage holding its gold answer, and which passages are
found must not depend on the file's name or folder.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from askbot import evaluation as ev
from askbot.engine import Engine
from askbot.settings import Settings

from conftest import SEED_DOCS, SLICE

DATA = Path(__file__).parent / "data"
FACTS = ev.load_questions(DATA / "seed-facts.jsonl")
ARTICLE = next(SEED_DOCS.glob("*.txt"))
LAYOUTS = {
    "article.txt": "article.txt",
    "sub/9c1e.txt": "sub/9c1e.txt",
    "beside squad and news": "seed article.txt",
}


def _index(folder: Path, article_name: str, neighbours: bool) -> Engine:
    docs = folder / "docs"
    (docs / article_name).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ARTICLE, docs / article_name)
    if neighbours:
        for slice_docs in (SLICE / "docs", DATA / "news-slice" / "docs"):
            for path in slice_docs.glob("*.txt"):
                shutil.copyfile(path, docs / path.name)
    return Engine.open(Settings(docs_dir=docs, index_dir=folder / "index"), notify=lambda _: None)


@pytest.fixture(scope="module")
def answers(tmp_path_factory) -> Callable[[str], list]:
    """Every seed question's answer under a layout (or the article's own name), each layout
    indexed once, when a test first needs it (one build per test keeps each within its timeout)."""
    found: dict[str, list] = {}

    def under(name: str) -> list:
        if name not in found:
            article_name = LAYOUTS.get(name, ARTICLE.name)
            engine = _index(tmp_path_factory.mktemp("seed-layout"), article_name, neighbours=name.startswith("beside"))
            try:
                found[name] = engine.ask_many([q.question for q in FACTS], ev.K)
            finally:
                engine.close()
        return found[name]

    return under


def test_seed_facts_file_asks_each_fact_as_written_and_as_typed_in_chat():
    styles: dict[str, set[str]] = {}
    for line in (DATA / "seed-facts.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        styles.setdefault(record["fact"], set()).add(record["style"])
    assert len(styles) >= 20
    assert all(s == {"written", "chat"} for s in styles.values())
    chat = [q.question for q in FACTS if q.id.endswith("/chat")]
    assert all(q == q.lower() and not q.endswith("?") for q in chat)
    assert any("cpu" in q for q in chat) and any("when's" in q for q in chat)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_every_seed_fact_is_in_the_first_passages(answers, layout):
    found = answers(layout)
    missed = [q.question for q, a in zip(FACTS, found) if ev.outcome(q, a, 0.0).rank not in (1, 2, 3)]
    assert missed == [], "no passage among the first three holds the fact"
    assert all(a.passages[0].source == LAYOUTS[layout] for a in found), "a neighbour's passage came first"


def test_passages_do_not_depend_on_the_file_name_or_folder(answers):
    def found(name):
        return [[(p.start, p.end) for p in a.passages] for a in answers(name)]

    assert found("article.txt") == found("sub/9c1e.txt") == found("own name")


# Of the 46 questions, the fitted answer model answers this many rightly in every layout (measured
# 40 in each). The rest: "processor"/"cpu" for "chip" asked of "the next OnePlus flagship" (the
# small model does not tie them to the sentence that answers), the CES questions (declined: the
# sentence never says "trade show" or "website"), and two vague chat questions ("whats next for
# oneplus", "where has zte been selling for a few years").
ANSWERED_RIGHT = 40


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_seed_facts_are_answered(answers, layout):
    right = [q.question for q, a in zip(FACTS, answers(layout)) if a.answered and ev.holds(a.answer, q.answers)]
    assert len(right) >= ANSWERED_RIGHT
    assert {"What chip powers the OnePlus 6?", "what cpu does the oneplus 6 have", "when's the oneplus 6 out"} <= set(right)


def test_answers_do_not_depend_on_the_file_name_or_folder(answers):
    def said(name):
        return [(a.answer, round(a.confidence, 6)) for a in answers(name)]

    assert said("article.txt") == said("sub/9c1e.txt") == said("own name")

"""Passage-recall floors on small slices of the news and papers dev sets (issue 11).

news-slice: four weekly digests whose paragraphs are unrelated stories; papers-slice: two long
PDF-extracted papers (one paragraph of 25,000 characters, hyphenated line breaks, references).
Floors sit where this branch measured them, less about one question. The squad-dev slice has its own floors in test_quality.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from askbot import evaluation as ev
from askbot.chunking import PARAGRAPH_BREAK
from askbot.settings import Settings

DATA = Path(__file__).parent / "data"
# slice: (recall@1, recall@3) floors
# Recall@1 counts the passage shown first, and the answer's passage is shown first: the fitted
# answer model moves it. Measured with it: news 0.925 / 1.000 (0.975 with the old hand-tuned
# selector), papers above 0.39 / 0.50.
FLOORS = {"news-slice": (0.90, 0.975), "papers-slice": (0.39, 0.50)}


@pytest.fixture(scope="module", params=list(FLOORS))
def slice_outcomes(request, tmp_path_factory):
    folder = DATA / request.param
    settings = Settings(docs_dir=folder / "docs", index_dir=tmp_path_factory.mktemp(request.param))
    questions = ev.load_questions(folder / "questions.jsonl")
    with ev.evaluation_engine(settings, fresh=False, notify=lambda _: None) as (engine, _):
        answers = engine.ask_many([q.question for q in questions], ev.K)
        yield request.param, [ev.outcome(q, a, 0.0) for q, a in zip(questions, answers)], answers


def test_passage_recall_floors(slice_outcomes):
    name, outcomes, _ = slice_outcomes
    report = ev.summarise(outcomes)
    floor_1, floor_3 = FLOORS[name]
    measured = f"{name}: recall@1 {report.recall_at_1:.3f}, @3 {report.recall_at_3:.3f}"
    assert report.recall_at_1 >= floor_1 and report.recall_at_3 >= floor_3, measured


def test_a_news_passage_holds_one_story_and_every_passage_fits_the_cap(slice_outcomes):
    """A news passage is one story, opened at most by the last sentence of the one before."""
    name, _, answers = slice_outcomes
    for answer in answers:
        for passage in answer.passages:
            assert len(passage.text) <= 1000
            if name == "news-slice":
                assert len(PARAGRAPH_BREAK.findall(passage.text)) <= 1, passage.text

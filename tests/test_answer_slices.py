"""Answer floors on the news and papers slices (issue 11), asked through `askbot eval` with
both sets at once, each with the issue's off-topic pairing.

Measured when the floors were set (the fitted answer model; main before it in brackets):
news-slice hit@1 0.850 (0.675), recall@1 0.950 (0.950), answered 0.950 (0.725), off-topic
declined 0.993 (1.000); papers-slice hit@1 0.164 (0.098), recall@1 0.377 (0.344), answered
0.885 (0.984), declined 0.975 (0.950). Passage recall is the retrieval side's (its floors live
with it); these floors guard the answer choice and the abstention, a few points below.
"""

from __future__ import annotations

import json

import pytest

from conftest import SLICE

DATA = SLICE.parent
NEWS, PAPERS = DATA / "news-slice", DATA / "papers-slice"


@pytest.fixture(scope="module")
def slices(tmp_path_factory) -> dict[str, dict]:
    """The eval JSON of both slices: news asked the squad slice's questions as off-topic, papers
    the news slice's (the issue's pairing, one slice per domain)."""
    from click.testing import CliRunner

    from askbot.cli import cli

    indexes = tmp_path_factory.mktemp("slice-indexes")
    args = ["eval", str(NEWS), str(PAPERS), "--index", str(indexes), "--json",
            "--offtopic-from", f"news-slice={SLICE / 'questions.jsonl'}", "--offtopic-from", "papers-slice=news-slice"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return {r["set"]: r for r in json.loads(result.stdout)}


@pytest.mark.parametrize(
    ("name", "hit", "recall_1", "answered", "declined"),
    [
        ("news-slice", 0.80, 0.90, 0.90, 0.95),
        ("papers-slice", 0.13, 0.33, 0.85, 0.90),  # declined 0.925 (37 of 40) with the model refitted on issue 11's retrieval
    ],
)
def test_slice_floors(slices, name, hit, recall_1, answered, declined):
    report = slices[name]
    assert report["answer_hit_at_1"] >= hit
    assert report["recall_at_1"] >= recall_1
    assert report["answered_rate"] >= answered
    assert report["offtopic_abstention_rate"] >= declined


def test_slices_report_where_off_topic_came_from(slices):
    assert slices["news-slice"]["offtopic_from"] == "questions.jsonl"
    assert slices["papers-slice"]["offtopic_from"] == "news-slice"
    assert slices["papers-slice"]["offtopic_questions"] == 40

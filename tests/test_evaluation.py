"""`askbot eval`: reading question files, the metrics, the table/JSON output and --tune."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from askbot import evaluation as ev
from askbot.answer import Answer, Passage
from askbot.errors import UsageError
from conftest import SEED_DOCS

QUESTIONS = [
    {"id": "chip", "question": "What chip powers the OnePlus 6?", "answers": ["snapdragon  845"]},
    {"id": "ceo", "question": "Who is the CEO of OnePlus?", "answers": ["Pete Lau"]},
    {"id": "fine", "question": "How much was ZTE fined?", "answers": ["$1,2 billion"]},
    {"id": "nope", "question": "Which phone did Huawei want to launch in the US?", "answers": ["no such gold string"]},
]
OFF_TOPIC = [{"question": "What is the capital of France?"}, {"question": "Who wrote Pride and Prejudice?"}]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def index_copy(seed_index, tmp_path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(seed_index, target)
    return target


def passage(text: str) -> Passage:
    return Passage(0, text, "a.txt", "A", None, 1.0, 0, len(text))


def test_gold_match_ignores_case_and_white_space():
    assert ev.holds("Powered by a  Snapdragon\n845 chip", ["snapdragon 845"])
    assert not ev.holds("Powered by a Snapdragon", ["snapdragon 845"])
    assert not ev.holds(None, ["anything"])


def test_outcome_ranks_the_first_passage_holding_gold():
    answer = Answer("q", True, "It is red.", 0.9, [passage("blue sky"), passage("a RED car"), passage("red")])
    o = ev.outcome(ev.Question("1", "q", ("red",)), answer, 0.01)
    assert (o.rank, o.hit) == (2, True)
    abstained = Answer("q", False, None, 0.1, [passage("red")])
    o = ev.outcome(ev.Question("1", "q", ("red",)), abstained, 0.01)
    assert (o.rank, o.hit) == (1, False)


def test_summary_metrics():
    q = ev.Question("1", "q", ("x",))
    outcomes = [
        ev.Outcome(q, True, "x", 0.9, 1, True, 0.010),
        ev.Outcome(q, True, "y", 0.8, 2, False, 0.020),
        ev.Outcome(q, False, None, 0.1, None, False, 0.030),
        ev.Outcome(q, True, "x", 0.7, 4, True, 0.040),
    ]
    off = [Answer("o", False, None, 0.1, []), Answer("o", True, "z", 0.9, [])]
    r = ev.summarise(outcomes, off, build_seconds=1.5, misses=5)
    assert r.answer_hit_at_1 == 0.5
    assert (r.recall_at_1, r.recall_at_3, r.recall_at_10) == (0.25, 0.5, 0.75)
    assert r.mrr == pytest.approx((1 + 0.5 + 0 + 0.25) / 4)
    assert r.answered_rate == 0.75
    assert r.offtopic_abstention_rate == 0.5
    assert [m.answer for m in r.misses] == ["y", None]
    assert [m.answer for m in r.offtopic_answered] == ["z"]


def test_bad_question_files_name_the_line(tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "ok?", "answers": ["a"]}\nnot json\n', encoding="utf-8")
    with pytest.raises(UsageError, match=r"q\.jsonl:2: not a JSON object"):
        ev.load_questions(bad)
    write_jsonl(bad, [{"question": "no gold?"}])
    with pytest.raises(UsageError, match="at least one gold string"):
        ev.load_questions(bad)
    assert ev.load_questions(bad, labelled=False)[0].question == "no gold?"
    bad.write_text("\n", encoding="utf-8")
    with pytest.raises(UsageError, match="holds no questions"):
        ev.load_questions(bad)


def test_eval_prints_the_table(cli, index_copy, tmp_path):
    questions = write_jsonl(tmp_path / "q.jsonl", QUESTIONS)
    offtopic = write_jsonl(tmp_path / "off.jsonl", OFF_TOPIC)
    args = ["--docs", str(SEED_DOCS), "--index", str(index_copy), "--offtopic", str(offtopic), "--misses", "3"]
    result = cli("eval", str(questions), *args)
    assert result.exit_code == 0, result.stderr
    for label in ("answer hit@1", "passage recall@3", "MRR@10", "off-topic abstained (2)", "p95 s/question"):
        assert label in result.stdout
    assert next(line for line in result.stdout.splitlines() if line.startswith("index build s")).split()[-1] == "reused"
    assert "Q: Which phone did Huawei want to launch in the US?" in result.stdout
    assert "q/s" not in result.stderr, "no progress bar when stderr is not a terminal"


def test_eval_json(cli, index_copy, tmp_path):
    questions = write_jsonl(tmp_path / "q.jsonl", QUESTIONS)
    offtopic = write_jsonl(tmp_path / "off.jsonl", OFF_TOPIC)
    result = cli("eval", str(questions), "--docs", str(SEED_DOCS), "--index", str(index_copy), "--offtopic", str(offtopic), "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["questions"] == 4
    assert report["answer_hit_at_1"] == 0.75  # the fourth gold string is in no document
    assert report["recall_at_10"] == 0.75
    assert report["offtopic_abstention_rate"] == 1.0
    assert report["build_seconds"] is None  # the index was up to date
    assert 0 < report["p50_seconds"] <= report["p95_seconds"]


def test_eval_tune_prints_best_values_without_writing_them(cli, index_copy, tmp_path):
    questions = write_jsonl(tmp_path / "q.jsonl", QUESTIONS[:3])
    offtopic = write_jsonl(tmp_path / "off.jsonl", OFF_TOPIC)
    result = cli("eval", str(questions), "--docs", str(SEED_DOCS), "--index", str(index_copy), "--offtopic", str(offtopic), "--tune")
    assert result.exit_code == 0, result.stderr
    assert "best: ASKBOT_DENSE_WEIGHT=" in result.stdout
    assert len([line for line in result.stdout.splitlines() if line.strip().startswith("0.")]) == len(ev.TUNE_DENSE_WEIGHTS)
    assert not (tmp_path / ".env").exists()


def test_eval_bad_input_is_one_line_and_exit_2(cli, tmp_path):
    missing = cli("eval", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2
    broken = tmp_path / "q.jsonl"
    broken.write_text("{oops\n", encoding="utf-8")
    result = cli("eval", str(broken), "--docs", str(SEED_DOCS))
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "q.jsonl:1: not a JSON object" in result.stderr

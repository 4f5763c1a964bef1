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


def _report(name: str, hits: list[tuple[float, bool]], off: list[float], offtopic_from: str | None) -> ev.SetResult:
    q = ev.Question("1", "q", ("x",))
    outcomes = [ev.Outcome(q, c >= 0.3, "x" if r else "y", c, 1 if r else 2, r and c >= 0.3, 0.005, r) for c, r in hits]
    offtopic = [Answer("o", c >= 0.3, "z", c, []) for c in off]
    return ev.SetResult(name, offtopic_from, ev.summarise(outcomes, offtopic))


def test_sets_table_has_one_row_per_set():
    results = [
        _report("squad-dev", [(0.95, True), (0.85, True), (0.2, False), (0.5, False)], [0.1, 0.05, 0.4], "papers-dev"),
        _report("news", [(0.9, True), (0.15, True)], [], None),
    ]
    assert ev.sets_table(results) == "\n".join([
        "set       questions  hit@1    R@1    R@3   R@10 answered declined  off-topic from",
        "squad-dev         4  0.500  0.500  1.000  1.000    0.750    0.667  papers-dev (3)",
        "news              2  0.500  1.000  1.000  1.000    0.500        -  -",
    ])


def test_reliability_table_counts_each_tenth_per_set():
    results = [
        _report("squad-dev", [(0.95, True), (0.91, False), (0.2, False), (0.25, True), (1.0, True)], [0.05, 0.22], "x"),
        _report("news", [(0.05, False)], [], None),
    ]
    table = ev.reliability_table(results).splitlines()
    assert table[:2] == [
        "confidence          squad-dev               news",
        "                n right   off      n right   off",
    ]
    assert table[2] == "0.0-0.1         0     -     1      1  0.00     0"
    assert table[4] == "0.2-0.3         2  0.50     1      0     -     0"
    assert table[11] == "0.9-1.0         3  0.67     0      0     -     0"
    # |0.953 - 0.667| * 3 + |0.225 - 0.5| * 2, over 5 questions
    assert table[12] == "ECE                     0.282              0.050"


def test_offtopic_pairing(tmp_path):
    sets = [ev.EvalSet(n, tmp_path / f"{n}.jsonl", tmp_path) for n in ("squad", "news", "papers")]
    previous = ev.offtopic_sources(sets, ["previous"])
    assert {name: label for name, (label, _) in previous.items()} == {"squad": "papers", "news": "squad", "papers": "news"}
    extra = write_jsonl(tmp_path / "extra.jsonl", OFF_TOPIC)
    chosen = ev.offtopic_sources(sets, ["news=papers", f"squad={extra}"])
    assert chosen == {"news": ("papers", tmp_path / "papers.jsonl"), "squad": ("extra.jsonl", extra)}
    with pytest.raises(UsageError, match="NAME one of squad, news, papers"):
        ev.offtopic_sources(sets, ["blogs=news"])
    with pytest.raises(UsageError, match="neither a set nor a questions file"):
        ev.offtopic_sources(sets, ["news=nowhere"])


def _seed_set(root: Path, name: str, records: list[dict]) -> Path:
    folder = root / name
    shutil.copytree(SEED_DOCS, folder / "docs")
    write_jsonl(folder / "questions.jsonl", records)
    return folder


def test_eval_several_sets_one_row_each(cli, seed_index, tmp_path):
    first = _seed_set(tmp_path / "sets", "seed-a", QUESTIONS[:2])
    second = _seed_set(tmp_path / "sets", "seed-b", QUESTIONS[2:3])
    for name in ("seed-a", "seed-b"):  # each set's index is INDEX/NAME
        shutil.copytree(seed_index, tmp_path / "indexes" / name)
    result = cli("eval", str(first), str(second), "--index", str(tmp_path / "indexes"), "--offtopic-from", "previous", "--by-confidence")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "set    questions  hit@1    R@1    R@3   R@10 answered declined  off-topic from",
        "seed-a         2  1.000  1.000  1.000  1.000    1.000    0.000  seed-b (1)",
        "seed-b         1  1.000  1.000  1.000  1.000    1.000    0.000  seed-a (2)",
    ]
    assert lines[4].split() == ["confidence", "seed-a", "seed-b"]
    assert len(lines) == 4 + 2 + 10 + 1


def test_eval_several_sets_need_set_folders(cli, tmp_path):
    questions = write_jsonl(tmp_path / "q.jsonl", QUESTIONS)
    result = cli("eval", str(questions), str(_seed_set(tmp_path, "s", QUESTIONS)), "--docs", str(SEED_DOCS))
    assert result.exit_code == 2
    assert result.stderr.strip() == "askbot: error: with several sets, each must be a folder holding questions.jsonl and docs/"

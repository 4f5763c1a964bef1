"""The askbot CLI: output, JSON schema, stdin batches, incremental builds and every bad input."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from askbot.index import write_manifest
from conftest import SEED_DOCS, run_askbot

SEED = "OnePlus-eyes-US-carriers-after-Huawei-deal-falls-through.txt"
SUMMARY = re.compile(r"^added (\d+), changed (\d+), removed (\d+), unchanged (\d+), chunks (\d+), [\d.]+ s$")


@pytest.fixture
def index_copy(seed_index, tmp_path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(seed_index, target)
    return target


def counts(output: str) -> tuple[int, ...]:
    assert output.strip(), "no summary printed"
    match = SUMMARY.match(output.strip().splitlines()[-1])
    assert match, output
    return tuple(int(g) for g in match.groups())


def test_ask_prints_answer_source_and_confidence(cli, index_copy):
    result = cli("ask", "What chip powers the OnePlus 6?", "--docs", str(SEED_DOCS), "--index", str(index_copy))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Snapdragon 845" in lines[0]
    assert lines[1].startswith(
        f"Source: OnePlus eyes US carriers after Huawei deal falls through (2018-01-12) — {SEED}, chars "
    )
    assert re.fullmatch(r"Confidence: 0\.\d\d", lines[2])


def test_ask_json_has_exactly_the_documented_keys(cli, index_copy):
    result = cli("ask", "--json", "-k", "2", "Who is the CEO of OnePlus?", "--docs", str(SEED_DOCS), "--index", str(index_copy))
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert {"question", "answered", "answer", "confidence", "passages"} <= data.keys()
    assert data["question"] == "Who is the CEO of OnePlus?"
    assert data["answered"] is True and "Pete Lau" in data["answer"]
    assert isinstance(data["confidence"], float)
    assert len(data["passages"]) == 2
    source_text = (SEED_DOCS / SEED).read_text(encoding="utf-8")
    for p in data["passages"]:
        assert {"text", "source", "title", "date", "score", "start", "end"} <= p.keys()
        assert p["source"] == SEED and p["date"] == "2018-01-12"
        assert (p["url"], p["page_start"], p["page_end"], p["section"]) == (None, None, None, None)
        assert source_text[p["start"] : p["end"]] == p["text"]


def test_ask_json_off_topic_is_not_answered(cli, index_copy):
    result = cli("ask", "--json", "What is the capital of France?", "--docs", str(SEED_DOCS), "--index", str(index_copy))
    data = json.loads(result.stdout)
    assert data["answered"] is False and data["answer"] is None
    assert data["passages"], "closest passages are still given"


def test_ask_off_topic_says_so_plainly(cli, index_copy):
    result = cli("ask", "What is the capital of France?", "--docs", str(SEED_DOCS), "--index", str(index_copy))
    assert result.exit_code == 0
    assert result.stdout.startswith("The documents don't say.\nClosest I found:\n")


def test_stdin_batch_answers_each_line_and_skips_blank_ones(cli, index_copy):
    questions = "What chip powers the OnePlus 6?\n\nWho is the CEO of OnePlus?\nWhat is the capital of France?\n"
    result = cli("ask", "--json", "--docs", str(SEED_DOCS), "--index", str(index_copy), input=questions)
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in rows] == [
        "What chip powers the OnePlus 6?",
        "Who is the CEO of OnePlus?",
        "What is the capital of France?",
    ]
    assert [r["answered"] for r in rows] == [True, True, False]


def test_stdin_batch_reports_a_bad_line_and_goes_on(cli, index_copy):
    result = cli("ask", "--docs", str(SEED_DOCS), "--index", str(index_copy), input="x" * 10_000 + "\nWho is the CEO of OnePlus?\n")
    assert result.exit_code == 2
    assert "Pete Lau" in result.stdout
    assert result.stderr.strip() == "askbot: error: the question is too long: 10,000 characters (the limit is 2,000)"


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "askbot: error: the question is empty"),
        ("   \t ", "askbot: error: the question is empty"),
        ("y" * 10_000, "askbot: error: the question is too long: 10,000 characters (the limit is 2,000)"),
    ],
)
def test_bad_question_is_one_line_and_exit_2(cli, index_copy, question, message):
    result = cli("ask", question, "--docs", str(SEED_DOCS), "--index", str(index_copy))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip() == message


def test_missing_docs_folder(cli, tmp_path):
    result = cli("index", "build", "--docs", str(tmp_path / "nope"), "--index", str(tmp_path / "index"))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"askbot: error: docs folder not found: {tmp_path / 'nope'}"


def test_empty_docs_folder(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = cli("index", "build", "--docs", str(tmp_path / "empty"), "--index", str(tmp_path / "index"))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"askbot: error: no documents to index in {tmp_path / 'empty'}"
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_binary_and_invalid_utf8_files(cli, docs_copy, tmp_path):
    (docs_copy / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (docs_copy / "latin1.txt").write_bytes("Caf\xe9 au lait costs 3 euros at the Zorblax kiosk.".encode("latin-1"))
    (docs_copy / "data.csv").write_text("a,b\n1,2\n")
    result = cli("index", "build", "--docs", str(docs_copy), "--index", str(tmp_path / "index"))
    assert result.exit_code == 0, result.stderr
    assert counts(result.stdout)[:4] == (2, 0, 0, 0)
    warnings = result.stderr.strip().splitlines()
    assert "askbot: skipped photo.txt: binary content" in warnings
    assert "askbot: skipped data.csv: unsupported file type" in warnings
    answer = cli("ask", "--json", "What does coffee cost at the Zorblax kiosk?", "--docs", str(docs_copy), "--index", str(tmp_path / "index"))
    data = json.loads(answer.stdout)
    assert data["answered"] and "Caf\ufffd au lait" in data["answer"]


def test_incremental_rebuild_counts_and_reuse(cli, docs_copy, tmp_path):
    index = tmp_path / "index"
    def build():
        result = cli("index", "build", "--docs", str(docs_copy), "--index", str(index))
        assert result.exit_code == 0, result.stderr
        return result
    first = counts(build().stdout)
    assert first[:4] == (1, 0, 0, 0)

    assert counts(build().stdout)[:4] == (0, 0, 0, 1)

    (docs_copy / "new.md").write_text("---\ntitle: Zorblax launch\ndate: 2019-03-01\n---\nThe Zorblax X1 ships with a 5,000 mAh battery.\n")
    assert counts(build().stdout)[:4] == (1, 0, 0, 1)

    (docs_copy / "new.md").write_text("---\ntitle: Zorblax launch\n---\nThe Zorblax X1 ships with a 6,000 mAh battery.\n")
    assert counts(build().stdout)[:4] == (0, 1, 0, 1)
    answer = json.loads(cli("ask", "--json", "How big is the Zorblax X1 battery?", "--docs", str(docs_copy), "--index", str(index)).stdout)
    assert "6,000 mAh" in answer["answer"] and answer["passages"][0]["title"] == "Zorblax launch"

    (docs_copy / "new.md").unlink()
    assert counts(build().stdout)[:5] == (0, 0, 1, 1, first[4])


def test_only_the_changed_document_is_embedded(docs_copy, tmp_path, monkeypatch):
    from askbot import embedding
    from askbot.engine import build_index
    from askbot.settings import Settings

    settings = Settings(docs_dir=docs_copy, index_dir=tmp_path / "index")
    (docs_copy / "a.txt").write_text("Alpha is the first letter.")
    (docs_copy / "b.txt").write_text("Beta is the second letter.")
    build_index(settings, notify=lambda _: None)

    encoded: list[str] = []
    real_encode = embedding.Embedder.encode_batches  # what a build encodes through
    monkeypatch.setattr(embedding.Embedder, "encode_batches", lambda self, texts, *a, **kw: encoded.extend(texts) or real_encode(self, texts, *a, **kw))
    (docs_copy / "b.txt").write_text("Beta is the second letter of the Greek alphabet.")
    build_index(settings, notify=lambda _: None)
    assert encoded == ["Beta is the second letter of the Greek alphabet."]  # its one sentence, without the title (the file name); the chunk's vector is pooled


def test_an_unchanged_docs_folder_is_not_read_again_to_tell_it_is_current(docs_copy, tmp_path, monkeypatch):
    from askbot import builder, stamps
    from askbot.engine import Engine
    from askbot.folder_backend import FolderBackend
    from askbot.settings import Settings

    monkeypatch.setattr(stamps, "RACY_NS", 0)
    settings = Settings(docs_dir=docs_copy, index_dir=tmp_path / "index")
    engine = Engine.open(settings, notify=lambda _: None)
    index = engine._index
    is_stale = FolderBackend(settings, lambda _: None).is_stale
    assert not is_stale(index)  # read and hashed, then remembered
    scans = []
    real = builder.scan_docs
    monkeypatch.setattr(builder, "scan_docs", lambda *a: scans.append(1) or real(*a))
    assert not is_stale(index) and scans == []
    article = next(docs_copy.glob("*.txt"))
    text = article.read_text(encoding="utf-8")
    article.write_text(text.replace("Snapdragon 845", "Snapdragon 855"), encoding="utf-8")  # same size
    assert is_stale(index) and scans == [1]
    engine.close()


def test_chunk_vectors_are_the_mean_of_their_sentence_vectors(seed_index):
    from askbot.index import current_build, load_index, read_manifest

    build = current_build(seed_index)
    index = load_index(build, read_manifest(build))
    try:
        for chunk in range(index.size):
            mean = index.sentence_rows(chunk, chunk + 1).mean(axis=0)
            assert np.allclose(index.embeddings[chunk], mean / np.linalg.norm(mean), atol=1e-6)
        assert index.size > 1 and len(index.sentence_embeddings) > index.size
    finally:
        index.close()


def test_ask_builds_a_missing_index_and_updates_a_stale_one(cli, docs_copy, tmp_path):
    index = tmp_path / "index"
    first = cli("ask", "Who is the CEO of OnePlus?", "--docs", str(docs_copy), "--index", str(index))
    assert first.exit_code == 0 and "Pete Lau" in first.stdout
    assert "askbot: no index yet: building it from" in first.stderr

    (docs_copy / "update.txt").write_text("date 2018-02-01\nOnePlus confirmed that the OnePlus 6 will cost 529 dollars.")
    second = cli("ask", "How much will the OnePlus 6 cost?", "--docs", str(docs_copy), "--index", str(index))
    assert "documents in" in second.stderr and "changed: updating the index" in second.stderr
    assert "529 dollars" in second.stdout


def test_index_built_with_another_model_says_what_to_do(cli, index_copy):
    build = index_copy / (index_copy / "CURRENT").read_text().strip()
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["model"]["name"] = "some-other-model"
    write_manifest(build, manifest)  # sealed, as a real build with that model would write it
    result = cli("ask", "Who is the CEO of OnePlus?", "--docs", str(SEED_DOCS), "--index", str(index_copy))
    assert result.exit_code == 2
    assert result.stderr.strip() == "askbot: error: index was built with another model (some-other-model): run askbot index build"


def test_corrupted_index_file_says_damaged(cli, index_copy):
    build = index_copy / (index_copy / "CURRENT").read_text().strip()
    (build / "embeddings.npy").write_bytes(b"garbage")
    result = cli("ask", "Who is the CEO of OnePlus?", "--docs", str(SEED_DOCS), "--index", str(index_copy))
    assert result.exit_code == 2
    assert result.stderr.startswith("askbot: error: index is damaged")
    assert result.stderr.strip().endswith("run askbot index build")


def test_index_info(cli, index_copy):
    result = cli("index", "info", "--json", "--index", str(index_copy))
    info = json.loads(result.stdout)
    assert info["documents"] == 1 and info["chunks"] >= 3
    assert info["model"] == "all-MiniLM-L6-v2" and info["dimension"] == 384


def test_help_lists_every_command_with_examples(cli):
    top = cli("--help").stdout
    for command in ("ask", "index", "repl"):
        assert re.search(rf"^\s+{command}\s", top, re.MULTILINE)
    for args in (["ask"], ["index", "build"], ["index", "info"], ["repl"]):
        assert "Example" in cli(*args, "--help").stdout


def test_subprocess_pipeline_repl_and_exit_codes(seed_index, tmp_path):
    """One real process: the REPL driven through a pipe, plain output, commands work."""
    script = ":help\n:k 1\nWhat chip powers the OnePlus 6?\n:sources\n:bogus\nWhat is the capital of France?\n:quit\nnever asked\n"
    result = run_askbot("repl", "--docs", str(SEED_DOCS), "--index", str(seed_index), input=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\x1b[" not in out, "no colour codes when not on a terminal"
    assert ":sources" in out and "Snapdragon 845" in out
    assert "showing 1 passages" in out
    assert out.count("[1] score") == 1 and "[2] score" not in out
    assert "unknown command :bogus; :help lists them" in out
    assert "The documents don't say." in out
    assert "never asked" not in out


def test_stdin_answers_each_line_as_it_arrives(seed_index):
    """A program talking to `askbot ask --json` line by line gets each answer before sending more."""
    import os
    import subprocess
    import sys

    from conftest import REPO

    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "askbot", "ask", "--json", "--docs", str(SEED_DOCS), "--index", str(seed_index)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    try:
        for question, fact in [("What chip powers the OnePlus 6?", "Snapdragon 845"), ("Who is the CEO of OnePlus?", "Pete Lau")]:
            proc.stdin.write(question + "\n")
            proc.stdin.flush()
            reply = json.loads(proc.stdout.readline())  # blocks until this answer is flushed
            assert reply["question"] == question and fact in reply["answer"]
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()

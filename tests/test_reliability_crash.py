"""Crash safety: a build killed (SIGKILL) at named points leaves the previous index serving.

A real `askbot index build` subprocess pauses at a point (ASKBOT_TEST_PAUSE_AT, test-only), holds
the build lock there (a second build is refused and told who holds it), and is killed. The old
index must then load and answer exactly as before, and the next build must take over the lock,
clear what the killed one left and succeed. A build interrupted (SIGINT, Ctrl-C) while it encodes
says so in one line, exits 130 and leaves the old index serving and nothing to clean up.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from askbot.buildlock import BuildLocked, build_lock
from askbot.engine import Engine, build_index
from askbot.index import PAUSE_ENV, POINTER
from askbot.onnx_encoder import ENCODERS
from askbot.settings import Settings
from conftest import REPO, SEED_DOCS

KILL_POINTS = ("embedding", "writing", "swap")
QUESTIONS = ("What chip powers the OnePlus 6?", "Who is the CEO of OnePlus?", "What is the capital of France?")
NEW_DOC = "date 2019-05-02\nThe Zeppelin NT airship is assembled in a hangar in Friedrichshafen.\n"


def _answers(docs, index) -> list[dict]:
    engine = Engine.open(Settings(docs_dir=docs, index_dir=index), auto_build=False, notify=lambda _: None)
    try:
        return [a.to_dict() for a in engine.ask_many(QUESTIONS)]
    finally:
        engine.close()


def _start_paused_build(docs, index, point: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), PAUSE_ENV: point}
    command = [sys.executable, "-m", "askbot", "index", "build", "--docs", str(docs), "--index", str(index)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for_pause(build: subprocess.Popen, point: str, announced: str = "askbot: test pause at {}") -> None:
    said = []
    for line in build.stderr:
        said.append(line)
        if line.strip() == announced.format(point):
            return
    pytest.fail(f"the build ended (exit {build.wait()}) before pausing at {point}:\n{''.join(said)}")


def _leftovers(index) -> set[str]:
    serving = (index / POINTER).read_text().strip()
    remembered = {".verified-docs.json", f".verified-{serving}.json"}  # passed checks (stamps.py), not leftovers
    remembered.add(f".readers-{serving}.lock")  # what readers of the serving build lock (index.hold_current_build)
    return {p.name for p in index.iterdir()} - {POINTER, serving, "build.lock", ENCODERS, *remembered}


@pytest.fixture
def served_index(seed_index, tmp_path):
    """A copy of the seed index that a build can be killed over."""
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    return index


@pytest.mark.parametrize("point", KILL_POINTS)
def test_killed_build_leaves_previous_index_serving_and_next_build_succeeds(point, served_index, docs_copy):
    before = _answers(docs_copy, served_index)
    serving = (served_index / POINTER).read_text()
    (docs_copy / "zeppelins.txt").write_text(NEW_DOC)
    settings = Settings(docs_dir=docs_copy, index_dir=served_index)

    build = _start_paused_build(docs_copy, served_index, point)
    try:
        _wait_for_pause(build, point)
        with pytest.raises(BuildLocked, match=rf"another build is running .*\(pid {build.pid} on "):
            build_index(settings, notify=lambda _: None)
    finally:
        build.kill()
        build.wait()
        build.stderr.close()

    left = _leftovers(served_index)
    if point == "writing":
        assert any(name.startswith(".tmp-build-") for name in left), left
    if point == "swap":
        assert {".CURRENT.tmp"} < left and any(name.startswith("build-") for name in left), left
    assert (served_index / POINTER).read_text() == serving
    assert _answers(docs_copy, served_index) == before

    notes: list[str] = []
    report = build_index(settings, notify=notes.append)
    assert (report.added, report.unchanged, report.wrote) == (1, 1, True)
    assert any(f"taking over the build lock of pid {build.pid} " in note for note in notes), notes
    assert _leftovers(served_index) == set()
    engine = Engine.open(settings, auto_build=False)
    try:
        answer = engine.ask("Where is the Zeppelin NT assembled?")
    finally:
        engine.close()
    assert answer.answered and "Friedrichshafen" in answer.answer
    assert answer.passages[0].source == "zeppelins.txt"


def test_second_build_says_who_holds_the_lock(cli, served_index):
    with build_lock(served_index, notify=lambda _: None) as me:
        result = cli("index", "build", "--docs", str(SEED_DOCS), "--index", str(served_index))
    assert result.exit_code == 1
    assert result.stderr == (
        f"askbot: error: another build is running on {served_index} "
        f"(pid {os.getpid()} on {socket.gethostname()}, since {me.since}): wait for it to finish\n"
    )
    assert cli("index", "build", "--docs", str(SEED_DOCS), "--index", str(served_index)).exit_code == 0


def test_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    (tmp_path / "build.lock").write_text(f'{{"pid": {dead_pid}, "host": "elsewhere", "since": "2026-01-01T00:00:00Z"}}')
    notes: list[str] = []
    with build_lock(tmp_path, notes.append) as me:
        assert me.pid == os.getpid()
    assert notes == [f"taking over the build lock of pid {dead_pid} on elsewhere, since 2026-01-01T00:00:00Z: that build did not finish"]
    assert (tmp_path / "build.lock").read_text() == ""  # released cleanly: nothing to take over next time


def test_stale_index_is_served_while_another_process_builds(served_index, docs_copy):
    (docs_copy / "zeppelins.txt").write_text(NEW_DOC)
    notes: list[str] = []
    with build_lock(served_index, notify=lambda _: None):
        engine = Engine.open(Settings(docs_dir=docs_copy, index_dir=served_index), notify=notes.append)
    try:
        assert "Snapdragon 845" in engine.ask("What chip powers the OnePlus 6?").answer
    finally:
        engine.close()
    assert notes[-1].startswith("another build is running on ")
    assert notes[-1].endswith(": wait for it to finish (answering from the index as it is)")


def _survey(sentences: int) -> str:
    """A document of distinct sentences: enough that encoding is still going when interrupted."""
    rivers = ("Rhine", "Danube", "Elbe", "Loire", "Tagus", "Vistula", "Oder", "Rhone")
    lines = [
        f"In {1900 + i % 120}, surveyors measured the {rivers[i % 8]} at station {i} and found it "
        f"{(i * 37) % 900 + 40} metres wide after {(i * 13) % 50 + 2} days of rain."
        for i in range(sentences)
    ]
    return "Survey\n\n" + "\n\n".join(" ".join(lines[i : i + 5]) for i in range(0, sentences, 5)) + "\n"


def test_ctrl_c_while_encoding_stops_the_build_and_keeps_the_previous_index(served_index, docs_copy):
    before = _answers(docs_copy, served_index)
    serving = (served_index / POINTER).read_text()
    (docs_copy / "survey.txt").write_text(_survey(1000))  # ≈ 8 batches of 128

    build = _start_paused_build(docs_copy, served_index, "encoding")  # says it got there, keeps encoding
    try:
        _wait_for_pause(build, "encoding", announced="askbot: test point {} reached")
        build.send_signal(signal.SIGINT)
        code = build.wait(timeout=120)  # a hang guard, not a timing assertion
        said = build.stderr.read()
    finally:
        build.kill()
        build.wait()
        build.stderr.close()

    assert (code, said) == (130, "askbot: error: interrupted\n")
    assert (served_index / POINTER).read_text() == serving
    assert _leftovers(served_index) == set()  # nothing half-written, the lock released
    assert _answers(docs_copy, served_index) == before
    with build_lock(served_index, notify=pytest.fail):  # free, and nobody's to take over
        pass

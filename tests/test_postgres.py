"""The PostgreSQL backend against a real PostgreSQL with pgvector (pgserver, or ASKBOT_TEST_DATABASE_URL).

The same answers as the folder backend, collections kept apart, builds as transactions that a
SIGKILL cannot half-apply, a committed build noticed by a running engine, a read-only role enough
to answer, faults named in one line and the password never shown.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from askbot.buildlock import BuildLocked
from askbot.engine import Engine, build_index
from askbot.errors import AskbotError
from askbot.index import PAUSE_ENV
from askbot.lexical import tokenize
from askbot.postgres_db import DatabaseUnreachable
from askbot.settings import Settings
from conftest import REPO, SEED_DOCS, run_askbot, with_database

QUESTIONS = (
    "What chip powers the OnePlus 6?",
    "Who is the CEO of OnePlus?",
    "When will the OnePlus 6 arrive?",
    "Which carriers is OnePlus talking to?",
    "What is the capital of France?",
)
CITED = {  # question: the citation of its answer (a section path, a PDF page, a fetched page's URL)
    "How much disk space does the Zorblat installer need on Linux?": "Zorblat Setup Guide — guide.md · Installation › Linux",
    "How often is the Quibble valve replaced?": "Airship Manual (2024-03-05) — manual.pdf, p. 2 · Valves",
    "Which status does the Frobnicator API answer with when rate limited?": "Frobnicator API — https://api.example.org/docs/limits",
}
NEW_DOC = "date 2019-05-02\nThe Zeppelin NT airship is assembled in a hangar in Friedrichshafen.\n"
PASSWORD = "s3cret-Pa55word"
quiet = lambda _: None  # noqa: E731


@pytest.fixture(scope="session")
def pg_seed(postgres_url, tmp_path_factory):
    """(settings, engine): the seed article built into a database of its own, once per session."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "askbot_seed"')
    settings = Settings(docs_dir=SEED_DOCS, index_dir=tmp_path_factory.mktemp("pg-local"), database_url=with_database(postgres_url, "askbot_seed"))
    build_index(settings, notify=quiet)
    engine = Engine.open(settings, notify=quiet)
    yield settings, engine
    engine.close()


def _comparable(answer) -> dict:
    """An answer without chunk ids (each backend numbers its chunks its own way)."""
    data = answer.to_dict()
    for passage in data["passages"]:
        del passage["id"]
    return data


def test_answers_and_scored_candidates_match_the_folder_backend(pg_seed, seed_engine):
    """The same answers, and beneath them the same candidates with the same BM25 and cosines (the
    folder scores vectors in numpy, PostgreSQL with pgvector's <#> next to the data)."""
    _, engine = pg_seed
    assert [_comparable(a) for a in engine.ask_many(QUESTIONS)] == [_comparable(a) for a in seed_engine.ask_many(QUESTIONS)]
    folder = seed_engine._index
    by_place = {(c.source, c.start): c.id for c in folder.chunks(range(folder.size))}
    with engine._index.reading() as view:
        places = {c.id: (c.source, c.start) for c in view.chunks(range(100))}
        for question, vector in zip(QUESTIONS, seed_engine.encode(QUESTIONS)):
            tokens = tokenize([question])[0]
            got, expected = view.candidates(vector, tokens, 50), folder.candidates(vector, tokens, 50)
            assert [by_place[places[i]] for i in got.ids] == expected.ids.tolist()
            assert got.bm25.tolist() == pytest.approx(expected.bm25.tolist(), rel=1e-5)
            assert got.best_bm25 == pytest.approx(expected.best_bm25, rel=1e-5)
            assert got.counts.tolist() == expected.counts.tolist()
            assert got.chunk_cosines.tolist() == pytest.approx(expected.chunk_cosines.tolist(), abs=1e-6)
            assert got.sentence_cosines.tolist() == pytest.approx(expected.sentence_cosines.tolist(), abs=1e-6)
            assert {t: view.idf(t) for t in tokens} == pytest.approx({t: folder.idf(t) for t in tokens})


def test_answers_within_one_document_match_the_folder_backend(pg_seed, seed_engine):
    """A conversation keeps to its document through document_candidates: same answers on both."""
    _, engine = pg_seed
    source = seed_engine.ask(QUESTIONS[0]).passages[0].source
    vector = seed_engine.encode(QUESTIONS[:1])[0]
    tokens = tokenize([QUESTIONS[0]])[0]
    with engine._index.reading() as view:
        assert len(view.document_candidates(vector, tokens, source).ids) == seed_engine._index.size
        assert len(view.document_candidates(vector, tokens, "no such file.txt").ids) == 0
    for question in QUESTIONS:
        asked = [e.ask(question, within=source, min_confidence=0.0) for e in (engine, seed_engine)]
        assert _comparable(asked[0]) == _comparable(asked[1])


def test_collections_are_kept_apart(pg_seed, tmp_path):
    settings, engine = pg_seed
    docs = tmp_path / "zeppelins"
    docs.mkdir()
    (docs / "zeppelins.txt").write_text(NEW_DOC)
    other = replace(settings.for_collection("airships"), docs_dir=docs)
    assert build_index(other, notify=quiet).chunks == 1
    airships = Engine.open(other, notify=quiet)
    try:
        answer = airships.ask("What chip powers the OnePlus 6?")
        assert {p.source for p in airships.ask("Where is the Zeppelin NT assembled?").passages} == {"zeppelins.txt"}
    finally:
        airships.close()
    assert not answer.answered and {p.source for p in answer.passages} == {"zeppelins.txt"}
    assert all(p.source != "zeppelins.txt" for p in engine.ask("Where is the Zeppelin NT assembled?").passages)


def _start_paused_build(settings: Settings, docs: Path, point: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), PAUSE_ENV: point, "ASKBOT_DATABASE_URL": settings.database_url}
    command = [sys.executable, "-m", "askbot", "index", "build", "--docs", str(docs), "--index", str(settings.index_dir),
               "--collection", settings.collection]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for_pause(build: subprocess.Popen, point: str) -> None:
    said = []
    for line in build.stderr:
        said.append(line)
        if line.strip() == f"askbot: test pause at {point}":
            return
    pytest.fail(f"the build ended (exit {build.wait()}) before pausing at {point}:\n{''.join(said)}")


@pytest.mark.parametrize("point", ["embedding", "writing"])
def test_killed_build_leaves_the_previous_index_serving_and_the_next_build_succeeds(point, pg_seed, docs_copy):
    settings = replace(pg_seed[0].for_collection(f"crash-{point}"), docs_dir=docs_copy)
    build_index(settings, notify=quiet)
    reader = Engine.open(settings, notify=quiet)  # a running process: it must see the next build
    before = [_comparable(a) for a in reader.ask_many(QUESTIONS)]
    (docs_copy / "zeppelins.txt").write_text(NEW_DOC)

    build = _start_paused_build(settings, docs_copy, point)
    try:
        _wait_for_pause(build, point)
        with pytest.raises(BuildLocked, match=rf"another build is running on collection 'crash-{point}' .*\(pid {build.pid} on "):
            build_index(settings, notify=quiet)
        if point == "writing":  # its rows are written but not committed: readers see none of them
            assert [_comparable(a) for a in reader.ask_many(QUESTIONS)] == before
    finally:
        build.kill()
        build.wait()
        build.stderr.close()
    assert [_comparable(a) for a in reader.ask_many(QUESTIONS)] == before

    notes: list[str] = []
    report = build_index(settings, notify=notes.append)
    assert (report.added, report.unchanged, report.embedded, report.wrote) == (1, 1, 1, True)
    assert any(f"taking over the build lock of pid {build.pid} " in note for note in notes), notes
    answer = reader.ask("Where is the Zeppelin NT assembled?")  # no reload, no restart
    assert answer.answered and "Friedrichshafen" in answer.answer and answer.passages[0].source == "zeppelins.txt"
    (docs_copy / "zeppelins.txt").unlink()
    assert build_index(settings, notify=quiet).removed == 1
    assert [_comparable(a) for a in reader.ask_many(QUESTIONS)] == before
    reader.close()


def test_a_read_only_role_answers(pg_seed):
    settings, engine = pg_seed
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE askbot_reader LOGIN PASSWORD '{PASSWORD}'")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO askbot_reader")
    url = settings.database_url + f"&user=askbot_reader&password={PASSWORD}"
    reader = Engine.open(replace(settings, database_url=url), notify=quiet)
    try:
        assert [_comparable(a) for a in reader.ask_many(QUESTIONS)] == [_comparable(a) for a in engine.ask_many(QUESTIONS)]
        with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM askbot_chunks")
        with pytest.raises(AskbotError, match=r"^the database askbot_reader@.* refused the build: permission denied "):
            build_index(replace(settings, database_url=url), notify=quiet)
    finally:
        reader.close()


def test_the_password_never_shows(pg_seed, tmp_path):
    settings, _ = pg_seed
    url = settings.database_url + f"&password={PASSWORD}"
    env = {"ASKBOT_DATABASE_URL": url, "ASKBOT_INDEX_DIR": str(settings.index_dir)}
    info = run_askbot("--verbose", "index", "info", cwd=tmp_path, env=env)
    assert info.returncode == 0, info.stderr
    assert "path: postgresql postgres@" in info.stdout and "collection default" in info.stdout
    assert PASSWORD not in info.stdout + info.stderr
    assert PASSWORD not in repr(replace(settings, database_url=url))
    engine = Engine.open(replace(settings, database_url=url), notify=quiet)
    try:
        assert PASSWORD not in repr(engine._backend) + repr(engine._index) + str(engine.info())
    finally:
        engine.close()


def test_an_unreachable_database_is_one_line_naming_host_and_port(tmp_path):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env = {"ASKBOT_DATABASE_URL": f"postgresql://askbot:{PASSWORD}@127.0.0.1:{port}/askbot?sslmode=disable"}
    for verbose in ([], ["--verbose"]):
        done = run_askbot(*verbose, "ask", "What chip powers the OnePlus 6?", cwd=tmp_path, env=env)
        assert done.returncode == 1
        assert done.stdout == ""
        line = f"cannot reach the database askbot@127.0.0.1:{port}/askbot: Connection refused\n"
        assert PASSWORD not in done.stderr
        if verbose:  # the traceback, ending in the same line
            assert done.stderr.startswith("Traceback") and done.stderr.endswith(f"DatabaseUnreachable: {line}")
        else:
            assert done.stderr == f"askbot: error: {line}"


class _Proxy:
    """A TCP proxy to the server's Unix socket that can cut every connection (a lost network)."""

    def __init__(self, socket_path: str):
        self.socket_path = socket_path
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.links: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            if not self.open:
                client.close()
                continue
            server = socket.socket(socket.AF_UNIX)
            server.connect(self.socket_path)
            self.links += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.open = False
        for s in self.links:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.links.clear()


def test_a_lost_database_is_a_clear_error_and_answers_resume_without_restart(pg_seed):
    settings, _ = pg_seed
    params = psycopg.conninfo.conninfo_to_dict(settings.database_url)
    proxy = _Proxy(f"{params['host']}/.s.PGSQL.{params.get('port', 5432)}")
    url = f"postgresql://{params['user']}:{PASSWORD}@127.0.0.1:{proxy.port}/{params['dbname']}"
    engine = Engine.open(replace(settings, database_url=url), notify=quiet)
    try:
        assert engine.ask(QUESTIONS[0]).answered
        proxy.cut()
        with pytest.raises(DatabaseUnreachable) as lost:
            engine.ask(QUESTIONS[0])
        assert str(lost.value).startswith(f"the database {params['user']}@127.0.0.1:{proxy.port}/{params['dbname']} is unreachable")
        assert PASSWORD not in str(lost.value)
        with pytest.raises(DatabaseUnreachable):  # still down (or backing off): fails at once again
            engine.ask(QUESTIONS[0])
        proxy.open = True
        deadline = time.monotonic() + 60
        while True:
            try:
                assert engine.ask(QUESTIONS[0]).answered
                break
            except DatabaseUnreachable:
                assert time.monotonic() < deadline, "answers did not resume"
                time.sleep(0.5)
    finally:
        proxy.cut()
        engine.close()


def test_feedback_votes_from_several_processes_export_as_one(database_url, cli, monkeypatch, tmp_path):
    from askbot.answer import Answer, Passage
    from askbot.feedback import AnswerRecord, FeedbackStore, open_feedback

    passage = Passage(3, "The phone is powered by a Snapdragon 845.", "a.txt", "A", None, 0.9, 0, 41)
    record = AnswerRecord.of("answer-1", Answer("What chip?", True, "a Snapdragon 845", 0.9, [passage]))
    shard_a = open_feedback(Settings(database_url=database_url))
    shard_b = open_feedback(Settings(database_url=database_url))
    local = FeedbackStore(tmp_path / "feedback.sqlite3")
    try:
        for store in (local, shard_a):
            store.vote(record, 1, "up")
        for store in (local, shard_b):
            assert store.vote(record, 2, "up").up == 2
        assert shard_b.vote(record, 3, "down") == local.vote(record, 3, "down")
        monkeypatch.setenv("ASKBOT_DATABASE_URL", database_url)
        exported = [json.loads(line) for line in cli("feedback", "export").stdout.splitlines()]
        expected = list(local.export())
    finally:
        for store in (shard_a, shard_b, local):
            store.close()
    for record_ in exported + expected:
        del record_["asked_at"], record_["last_vote_at"]
    assert exported == expected and exported[0]["answers"] == ["a Snapdragon 845"]
    assert exported[0]["votes"] == {"up": 2, "down": 1}


def test_feedback_in_the_database_keeps_collections_apart_and_forgets_a_user(database_url, tmp_path):
    """The SQLite and PostgreSQL stores answer the report's and export's calls the same way."""
    from askbot.answer import Answer
    from askbot.feedback import AnswerRecord, FeedbackStore, Tally, open_feedback

    pets = AnswerRecord.of("pets-1", Answer("What does Miso eat?", True, "salmon", 0.8, []), "pets")
    phones = AnswerRecord.of("phones-1", Answer("What chip?", True, "a Snapdragon 845", 0.9, []))
    shared, local = open_feedback(Settings(database_url=database_url)), FeedbackStore(tmp_path / "feedback.sqlite3")
    try:
        results = []
        for store in (shared, local):
            store.vote(pets, 7, "down")
            store.vote(phones, 7, "up")
            store.vote(phones, 8, "up")
            only_pets = [(r["id"], r["votes"]) for r in store.export("pets")]
            tallies = store.tallies(["pets-1", "phones-1", "nobody"])
            forgotten = store.forget_user(7)
            results.append((only_pets, tallies, forgotten, store.tallies(["pets-1", "phones-1"])))
    finally:
        shared.close()
        local.close()
    assert results[0] == results[1]
    only_pets, tallies, forgotten, after = results[0]
    assert only_pets == [("pets-1", {"up": 0, "down": 1})]
    assert tallies == {"pets-1": Tally(0, 1), "phones-1": Tally(2, 0)} and forgotten == 2
    assert after == {"phones-1": Tally(1, 0)}


def _cited_documents(docs: Path) -> None:
    """A Markdown guide with headings, a PDF whose fact is on page 2, and a fetched web page."""
    from askbot.webpages import PageRecord, write_page
    from doc_factory import Section, make_pdf, page_html, prose

    (docs / "guide.md").write_text(
        "# Zorblat Setup Guide\n\n" + prose("setup", 4) + "\n\n## Installation\n\n" + prose("install", 3, 1) + "\n\n"
        "### Linux\n\nThe Zorblat installer needs four gigabytes of free disk space on Linux.\n",
        encoding="utf-8",
    )
    make_pdf(
        docs / "manual.pdf",
        [Section("Maintenance", [prose("maintenance", 6, 2)]), Section("Valves", ["The Quibble valve is replaced every 300 flight hours."])],
        title="Airship Manual",
        created=datetime.datetime(2024, 3, 5),
        new_page_per_section=True,
    )
    body = "<h2>Limits</h2><p>The Frobnicator API answers with status 429 when a client is rate limited.</p>"
    write_page(docs / "site" / "limits.html", page_html("Frobnicator API", body), PageRecord("https://api.example.org/docs/limits", "2026-01-01T00:00:00Z"))


def test_citations_of_sections_pages_and_urls_come_back_the_same_through_both_backends(database_url, tmp_path):
    """Section paths, PDF pages and a fetched page's URL survive the database: each answer cites
    the same place as the folder backend's, down to the words."""
    from askbot.render import source_line

    docs = tmp_path / "docs"
    docs.mkdir()
    _cited_documents(docs)
    folder = Settings(docs_dir=docs, index_dir=tmp_path / "index")
    cited = {}
    for settings in (folder, replace(folder, database_url=database_url)):
        build_index(settings, notify=quiet)
        engine = Engine.open(settings, notify=quiet)
        try:
            answers = engine.ask_many(CITED)
        finally:
            engine.close()
        cited[bool(settings.database_url)] = [(_comparable(a), source_line(a.passages[0])) for a in answers]
    assert cited[True] == cited[False]
    assert [line for _, line in cited[True]] == list(CITED.values())
    assert all(answer["answered"] for answer, _ in cited[True])

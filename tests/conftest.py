"""Shared fixtures: the real model, a real index built from the seed article, CLI runners."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
SEED_DOCS = REPO / "docs"
SQUAD = REPO.parent / "shared" / "eval" / "squad-dev"
SLICE = Path(__file__).parent / "data" / "squad-slice"  # 2 squad-dev articles, 150 questions

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """Tests never read a developer's .env or ASKBOT_* variables, and never write to the repo."""
    def ours(key: str) -> bool:
        return key.startswith("ASKBOT_") or key == "DISCORD_TOKEN"

    for key in list(filter(ours, os.environ)):
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    yield
    for key in list(filter(ours, os.environ)):  # set by a test's .env: gone before the next fixture
        os.environ.pop(key)  # (monkeypatch's own undo then brings back only what it removed above)


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory) -> Path:
    """An index of the seed article, built once per session (copy it before changing it)."""
    from askbot.engine import build_index
    from askbot.settings import Settings

    folder = tmp_path_factory.mktemp("seed-index")
    build_index(Settings(docs_dir=SEED_DOCS, index_dir=folder), notify=lambda _: None)
    return folder


@pytest.fixture(scope="session")
def seed_engine(seed_index):
    from askbot.engine import Engine
    from askbot.settings import Settings

    engine = Engine.open(Settings(docs_dir=SEED_DOCS, index_dir=seed_index), notify=lambda _: None)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def slice_engine(tmp_path_factory):
    """(engine, build seconds) over the squad-dev slice, built once per session."""
    from askbot import evaluation as ev
    from askbot.settings import Settings

    settings = Settings(docs_dir=SLICE / "docs", index_dir=tmp_path_factory.mktemp("slice-index"))
    with ev.evaluation_engine(settings, fresh=False, notify=lambda _: None) as (engine, seconds):
        yield engine, seconds


@pytest.fixture(scope="session")
def slice_answers(slice_engine):
    """(questions, answers) of the slice, each question asked alone."""
    from askbot import evaluation as ev

    engine, _ = slice_engine
    questions = ev.load_questions(SLICE / "questions.jsonl")
    return questions, engine.ask_many([q.question for q in questions], ev.K)


@pytest.fixture
def docs_copy(tmp_path) -> Path:
    """A writable copy of the seed docs folder."""
    target = tmp_path / "docs"
    shutil.copytree(SEED_DOCS, target)
    return target


@pytest.fixture
def cli():
    """Run the askbot CLI in-process; returns click's Result (stdout, stderr, exit_code)."""
    from askbot.cli import cli as command

    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(command, list(args), input=input, catch_exceptions=False)

    return run


def run_askbot(*args: str, input: str | None = None, cwd: Path | None = None, env: dict | None = None, timeout: float = 300):
    """Run `python -m askbot` as a real subprocess (for pipes, exit codes and start-up)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "askbot", *args],
        input=input,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=timeout,
    )


# -- PostgreSQL ---------------------------------------------------------------------------------

TEST_DATABASE_URL = os.environ.get("ASKBOT_TEST_DATABASE_URL", "")  # read before _isolated_env clears ASKBOT_*


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A real PostgreSQL with pgvector for the session: ASKBOT_TEST_DATABASE_URL, or a pgserver
    started in a temporary folder and removed at the end. pgserver missing is a failure, not a skip."""
    if TEST_DATABASE_URL:
        yield TEST_DATABASE_URL
        return
    import tempfile

    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="askbot-test-pg-"))
    folder.chmod(0o755)  # run as root, pgserver runs the server as its own user
    server = pgserver.get_server(folder, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def database_url(postgres_url):
    """A new, empty database on the session's server: each test its own."""
    import uuid

    import psycopg

    name = f"askbot_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(postgres_url, name)


def with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))

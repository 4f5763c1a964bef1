"""Feedback: 👍/👎 votes on answers, stored durably, exported as a question set.

SQLite in WAL mode with synchronous=FULL: `vote` returns only once the transaction is committed
and on disk, so a vote the user saw acknowledged survives the bot being killed right after.
User ids are stored as keyed hashes (HMAC-SHA-256, random key kept in the database), never raw.

`export` yields one record per voted answer in the eval question format
(`{"id", "question", "answers", "title"}` plus more keys): an answer with more 👍 than 👎 becomes
the gold answer; any other has an empty "answers" list, for a person to fill in before use.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, Protocol

from .answer import Answer
from .errors import AskbotError, UsageError
from .sqlite_files import open_database

FILE_NAME = "feedback.sqlite3"
Vote = Literal["up", "down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    answer TEXT,
    answered INTEGER NOT NULL,
    confidence REAL NOT NULL,
    title TEXT,
    passages TEXT NOT NULL,  -- JSON: [{"id", "source", "start", "end"}], best first
    asked_at TEXT NOT NULL,
    collection TEXT NOT NULL DEFAULT 'default'
);
CREATE TABLE IF NOT EXISTS votes (
    answer_id TEXT NOT NULL REFERENCES answers (id),
    user_hash TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    voted_at TEXT NOT NULL,
    PRIMARY KEY (answer_id, user_hash)
);
"""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class AnswerRecord:
    """What a vote is about: the question, the answer given and the passages behind it."""

    id: str
    question: str
    answer: str | None
    answered: bool
    confidence: float
    title: str | None
    passages: tuple[dict, ...]
    asked_at: str
    collection: str = "default"

    @classmethod
    def of(cls, answer_id: str, answer: Answer, collection: str = "default") -> "AnswerRecord":
        refs = tuple({"id": p.id, "source": p.source, "start": p.start, "end": p.end} for p in answer.passages)
        title = answer.passages[0].title if answer.passages else None
        return cls(answer_id, answer.question, answer.answer, answer.answered, answer.confidence, title, refs, now(), collection)


@dataclass(frozen=True)
class Tally:
    up: int
    down: int


class Feedback(Protocol):
    """Where votes go: this SQLite file, or PostgreSQL with ASKBOT_DATABASE_URL (postgres_feedback.py),
    so every bot process and shard records into one store and one export covers them all."""

    def vote(self, record: AnswerRecord, user_id: int, vote: Vote) -> Tally: ...

    def tallies(self, answer_ids: list[str]) -> dict[str, Tally]: ...

    def forget_user(self, user_id: int) -> int: ...

    def user_hash(self, user_id: int) -> str: ...

    def export(self, collection: str | None = None) -> Iterator[dict]: ...

    def close(self) -> None: ...


def open_feedback(settings) -> Feedback:
    """The deployment's feedback store, created when missing."""
    if settings.database_url:
        from .postgres_feedback import PostgresFeedbackStore

        return PostgresFeedbackStore(settings.database_url)
    return FeedbackStore(settings.data_dir / FILE_NAME)


def export_record(row: tuple) -> dict:
    """One voted answer in the eval question format, from (id, question, answer, answered,
    confidence, title, passages, asked_at, up, down, last vote)."""
    id_, question, answer, answered, confidence, title, passages, asked_at, up, down, last = row
    good = bool(answered) and answer is not None and up > down
    return {
        "id": id_,
        "question": question,
        "answers": [answer] if good else [],
        "title": title,
        "answer": answer,
        "answered": bool(answered),
        "confidence": round(confidence, 4),
        "passages": json.loads(passages) if isinstance(passages, str) else passages,
        "votes": {"up": up, "down": down},
        "asked_at": asked_at,
        "last_vote_at": last,
    }


class FeedbackStore:
    """The votes database. Safe to call from several threads; every write is committed on return."""

    def __init__(self, path: Path):
        self.path = path
        self._db = open_database(path, _SCHEMA, "the feedback database", _migrate)
        try:
            self._key = bytes.fromhex(self._db.execute("SELECT value FROM meta WHERE key = 'user_key'").fetchone()[0])
        except (OSError, sqlite3.Error) as exc:
            raise AskbotError(f"cannot open the feedback database {path}: {exc}") from None
        self._lock = threading.Lock()

    def vote(self, record: AnswerRecord, user_id: int, vote: Vote) -> Tally:
        """Record (or change) one user's vote on an answer; durable when this returns."""
        value = 1 if vote == "up" else -1
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.id, record.question, record.answer, int(record.answered), record.confidence,
                 record.title, json.dumps(record.passages), record.asked_at, record.collection),
            )
            self._db.execute(
                "INSERT INTO votes VALUES (?, ?, ?, ?) ON CONFLICT (answer_id, user_hash) "
                "DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at",
                (record.id, self.user_hash(user_id), value, now()),
            )
            return self._tally(record.id)

    def _tally(self, answer_id: str) -> Tally:
        up, down = self._db.execute(
            "SELECT COALESCE(SUM(vote = 1), 0), COALESCE(SUM(vote = -1), 0) FROM votes WHERE answer_id = ?",
            (answer_id,),
        ).fetchone()
        return Tally(up, down)

    def tallies(self, answer_ids: list[str]) -> dict[str, Tally]:
        """The votes on each of these answers (answers without votes are left out)."""
        found: dict[str, Tally] = {}
        with self._lock:
            for start in range(0, len(answer_ids), 500):  # SQLite's limit on parameters
                part = answer_ids[start : start + 500]
                rows = self._db.execute(
                    f"SELECT answer_id, SUM(vote = 1), SUM(vote = -1) FROM votes "
                    f"WHERE answer_id IN ({', '.join('?' * len(part))}) GROUP BY answer_id", part,
                ).fetchall()
                found.update({answer_id: Tally(up, down) for answer_id, up, down in rows})
        return found

    def forget_user(self, user_id: int) -> int:
        """Delete one member's votes (found by the keyed hash of their id); how many went."""
        with self._lock, self._db:
            return self._db.execute("DELETE FROM votes WHERE user_hash = ?", (self.user_hash(user_id),)).rowcount

    def export(self, collection: str | None = None) -> Iterator[dict]:
        """Every voted answer (of one collection, or all), oldest vote first, in the eval question format."""
        where, params = ("WHERE a.collection = ? ", (collection,)) if collection is not None else ("", ())
        with self._lock:
            rows = self._db.execute(
                "SELECT a.id, a.question, a.answer, a.answered, a.confidence, a.title, a.passages, a.asked_at, "
                "SUM(v.vote = 1), SUM(v.vote = -1), MAX(v.voted_at) "
                f"FROM answers a JOIN votes v ON v.answer_id = a.id {where}GROUP BY a.id ORDER BY MIN(v.voted_at), a.id",
                params,
            ).fetchall()
        for row in rows:
            yield export_record(row)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def user_hash(self, user_id: int) -> str:
        """The keyed hash that stands for a Discord user everywhere askbot stores anything."""
        return hmac.new(self._key, str(user_id).encode(), hashlib.sha256).hexdigest()


def _migrate(db: sqlite3.Connection) -> None:
    """The user key on first use; databases from before collections: their answers all belong
    to the default one."""
    db.execute("INSERT OR IGNORE INTO meta VALUES ('user_key', ?)", (secrets.token_hex(32),))
    columns = {row[1] for row in db.execute("PRAGMA table_info(answers)")}
    if "collection" not in columns:
        db.execute("ALTER TABLE answers ADD COLUMN collection TEXT NOT NULL DEFAULT 'default'")


def open_existing(settings) -> Feedback:
    """The deployment's feedback store, which must already exist (for export)."""
    if settings.database_url:
        return open_feedback(settings)
    path = settings.data_dir / FILE_NAME
    if not path.is_file():
        raise UsageError(f"no feedback recorded yet: {path} does not exist")
    return FeedbackStore(path)

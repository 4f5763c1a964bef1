"""The question log: every question asked through Discord, for `askbot report`.

What is stored per question: when, the server, channel and collection, the question text,
whether it was answered, the confidence, the top source, the answer's id (its votes live in the
feedback store) and the asker as the keyed hash the feedback store uses (never the Discord id).
Rows older than ASKBOT_DISCORD_LOG_DAYS are deleted; `forget_user` deletes one member's rows.

`QuestionLog` is the interface the bot and the report use; `SqliteQuestionLog` keeps it in
`<data>/questions.sqlite3` (a database backend can implement the same five methods).
"""

from __future__ import annotations

import threading
from dataclasses import astuple, dataclass, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Protocol

from .sqlite_files import open_database

FILE_NAME = "questions.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    asked_at TEXT NOT NULL,      -- ISO 8601, UTC
    guild_id INTEGER,            -- NULL in DMs
    channel_id INTEGER NOT NULL,
    collection TEXT NOT NULL,
    question TEXT NOT NULL,
    answered INTEGER NOT NULL,
    confidence REAL NOT NULL,
    top_source TEXT,
    answer_id TEXT,
    user_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS questions_by_time ON questions (asked_at);
CREATE INDEX IF NOT EXISTS questions_by_user ON questions (user_hash);
"""


@dataclass(frozen=True)
class LoggedQuestion:
    asked_at: str
    guild_id: int | None
    channel_id: int
    collection: str
    question: str
    answered: bool
    confidence: float
    top_source: str | None
    answer_id: str | None
    user_hash: str


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


class QuestionLog(Protocol):
    def record(self, question: LoggedQuestion) -> None: ...

    def questions(self, since: datetime, collection: str | None = None, guild_id: int | None = None) -> list[LoggedQuestion]: ...

    def delete_older_than(self, cutoff: datetime) -> int: ...

    def forget_user(self, user_hash: str) -> int: ...

    def close(self) -> None: ...


class SqliteQuestionLog:
    """The log in one SQLite file (WAL); safe to call from several threads."""

    def __init__(self, path: Path):
        self.path = path
        self._db = open_database(path, _SCHEMA, "the question log")
        self._lock = threading.Lock()

    def record(self, question: LoggedQuestion) -> None:
        row = astuple(question)
        with self._lock, self._db:
            self._db.execute(f"INSERT INTO questions VALUES ({', '.join('?' * len(row))})", row)

    def questions(self, since: datetime, collection: str | None = None, guild_id: int | None = None) -> list[LoggedQuestion]:
        """The questions asked since `since`, oldest first; of one collection and server if given."""
        names = ", ".join(f.name for f in fields(LoggedQuestion))
        sql = f"SELECT {names} FROM questions WHERE asked_at >= ?"
        params: list[object] = [stamp(since)]
        for column, value in (("collection", collection), ("guild_id", guild_id)):
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY asked_at, rowid", params).fetchall()
        return [LoggedQuestion(*row[:5], bool(row[5]), *row[6:]) for row in rows]

    def delete_older_than(self, cutoff: datetime) -> int:
        with self._lock, self._db:
            return self._db.execute("DELETE FROM questions WHERE asked_at < ?", (stamp(cutoff),)).rowcount

    def forget_user(self, user_hash: str) -> int:
        with self._lock, self._db:
            return self._db.execute("DELETE FROM questions WHERE user_hash = ?", (user_hash,)).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()


def retention_cutoff(days: int, now: datetime | None = None) -> datetime:
    return (now or utc_now()) - timedelta(days=days)

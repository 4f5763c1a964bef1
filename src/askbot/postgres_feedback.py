"""Feedback votes in PostgreSQL (ASKBOT_DATABASE_URL): every bot process and shard votes into one
store, and `askbot feedback export` covers them all. Same records and export as feedback.py's
SQLite store: a vote is committed before `vote` returns; user ids are stored as keyed hashes
(HMAC-SHA-256 with a random key kept in the database), never raw.

The tables are created on first use. A bot running under a read-only role for the index needs
INSERT and UPDATE on the askbot_feedback_* tables (README, "Past one machine").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator

from .feedback import AnswerRecord, Tally, Vote, export_record, now
from .postgres_db import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS askbot_feedback_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS askbot_feedback_answers (
    id text PRIMARY KEY, question text NOT NULL, answer text, answered boolean NOT NULL,
    confidence double precision NOT NULL, title text, passages jsonb NOT NULL, asked_at text NOT NULL,
    collection text NOT NULL DEFAULT 'default'
);
CREATE TABLE IF NOT EXISTS askbot_feedback_votes (
    answer_id text NOT NULL REFERENCES askbot_feedback_answers (id), user_hash text NOT NULL,
    vote smallint NOT NULL CHECK (vote IN (-1, 1)), voted_at text NOT NULL, PRIMARY KEY (answer_id, user_hash)
);
"""


class PostgresFeedbackStore:
    """feedback.Feedback in the database; safe to call from several threads (a pool)."""

    def __init__(self, url: str):
        self._db = Database(url, pool_size=2)
        with self._db.connection() as conn, conn.transaction():
            if conn.execute("SELECT to_regclass('askbot_feedback_meta') IS NULL").fetchone()[0]:
                conn.execute("SELECT pg_advisory_xact_lock(%s, 1)", (0x61736B,))  # one creator at a time
                conn.execute(_SCHEMA)
            conn.execute(
                "INSERT INTO askbot_feedback_meta VALUES ('user_key', %s) ON CONFLICT DO NOTHING", (secrets.token_hex(32),)
            )
            self._key = bytes.fromhex(conn.execute("SELECT value FROM askbot_feedback_meta WHERE key = 'user_key'").fetchone()[0])

    def __repr__(self) -> str:
        return f"PostgresFeedbackStore({self._db.where})"

    def vote(self, record: AnswerRecord, user_id: int, vote: Vote) -> Tally:
        """Record (or change) one user's vote on an answer; committed when this returns."""
        with self._db.connection() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO askbot_feedback_answers VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (record.id, record.question, record.answer, record.answered, record.confidence,
                 record.title, json.dumps(record.passages), record.asked_at, record.collection),
            )
            conn.execute(
                "INSERT INTO askbot_feedback_votes VALUES (%s, %s, %s, %s) ON CONFLICT (answer_id, user_hash) "
                "DO UPDATE SET vote = excluded.vote, voted_at = excluded.voted_at",
                (record.id, self.user_hash(user_id), 1 if vote == "up" else -1, now()),
            )
            up, down = conn.execute(
                "SELECT count(*) FILTER (WHERE vote = 1), count(*) FILTER (WHERE vote = -1) FROM askbot_feedback_votes WHERE answer_id = %s",
                (record.id,),
            ).fetchone()
        return Tally(up, down)

    def tallies(self, answer_ids: list[str]) -> dict[str, Tally]:
        """The votes on each of these answers (answers without votes are left out)."""
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT answer_id, count(*) FILTER (WHERE vote = 1), count(*) FILTER (WHERE vote = -1) "
                "FROM askbot_feedback_votes WHERE answer_id = ANY(%s) GROUP BY answer_id",
                (answer_ids,),
            ).fetchall()
            conn.rollback()
        return {answer_id: Tally(up, down) for answer_id, up, down in rows}

    def forget_user(self, user_id: int) -> int:
        """Delete one member's votes (found by the keyed hash of their id); how many went."""
        with self._db.connection() as conn, conn.transaction():
            return conn.execute("DELETE FROM askbot_feedback_votes WHERE user_hash = %s", (self.user_hash(user_id),)).rowcount

    def export(self, collection: str | None = None) -> Iterator[dict]:
        """Every voted answer (of one collection, or all), oldest vote first, in the eval question format."""
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT a.id, a.question, a.answer, a.answered, a.confidence, a.title, a.passages, a.asked_at, "
                "count(*) FILTER (WHERE v.vote = 1), count(*) FILTER (WHERE v.vote = -1), max(v.voted_at) "
                "FROM askbot_feedback_answers a JOIN askbot_feedback_votes v ON v.answer_id = a.id "
                "WHERE %(collection)s::text IS NULL OR a.collection = %(collection)s "
                "GROUP BY a.id ORDER BY min(v.voted_at), a.id",
                {"collection": collection},
            ).fetchall()
            conn.rollback()
        for row in rows:
            yield export_record(row)

    def close(self) -> None:
        self._db.close()

    def user_hash(self, user_id: int) -> str:
        """The keyed hash that stands for a Discord user everywhere askbot stores anything."""
        return hmac.new(self._key, str(user_id).encode(), hashlib.sha256).hexdigest()

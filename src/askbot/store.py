"""Chunk store: chunk texts and their places in the source documents, in one SQLite file.

Read on demand by id, so memory holds vectors, not texts. Opened read-only after a build.
Each chunk also keeps its sentences' stemmed terms (lexical.tokenize), which answer selection
compares with the question: tokenizing five passages per question cost ≈ 0.35 ms.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .chunking import Span

_SCHEMA = """
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    sentences TEXT NOT NULL,
    terms TEXT NOT NULL,
    text TEXT NOT NULL,
    section TEXT,
    page_start INTEGER,
    page_end INTEGER
);
CREATE TABLE documents (
    source TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    date TEXT,
    url TEXT
);
"""


@dataclass(frozen=True)
class StoredChunk:
    id: int
    source: str
    title: str
    date: str | None
    start: int
    end: int
    sentences: tuple[Span, ...]  # absolute offsets into the document text, like start and end
    text: str
    terms: tuple[tuple[str, ...], ...]  # each sentence's stemmed terms, in order
    section: str | None = None  # heading path, "Installation › Linux"
    page_start: int | None = None  # PDF pages the chunk runs over (1-based)
    page_end: int | None = None
    url: str | None = None  # the document's URL (fetched pages)


DocumentRow = tuple[str, str, str | None, str | None]  # source, title, date, url


def write_store(path: Path, documents: Iterable[DocumentRow], chunks: Iterable[StoredChunk]) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(_SCHEMA)
        db.executemany("INSERT INTO documents VALUES (?, ?, ?, ?)", documents)
        db.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (c.id, c.source, c.start, c.end, json.dumps(c.sentences), json.dumps(c.terms), c.text)
                + (c.section, c.page_start, c.page_end)
                for c in chunks
            ),
        )
    db.close()


class ChunkStore:
    def __init__(self, path: Path):
        # immutable=1: the file never changes once built, so SQLite skips locking entirely.
        self._db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)

    def get(self, ids: Sequence[int]) -> list[StoredChunk]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            "SELECT c.id, c.source, d.title, d.date, c.start, c.end, c.sentences, c.text, c.terms, "
            "c.section, c.page_start, c.page_end, d.url "
            f"FROM chunks c JOIN documents d USING (source) WHERE c.id IN ({marks})",
            list(map(int, ids)),
        ).fetchall()
        by_id = {
            r[0]: StoredChunk(
                *r[:6], tuple(map(tuple, json.loads(r[6]))), r[7], tuple(map(tuple, json.loads(r[8]))), *r[9:]
            )
            for r in rows
        }
        return [by_id[i] for i in ids if i in by_id]

    def by_source(self, source: str) -> list[StoredChunk]:
        return self.get(self.ids_of(source))

    def ids_of(self, source: str) -> list[int]:
        """Ids of one document's chunks, in order."""
        return [r[0] for r in self._db.execute("SELECT id FROM chunks WHERE source = ? ORDER BY id", (source,))]

    def close(self) -> None:
        self._db.close()

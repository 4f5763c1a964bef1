"""Index backends: where an index lives, behind one interface the engine and search use.

Two backends hold the same index: the folder backend (index.py, folder_backend.py: FAISS, BM25
files and SQLite under INDEX/, the default) and the PostgreSQL backend (postgres_index.py: pgvector
and BM25 postings in SQL, chosen by ASKBOT_DATABASE_URL). Neither the engine nor the surfaces know
which one answers.

Search and answer selection (search.py, answer.py) stay in one place and read only what
`IndexView` gives: a question's candidates already scored (cosines of their chunk and sentence
vectors with the question, BM25 of its terms), chunk records and IDF. Scores, not vectors, cross
the interface, so the PostgreSQL backend computes them in one statement next to the data and a
question costs two round trips (candidates, then the chosen chunks), not one per primitive. A
view is one consistent state of the index: the folder backend's build never changes under it,
and PostgreSQL's is a read-only repeatable-read transaction, so a question never sees half of a
build.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .store import StoredChunk

Notify = Callable[[str], None]


@dataclass(frozen=True)
class Candidates:
    """Chunks that may answer a question, each scored against it (ids ascending)."""

    ids: np.ndarray  # int64 chunk ids
    chunk_cosines: np.ndarray  # float32: each chunk vector's cosine with the question
    sentence_cosines: np.ndarray  # float32, sum(counts): each chunk's sentences' cosines in turn
    counts: np.ndarray  # sentences per chunk (every chunk has at least one)
    bm25: np.ndarray  # float32: BM25 (k1, b of lexical.py) of each chunk for the question's terms
    best_bm25: float  # the best BM25 of any chunk of the index (0 when no chunk holds a query term)

    @classmethod
    def from_vectors(
        cls, ids: np.ndarray, chunk_vectors: np.ndarray, sentence_vectors: np.ndarray, counts: np.ndarray,
        query: np.ndarray, bm25: np.ndarray, best_bm25: float,
    ) -> "Candidates":  # fmt: skip
        """Candidates scored here, for a backend that holds their vectors in this process."""
        return cls(ids, chunk_vectors @ query, sentence_vectors @ query, counts, np.asarray(bm25, dtype=np.float32), best_bm25)


@dataclass(frozen=True)
class IndexDetails:
    """What `askbot index info` says about where and how the index is kept."""

    location: str  # the build folder, or the database (host, port, database; never the password) and collection
    size_bytes: int
    vector_index: str
    vector_ram_bytes: int


class IndexView(Protocol):
    """One consistent state of an index: what search and answer selection read."""

    @property
    def size(self) -> int: ...

    def candidates(self, query: np.ndarray, tokens: Sequence[str], k: int) -> Candidates:
        """About the k chunks nearest the query vector (approximate allowed) and the k with the
        best BM25 for the question's stemmed tokens, together, scored."""

    def document_candidates(self, query: np.ndarray, tokens: Sequence[str], source: str) -> Candidates:
        """Every chunk of one document (a conversation keeps to its document), scored."""

    def chunks(self, ids: Sequence[int]) -> list[StoredChunk]:
        """The chunk records, in the order asked for."""

    def idf(self, token: str) -> float: ...


class SearchIndex(Protocol):
    """A loaded index of one collection."""

    manifest: dict  # model, encoder, chunking, built_at, chunks, skipped, documents {source: {sha256, title, date}}

    @property
    def identity(self) -> str:
        """Names the committed build answering; another build makes it change."""

    @property
    def size(self) -> int: ...

    @property
    def encoder_dir(self) -> Path:
        """The local folder whose encoders/ sub-folder holds the ONNX query encoder."""

    def reading(self) -> AbstractContextManager[IndexView]:
        """One consistent view for one question (or one batch)."""

    def details(self) -> IndexDetails: ...

    def close(self) -> None: ...


class IndexBackend(Protocol):
    """Where the index of one collection is kept, read and built."""

    builds_on_open: bool  # `ask` builds a missing or stale index from the docs folder (folder backend only)

    def load(self, check_model: Callable[[dict], None] | None) -> SearchIndex | None:
        """The committed index, or None; check_model raises when the manifest's model is not ours."""

    def current(self) -> str | None:
        """The identity of the committed index, cheaply (to notice another process's build)."""

    def is_stale(self, index: SearchIndex) -> bool:
        """True when the docs folder no longer matches what the index was built from."""

    def missing(self) -> str:
        """The message when there is no index yet."""

    def build_lock(self) -> AbstractContextManager[object]:
        """Hold this collection's build lock (BuildLocked naming the holder when taken)."""

    def unchanged(self, model, files: list) -> "object | None":
        """A no-change builder.BuildReport when it is cheap to tell nothing changed, else None."""

    def previous_for_build(self, given: SearchIndex | None) -> SearchIndex | None:
        """The index a build inside the lock starts from."""

    def write(self, changes: "Changes", previous: SearchIndex | None) -> int:
        """Commit a build atomically (readers see all of it or none); returns its chunk count."""


@dataclass
class Changes:
    """A build, embedded and ready to commit: fresh documents replace their old versions."""

    documents: list[tuple[str, str, str | None, str]]  # every document kept: source, title, date, sha256
    fresh: dict[str, list[StoredChunk]]  # chunks of the new and changed documents, by source
    fresh_vectors: np.ndarray  # their chunk vectors, in the order of `fresh`
    fresh_sentences: np.ndarray  # their sentence vectors, chunk after chunk
    removed: set[str]  # sources of the previous build that are gone or changed
    dim: int
    manifest: dict  # model, encoder, vectors, chunking, built_at, skipped


def open_backend(settings, notify: Notify) -> IndexBackend:
    """The folder backend, or PostgreSQL when ASKBOT_DATABASE_URL is set."""
    if settings.database_url:
        from .postgres_index import PostgresBackend

        return PostgresBackend(settings, notify)
    from .folder_backend import FolderBackend

    return FolderBackend(settings, notify)

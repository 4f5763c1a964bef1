"""The PostgreSQL backend: every collection's index in one database (pgvector), chosen by
ASKBOT_DATABASE_URL, so any number of processes on any number of machines answer from one index.

Tables (the collection is part of every key; the vector tables are partitioned by it, so each
collection has its own HNSW graph and a search never leaves its collection):
    askbot_collections   name, generation (bumped by every committed build), manifest, chunk count,
                         total token length (BM25's average), the next chunk id
    askbot_documents     source, sha256, title, date, url
    askbot_chunks        text, offsets, sentences, terms, section, pages, token length, chunk vector (HNSW)
    askbot_sentences     one vector per sentence of each chunk
    askbot_postings      term, chunk, term frequency, chunk length: BM25 summed in SQL
    askbot_terms         document frequency of each term (IDF)
    askbot_build_holders who holds a collection's build lock

BM25 is bm25s's (lexical.py): idf = ln(1 + (N - df + 0.5) / (df + 0.5)) and
tf / (tf + k1 (1 - b + b dl / avgdl)), same tokenizer, k1 and b, so both backends rank alike.

A build embeds first, then applies all its changes in one transaction and bumps the generation:
readers (one repeatable-read, read-only transaction per question) see the old index or the new
one, never a mix; a build killed at any point leaves the previous state serving. Chunk ids are
stable across builds (new chunks take new ids), so an incremental build writes only what changed.
Builds of one collection are serialised by a session advisory lock (released by the server when
the holder dies, SIGKILL included); other collections build at the same time.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from .backend import CandidateVectors, Changes, IndexDetails, LexicalTop
from .buildlock import BuildLocked, Holder
from .builder import embedding_text
from .errors import AskbotError, IndexProblem
from .index import FORMAT_VERSION, REBUILD, pause_point
from .lexical import B, K1, tokenize
from .search import CANDIDATES
from .postgres_db import Database, DatabaseUnreachable, reason
from .settings import Settings
from .store import StoredChunk

Notify = Callable[[str], None]
LOCK_CLASS = 0x61736B  # "ask": the advisory lock's first key; the second is the collection's hash
EF_SEARCH_FACTOR = 2  # HNSW explores this many times the candidates asked for (recall: bench_postgres.py)
HNSW = "m = 16, ef_construction = 64"

_SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS askbot_collections (
    name text PRIMARY KEY,
    generation bigint NOT NULL DEFAULT 0,
    manifest jsonb NOT NULL DEFAULT '{{}}',
    chunks integer NOT NULL DEFAULT 0,
    total_length bigint NOT NULL DEFAULT 0,
    next_chunk_id integer NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS askbot_documents (
    collection text NOT NULL, source text NOT NULL, sha256 text NOT NULL, title text NOT NULL, date text, url text,
    PRIMARY KEY (collection, source)
);
CREATE TABLE IF NOT EXISTS askbot_chunks (
    collection text NOT NULL, id integer NOT NULL, source text NOT NULL,
    start integer NOT NULL, "end" integer NOT NULL, length integer NOT NULL,
    sentences jsonb NOT NULL, terms jsonb NOT NULL, text text NOT NULL, section text, page_start integer, page_end integer,
    embedding vector({dim}) NOT NULL,
    PRIMARY KEY (collection, id)
) PARTITION BY LIST (collection);
CREATE INDEX IF NOT EXISTS askbot_chunks_hnsw ON askbot_chunks USING hnsw (embedding vector_ip_ops) WITH ({hnsw});
CREATE INDEX IF NOT EXISTS askbot_chunks_source ON askbot_chunks (collection, source);
CREATE TABLE IF NOT EXISTS askbot_sentences (
    collection text NOT NULL, chunk_id integer NOT NULL, position integer NOT NULL, embedding vector({dim}) NOT NULL,
    PRIMARY KEY (collection, chunk_id, position)
) PARTITION BY LIST (collection);
CREATE TABLE IF NOT EXISTS askbot_postings (
    collection text NOT NULL, term text NOT NULL, chunk_id integer NOT NULL, tf integer NOT NULL, length integer NOT NULL,
    PRIMARY KEY (collection, term, chunk_id)
);
CREATE INDEX IF NOT EXISTS askbot_postings_chunk ON askbot_postings (collection, chunk_id);
CREATE TABLE IF NOT EXISTS askbot_terms (
    collection text NOT NULL, term text NOT NULL, df integer NOT NULL, PRIMARY KEY (collection, term)
);
"""
_HOLDERS = "CREATE TABLE IF NOT EXISTS askbot_build_holders (collection text PRIMARY KEY, holder jsonb NOT NULL)"


class PostgresBackend:
    """backend.IndexBackend for one collection of the database at settings.database_url."""

    builds_on_open = False  # the database is shared: builds are explicit (`askbot index build`, /reindex)

    def __init__(self, settings: Settings, notify: Notify):
        self.settings = settings
        self.collection = settings.collection
        self._notify = notify
        self.db = Database(settings.database_url)
        self._build_conn = None  # the build's own connection, holding the advisory lock

    def __repr__(self) -> str:
        return f"PostgresBackend({self.db.where}, collection={self.collection!r})"

    # -- reading -----------------------------------------------------------------------------

    def load(self, check_model: Callable[[dict], None] | None) -> "PostgresIndex | None":
        index = PostgresIndex(self.db, self.collection, self.settings)
        if not index.refresh():
            return None
        if check_model is not None:
            check_model(index.manifest)
        return index

    def current(self) -> str | None:
        with self.db.connection() as conn:
            if not _has_schema(conn):
                return None
            row = conn.execute("SELECT generation FROM askbot_collections WHERE name = %s AND generation > 0", (self.collection,)).fetchone()
        return f"{self.collection}@{row[0]}" if row else None

    def is_stale(self, index) -> bool:
        return False  # never asked: builds_on_open is False

    def missing(self) -> str:
        return f"no index of collection {self.collection!r} in the database {self.db.where}: {REBUILD}"

    def unchanged(self, model, files: list):
        return None  # loading the manifest is cheap here: the builder decides

    # -- building ----------------------------------------------------------------------------

    @contextmanager
    def build_lock(self) -> Iterator[Holder]:
        """The collection's advisory lock on a connection of the build's own, naming its holder.
        A refusal (a read-only role, a full disk) is one line, like every askbot error."""
        import psycopg

        try:
            with self._locked() as holder:
                yield holder
        except psycopg.OperationalError as error:
            raise DatabaseUnreachable(f"the database {self.db.where} was lost during the build: {reason(error, self.db.url)}") from None
        except psycopg.Error as error:
            raise AskbotError(f"the database {self.db.where} refused the build: {reason(error, self.db.url)}") from None

    @contextmanager
    def _locked(self) -> Iterator[Holder]:
        conn = self.db.connect()
        try:
            conn.execute(_HOLDERS)
            key = (LOCK_CLASS, self.collection)
            if not conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", key).fetchone()[0]:
                raise BuildLocked(f"another build is running on collection {self.collection!r} in {self.db.where} ({self._holder(conn)}): wait for it to finish")
            left = conn.execute("SELECT holder FROM askbot_build_holders WHERE collection = %s", (self.collection,)).fetchone()
            if left:
                self._notify(f"taking over the build lock of {Holder(**left[0]).describe()}: that build did not finish")
            me = Holder(os.getpid(), socket.gethostname(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            conn.execute(
                "INSERT INTO askbot_build_holders VALUES (%s, %s) ON CONFLICT (collection) DO UPDATE SET holder = excluded.holder",
                (self.collection, json.dumps(me.__dict__)),
            )
            self._build_conn = conn
            try:
                yield me
            finally:
                self._build_conn = None
                conn.execute("DELETE FROM askbot_build_holders WHERE collection = %s", (self.collection,))
                conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", key)
        finally:
            conn.close()

    def _holder(self, conn) -> str:
        row = conn.execute("SELECT holder FROM askbot_build_holders WHERE collection = %s", (self.collection,)).fetchone()
        return Holder(**row[0]).describe() if row else "its holder has not said who it is yet"

    def previous_for_build(self, given) -> "PostgresIndex | None":
        return self.load(None)  # what is committed now, under the lock: never a stale copy

    def write(self, changes: Changes, previous) -> int:
        conn = self._build_conn
        _ensure_schema(conn, changes.dim, self.collection)
        with conn.transaction():
            _apply(conn, self.collection, changes)
            pause_point("writing")  # test hook: killed here, the transaction never commits
            row = conn.execute("SELECT chunks FROM askbot_collections WHERE name = %s", (self.collection,)).fetchone()
        return row[0]


def _has_schema(conn) -> bool:
    return conn.execute("SELECT to_regclass('askbot_collections') IS NOT NULL").fetchone()[0]


def _partition(table: str, collection: str) -> str:
    return f"{table}_{hashlib.sha256(collection.encode()).hexdigest()[:16]}"


def _ensure_schema(conn, dim: int, collection: str) -> None:
    """Tables and this collection's partitions, created once (DDL has no parameters: the
    dimension is an int and names are composed with psycopg.sql)."""
    from psycopg import sql

    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_CLASS,))  # one schema change at a time
        if not _has_schema(conn):
            conn.execute(_SCHEMA.format(dim=int(dim), hnsw=HNSW))
        from pgvector.psycopg import register_vector

        register_vector(conn)
        have = conn.execute(
            "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'askbot_chunks'::regclass AND attname = 'embedding'"
        ).fetchone()[0]
        if have != dim:
            raise IndexProblem(f"the database holds {have}-dimensional vectors and ASKBOT_MODEL makes {dim}: use another database")
        for table in ("askbot_chunks", "askbot_sentences"):
            conn.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES IN ({})").format(
                    sql.Identifier(_partition(table, collection)), sql.Identifier(table), sql.Literal(collection)
                )
            )
        conn.execute("INSERT INTO askbot_collections (name) VALUES (%s) ON CONFLICT DO NOTHING", (collection,))


def _apply(conn, collection: str, changes: Changes) -> None:
    """All of a build's changes, inside the caller's transaction."""
    next_id = conn.execute("SELECT next_chunk_id FROM askbot_collections WHERE name = %s FOR UPDATE", (collection,)).fetchone()[0]
    removed = sorted(changes.removed)
    affected = {
        r[0]
        for r in conn.execute(
            "DELETE FROM askbot_postings p USING askbot_chunks c WHERE p.collection = %s AND c.collection = %s "
            "AND c.id = p.chunk_id AND c.source = ANY(%s) RETURNING p.term",
            (collection, collection, removed),
        )
    }
    conn.execute(
        "DELETE FROM askbot_sentences s USING askbot_chunks c WHERE s.collection = %s AND c.collection = %s "
        "AND c.id = s.chunk_id AND c.source = ANY(%s)",
        (collection, collection, removed),
    )
    conn.execute("DELETE FROM askbot_chunks WHERE collection = %s AND source = ANY(%s)", (collection, removed))
    conn.execute("DELETE FROM askbot_documents WHERE collection = %s AND source = ANY(%s)", (collection, removed))
    fresh_docs = [d for d in changes.documents if d[0] in changes.fresh]
    with conn.cursor().copy("COPY askbot_documents (collection, source, title, date, url, sha256) FROM STDIN") as copy:
        for source, title, date, sha in fresh_docs:
            copy.write_row((collection, source, title, date, changes.fresh[source][0].url, sha))
    next_id, terms = _insert_chunks(conn, collection, changes, next_id)
    affected |= terms
    _recount_terms(conn, collection, sorted(affected))
    conn.execute(
        "UPDATE askbot_collections SET generation = generation + 1, manifest = %s, next_chunk_id = %s, "
        "chunks = (SELECT count(*) FROM askbot_chunks WHERE collection = %s), "
        "total_length = (SELECT coalesce(sum(length), 0) FROM askbot_chunks WHERE collection = %s) WHERE name = %s",
        (json.dumps(dict(changes.manifest, format_version=FORMAT_VERSION)), next_id, collection, collection, collection),
    )


def _insert_chunks(conn, collection: str, changes: Changes, next_id: int) -> tuple[int, set[str]]:
    """COPY the fresh chunks, their sentence vectors and postings; returns the next free id and
    the terms they hold."""
    cur = conn.cursor()
    terms: set[str] = set()
    chunks = [c for cs in changes.fresh.values() for c in cs]
    sentence_row = 0
    with cur.copy(
        'COPY askbot_chunks (collection, id, source, start, "end", length, sentences, terms, text, section, page_start, page_end, embedding) '
        "FROM STDIN"
    ) as copy:
        postings = []
        for chunk, vector in zip(chunks, changes.fresh_vectors):
            tokens = tokenize([embedding_text(chunk.text, chunk.section)])[0]
            counts = Counter(tokens)
            terms.update(counts)
            postings += [(collection, term, next_id, tf, len(tokens)) for term, tf in counts.items()]
            copy.write_row((collection, next_id, chunk.source, chunk.start, chunk.end, len(tokens), json.dumps(chunk.sentences),
                            json.dumps(chunk.terms), chunk.text, chunk.section, chunk.page_start, chunk.page_end, vector))
            next_id += 1
    with cur.copy("COPY askbot_sentences (collection, chunk_id, position, embedding) FROM STDIN") as copy:
        for chunk_id, chunk in enumerate(chunks, start=next_id - len(chunks)):
            for position in range(len(chunk.sentences)):
                copy.write_row((collection, chunk_id, position, changes.fresh_sentences[sentence_row]))
                sentence_row += 1
    with cur.copy("COPY askbot_postings (collection, term, chunk_id, tf, length) FROM STDIN") as copy:
        for row in postings:
            copy.write_row(row)
    return next_id, terms


def _recount_terms(conn, collection: str, terms: list[str]) -> None:
    conn.execute("DELETE FROM askbot_terms WHERE collection = %s AND term = ANY(%s)", (collection, terms))
    conn.execute(
        "INSERT INTO askbot_terms (collection, term, df) SELECT collection, term, count(*) FROM askbot_postings "
        "WHERE collection = %s AND term = ANY(%s) GROUP BY collection, term",
        (collection, terms),
    )


class PostgresIndex:
    """backend.SearchIndex: one collection, read through the pool. The generation is checked at
    the start of every question, so a build another process committed is used at once."""

    def __init__(self, db: Database, collection: str, settings: Settings):
        self.db = db
        self.collection = collection
        self.manifest: dict = {}
        self._generation: int | None = None
        self._encoder_dir = settings.index_dir

    def __repr__(self) -> str:
        return f"PostgresIndex({self.db.where}, collection={self.collection!r}, generation={self._generation})"

    def refresh(self) -> bool:
        """Read the committed state; False when the collection has no index."""
        with self.db.connection() as conn:
            with conn.transaction():
                return _has_schema(conn) and self._read_state(conn) is not None

    def _read_state(self, conn) -> tuple[int, float] | None:
        """(chunks, average length) of the committed build; reloads the manifest when a new build
        was committed since the last look."""
        row = conn.execute(
            "SELECT generation, chunks, total_length FROM askbot_collections WHERE name = %s AND generation > 0",
            (self.collection,),
        ).fetchone()
        if row is None:
            return None
        generation, chunks, total_length = row
        if generation != self._generation:
            self.manifest = self._read_manifest(conn)
            self._generation = generation
        return chunks, (total_length / chunks if chunks else 0.0)

    def _read_manifest(self, conn) -> dict:
        manifest = conn.execute("SELECT manifest FROM askbot_collections WHERE name = %s", (self.collection,)).fetchone()[0]
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexProblem(f"the index in the database was built by another askbot version: {REBUILD}")
        rows = conn.execute("SELECT source, sha256, title, date FROM askbot_documents WHERE collection = %s", (self.collection,))
        manifest["documents"] = {s: {"sha256": sha, "title": t, "date": d} for s, sha, t, d in rows}
        manifest["chunks"] = conn.execute("SELECT chunks FROM askbot_collections WHERE name = %s", (self.collection,)).fetchone()[0]
        return manifest

    @property
    def identity(self) -> str:
        return f"{self.collection}@{self._generation}"

    @property
    def size(self) -> int:
        return int(self.manifest.get("chunks", 0))

    @property
    def encoder_dir(self):
        return self._encoder_dir

    @contextmanager
    def reading(self) -> Iterator["PostgresView"]:
        from psycopg import IsolationLevel

        with self.db.connection() as conn:
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            try:
                with conn.transaction():
                    state = self._read_state(conn)
                    if state is None:
                        raise IndexProblem(f"the index of collection {self.collection!r} is gone from the database: {REBUILD}")
                    yield PostgresView(conn, self.collection, *state)
            finally:
                conn.read_only = False
                conn.isolation_level = None

    def details(self) -> IndexDetails:
        chunks, sentences = (_partition(t, self.collection) for t in ("askbot_chunks", "askbot_sentences"))
        with self.db.connection() as conn:
            own = conn.execute("SELECT pg_total_relation_size(%s::regclass) + pg_total_relation_size(%s::regclass)", (chunks, sentences)).fetchone()[0]
            share = conn.execute(  # the shared lexical tables, by this collection's share of their rows
                "SELECT (SELECT count(*) FROM askbot_postings WHERE collection = %s)::float8 / greatest(1, (SELECT count(*) FROM askbot_postings))",
                (self.collection,),
            ).fetchone()[0]
            lexical = conn.execute(
                "SELECT pg_total_relation_size('askbot_postings') + pg_total_relation_size('askbot_terms') + pg_total_relation_size('askbot_documents')"
            ).fetchone()[0]
            sizes = own + share * lexical
            graph = conn.execute(
                "SELECT coalesce(sum(pg_relation_size(i.indexrelid)), 0) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
                "WHERE c.relname = %s AND i.indexrelid::regclass::text LIKE '%%embedding%%'",
                (_partition("askbot_chunks", self.collection),),
            ).fetchone()[0]
        location = f"postgresql {self.db.where}, collection {self.collection}"
        return IndexDetails(location, int(sizes), f"hnsw ({HNSW}; pgvector, exact re-scoring)", int(graph))

    def close(self) -> None:
        self.db.close()


def ef_search(k: int) -> int:
    return min(1000, max(40, EF_SEARCH_FACTOR * k))


class PostgresView:
    """backend.IndexView over one read-only repeatable-read transaction."""

    def __init__(self, conn, collection: str, chunks: int, average_length: float):
        self._conn = conn
        self._collection = collection
        self.size = chunks
        self._average_length = average_length
        self._df: dict[str, int] = {}

    def nearest(self, query: np.ndarray, k: int) -> np.ndarray:
        if k > CANDIDATES:  # wider than the connection's setting (postgres_db._configure)
            self._conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(ef_search(k)),))
        rows = self._conn.execute(
            "SELECT id FROM askbot_chunks WHERE collection = %s ORDER BY embedding <#> %s LIMIT %s",
            (self._collection, np.asarray(query, dtype=np.float32), k),
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def lexical_top(self, tokens: Sequence[str], k: int) -> LexicalTop:
        rows = self._bm25(tokens, "", "ORDER BY score DESC, p.chunk_id LIMIT %(k)s", k=k)
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        scores = np.array([r[1] for r in rows], dtype=np.float32)
        return LexicalTop(ids, scores, float(scores[0]) if len(scores) else 0.0)

    def lexical_scores(self, tokens: Sequence[str], ids: np.ndarray) -> np.ndarray:
        found = dict(self._bm25(tokens, "AND p.chunk_id = ANY(%(ids)s)", "", ids=[int(i) for i in ids]))
        return np.array([found.get(int(i), 0.0) for i in ids], dtype=np.float32)

    def _bm25(self, tokens: Sequence[str], where: str, tail: str, **extra) -> list[tuple[int, float]]:
        """(chunk id, BM25) of chunks holding a query term; `where` and `tail` are fixed SQL."""
        self._load_df(tokens)
        known = [t for t in tokens if t in self._df]  # repeated terms count again, as in lexical.py
        if not known:
            return []
        return self._conn.execute(
            "SELECT p.chunk_id, sum(w.idf * p.tf / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * p.length / %(avgdl)s))) AS score "
            "FROM unnest(%(terms)s::text[], %(idfs)s::float8[]) AS w(term, idf) "
            f"JOIN askbot_postings p ON p.collection = %(c)s AND p.term = w.term {where} "
            f"GROUP BY p.chunk_id {tail}",
            dict(k1=K1, b=B, avgdl=self._average_length, terms=known, idfs=[self.idf(t) for t in known], c=self._collection, **extra),
        ).fetchall()

    def _load_df(self, tokens: Sequence[str]) -> None:
        wanted = sorted(set(tokens) - self._df.keys())
        if wanted:
            rows = self._conn.execute(
                "SELECT term, df FROM askbot_terms WHERE collection = %s AND term = ANY(%s)", (self._collection, wanted)
            ).fetchall()
            self._df.update(rows)
            self._df.update({t: 0 for t in wanted if t not in self._df})
        # a term no chunk holds stays with df 0: idf gives it the highest value, BM25 skips it

    def candidate_vectors(self, ids: np.ndarray) -> CandidateVectors:
        id_list = [int(i) for i in ids]
        cur = self._conn.cursor(binary=True)
        chunk_rows = {i: _array(v) for i, v in cur.execute(
            "SELECT id, embedding FROM askbot_chunks WHERE collection = %s AND id = ANY(%s)", (self._collection, id_list)
        )}
        sentence_rows = cur.execute(
            "SELECT chunk_id, embedding FROM askbot_sentences WHERE collection = %s AND chunk_id = ANY(%s) ORDER BY chunk_id, position",
            (self._collection, id_list),
        ).fetchall()
        by_chunk: dict[int, list[np.ndarray]] = {}
        for chunk_id, vector in sentence_rows:
            by_chunk.setdefault(chunk_id, []).append(_array(vector))
        dim = len(next(iter(chunk_rows.values()))) if chunk_rows else 0
        sentences = [v for i in id_list for v in by_chunk[i]]
        return CandidateVectors(
            np.array([chunk_rows[i] for i in id_list], dtype=np.float32).reshape(-1, dim),
            np.array(sentences, dtype=np.float32).reshape(-1, dim),
            np.array([len(by_chunk[i]) for i in id_list], dtype=np.int64),
        )

    def chunks(self, ids: Sequence[int]) -> list[StoredChunk]:
        rows = self._conn.execute(
            'SELECT c.id, c.source, d.title, d.date, c.start, c."end", c.sentences, c.text, c.terms, '
            "c.section, c.page_start, c.page_end, d.url FROM askbot_chunks c JOIN askbot_documents d ON d.collection = c.collection AND d.source = c.source "
            "WHERE c.collection = %s AND c.id = ANY(%s)",
            (self._collection, [int(i) for i in ids]),
        ).fetchall()
        by_id = {r[0]: StoredChunk(*r[:6], tuple(map(tuple, r[6])), r[7], tuple(map(tuple, r[8])), *r[9:]) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def document_chunk_ids(self, source: str) -> list[int]:
        rows = self._conn.execute(
            "SELECT id FROM askbot_chunks WHERE collection = %s AND source = %s ORDER BY id", (self._collection, source)
        ).fetchall()
        return [r[0] for r in rows]

    def idf(self, token: str) -> float:
        self._load_df([token])
        df = self._df[token]
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))


def _array(vector) -> np.ndarray:
    """pgvector's binary loader gives a Vector; search wants float32 numpy."""
    return vector.to_numpy() if hasattr(vector, "to_numpy") else np.asarray(vector, dtype=np.float32)


def drop_collection(settings: Settings) -> None:
    """Remove a collection's index from the database (eval's temporary collections)."""
    from psycopg import sql

    db = Database(settings.database_url)
    try:
        with db.connection() as conn, conn.transaction():
            if not _has_schema(conn):
                return
            for table in ("askbot_chunks", "askbot_sentences"):
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(_partition(table, settings.collection))))
            for table in ("askbot_postings", "askbot_terms", "askbot_documents"):
                conn.execute(sql.SQL("DELETE FROM {} WHERE collection = %s").format(sql.Identifier(table)), (settings.collection,))
            conn.execute("DELETE FROM askbot_collections WHERE name = %s", (settings.collection,))
    finally:
        db.close()

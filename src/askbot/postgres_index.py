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
the holder dies, SIGKILL included); other collections build at the same time. A collection's
first build loads its rows by binary COPY and then builds its HNSW graph in one pass; later builds
insert into the graph. Every build ends with ANALYZE, so the planner walks the graph.

A question is two statements in its transaction: one scores its candidates next to the data (the
HNSW and BM25 top k, their chunk and sentence cosines with pgvector's <#>, their BM25) and sends
only scores, the other reads the records of the chunks chosen.
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

from .backend import Candidates, Changes, IndexDetails
from .buildlock import BuildLocked, Holder
from .builder import embedding_text
from .errors import AskbotError, IndexProblem
from .index import FORMAT_VERSION, REBUILD, pause_point
from .lexical import B, K1, tokenize
from .postgres_db import Database, DatabaseUnreachable, reason
from .search import CANDIDATES
from .settings import Settings
from .store import StoredChunk

Notify = Callable[[str], None]
LOCK_CLASS = 0x61736B  # "ask": the advisory lock's first key; the second is the collection's hash
EF_SEARCH_AT_10K = 128  # HNSW's search breadth at 10k chunks (ef_search: grows with the collection)
EF_SEARCH_MAX = 1000  # pgvector's limit
HNSW = "m = 16, ef_construction = 200"  # 64: recall@10 at 100k chunks 0.975 at breadth 400; 200: 0.997
MAX_GRAPH_MB = 2048  # the most maintenance_work_mem a build asks for its HNSW graph

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
            conn.execute(_SCHEMA.format(dim=int(dim)))
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
    graph = _graph(conn, collection)
    next_id, terms = _insert_chunks(conn, collection, changes, next_id)
    if graph is None:  # a new collection: one bulk HNSW build after loading, not one insert per row
        _build_graph(conn, collection, len(changes.fresh_vectors), changes.dim)
    affected |= terms
    _recount_terms(conn, collection, sorted(affected))
    conn.execute(
        "UPDATE askbot_collections SET generation = generation + 1, manifest = %s, next_chunk_id = %s, "
        "chunks = (SELECT count(*) FROM askbot_chunks WHERE collection = %s), "
        "total_length = (SELECT coalesce(sum(length), 0) FROM askbot_chunks WHERE collection = %s) WHERE name = %s",
        (json.dumps(dict(changes.manifest, format_version=FORMAT_VERSION)), next_id, collection, collection, collection),
    )
    _analyze(conn, collection)


def _graph(conn, collection: str) -> str | None:
    """The name of the collection's HNSW index, None before its first build."""
    row = conn.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexdef LIKE '%%USING hnsw%%'",
        (_partition("askbot_chunks", collection),),
    ).fetchone()
    return row[0] if row else None


def _build_graph(conn, collection: str, rows: int, dim: int) -> None:
    """The HNSW index of a freshly loaded collection, built in one pass with memory for the whole
    graph (pgvector builds on disk, many times slower, once it outgrows maintenance_work_mem)."""
    from psycopg import sql

    graph_mb = math.ceil(rows * (4 * dim + 400) * 1.5 / 2**20) + 64  # vectors, neighbour lists, slack
    conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (f"{min(graph_mb, MAX_GRAPH_MB)}MB",))
    table = _partition("askbot_chunks", collection)
    conn.execute(
        sql.SQL("CREATE INDEX {} ON {} USING hnsw (embedding vector_ip_ops) WITH (" + HNSW + ")").format(
            sql.Identifier(f"{table}_embedding_hnsw"), sql.Identifier(table)
        )
    )


def _analyze(conn, collection: str) -> None:
    """Fresh planner statistics, committed with the build: without them a new partition looks
    empty and the planner sorts every chunk by distance instead of walking the HNSW graph
    (measured: 23 ms instead of 1 ms per question at 10k chunks)."""
    from psycopg import sql

    for table in (_partition("askbot_chunks", collection), _partition("askbot_sentences", collection), "askbot_postings", "askbot_terms", "askbot_documents"):
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))


_CHUNK_COLUMNS = (
    ("collection", "text"), ("id", "int4"), ("source", "text"), ("start", "int4"), ('"end"', "int4"), ("length", "int4"),
    ("sentences", "jsonb"), ("terms", "jsonb"), ("text", "text"), ("section", "text"), ("page_start", "int4"),
    ("page_end", "int4"), ("embedding", "vector"),
)  # fmt: skip


def _insert_chunks(conn, collection: str, changes: Changes, next_id: int) -> tuple[int, set[str]]:
    """COPY (binary) the fresh chunks, their sentence vectors and postings; returns the next free
    id and the terms they hold."""
    chunks = [c for cs in changes.fresh.values() for c in cs]
    sources = [source for source, cs in changes.fresh.items() for _ in cs]  # the document's, as the folder backend files them
    ids = range(next_id, next_id + len(chunks))
    tokens = tokenize([embedding_text(c.text, c.section) for c in chunks])
    rows = (
        (collection, i, source, c.start, c.end, len(t), c.sentences, c.terms, c.text, c.section, c.page_start, c.page_end, v)
        for i, source, c, t, v in zip(ids, sources, chunks, tokens, changes.fresh_vectors)
    )  # fmt: skip
    _copy(conn, "askbot_chunks", _CHUNK_COLUMNS, rows)
    owners = np.repeat(np.array(ids, dtype=np.int64), [len(c.sentences) for c in chunks])
    positions = [p for c in chunks for p in range(len(c.sentences))]
    sentence_rows = ((collection, int(i), p, v) for i, p, v in zip(owners, positions, changes.fresh_sentences))
    _copy(conn, "askbot_sentences", (("collection", "text"), ("chunk_id", "int4"), ("position", "int4"), ("embedding", "vector")), sentence_rows)
    postings = sorted(  # one term's postings on few pages: a question reads them together
        (term, i, tf, len(t)) for i, t in zip(ids, tokens) for term, tf in Counter(t).items()
    )
    posting_columns = (("collection", "text"), ("term", "text"), ("chunk_id", "int4"), ("tf", "int4"), ("length", "int4"))
    _copy(conn, "askbot_postings", posting_columns, ((collection, *p) for p in postings))
    return next_id + len(chunks), {p[0] for p in postings}


def _copy(conn, table: str, columns: tuple[tuple[str, str], ...], rows) -> None:
    """Binary COPY: numbers and vectors go as bytes, not as text the server parses back."""
    names = ", ".join(name for name, _ in columns)
    with conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:  # fixed names only
        copy.set_types([kind for _, kind in columns])
        for row in rows:
            copy.write_row(row)


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
        self._statements = Statements(collection)

    def __repr__(self) -> str:
        return f"PostgresIndex({self.db.where}, collection={self.collection!r}, generation={self._generation})"

    def refresh(self) -> bool:
        """Read the committed state; False when the collection has no index."""
        with self.db.connection() as conn:
            with conn.transaction():
                return _has_schema(conn) and self._read_state(conn) is not None

    def _read_state(self, conn) -> tuple[int, float, int] | None:
        """(chunks, average length, HNSW breadth set) of the committed build; reloads the manifest
        when a new build was committed since the last look. The transaction's HNSW breadth is set
        in the same round trip, for a search of CANDIDATES among as many chunks as last seen."""
        breadth = ef_search(CANDIDATES, self.size)
        row = conn.execute(
            "SELECT generation, chunks, total_length, set_config('hnsw.ef_search', %s, true) FROM askbot_collections "
            "WHERE name = %s AND generation > 0",
            (str(breadth), self.collection),
        ).fetchone()
        if row is None:
            return None
        generation, chunks, total_length, _ = row
        if generation != self._generation:
            self.manifest = self._read_manifest(conn)
            self._generation = generation
        return chunks, (total_length / chunks if chunks else 0.0), breadth

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
                    yield PostgresView(conn, self.collection, self._statements, *state)
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


def ef_search(k: int, size: int) -> int:
    """HNSW's search breadth for k neighbours among `size` chunks: at least k (pgvector returns no
    more rows than it explores), growing with the square root of the collection (128 at 10k
    chunks, 405 at 100k, pgvector's 1000 from 610k). Questions sit far from every passage (best
    cosine ~0.5, their ten nearest chunks ~0.1-0.3 apart), where HNSW needs breadth, and how much
    varies from one build of the same rows to the next. Measured (m 16, ef_construction 200,
    recall@10 against exact, 100 squad-dev questions): 100k text-like chunks 0.976 at 80, 0.986
    at 100, 0.977-0.997 at 317 over six builds, 0.997 at 405 over three; the 10k bench corpus
    0.94-0.99 at 50-160."""
    return min(EF_SEARCH_MAX, max(k, math.ceil(EF_SEARCH_AT_10K * math.sqrt(size / 10_000))))


# One statement scores a question's candidates where the vectors are: the query's terms with their
# document frequencies, BM25 of every chunk holding one (summed from the postings), the dense top k
# (HNSW) and the BM25 top k together, and for each candidate its chunk's and sentences' cosines
# with the query. Only scores travel, one row per candidate; the terms' document frequencies and
# the best BM25 of the index ride along on every row (computed once, as InitPlans). Arithmetic is
# float8 throughout: a bare 0.5 is numeric in SQL, and numeric per posting was slow.
_WORDS_AND_BM25 = """
WITH words AS (
    SELECT w.term, w.n, coalesce(t.df, 0) AS df, ln(1 + (%(size)s - coalesce(t.df, 0) + 0.5::float8) / (coalesce(t.df, 0) + 0.5::float8)) AS idf
    FROM unnest(%(tokens)s::text[]) WITH ORDINALITY AS w(term, n)
    LEFT JOIN askbot_terms t ON t.collection = %(c)s AND t.term = w.term
), bm25 AS (
    SELECT p.chunk_id AS id, sum(w.idf * p.tf / (p.tf + %(k1)s::float8 * (1 - %(b)s::float8 + %(b)s::float8 * p.length / %(avgdl)s::float8))) AS score
    FROM words w JOIN askbot_postings p ON p.collection = %(c)s AND p.term = w.term
    GROUP BY p.chunk_id
)"""
_NEAREST = "SELECT id FROM {chunks} ORDER BY embedding <#> %(q)s LIMIT %(k)s"
_PICK_NEAREST_AND_BM25 = f"picked AS (({_NEAREST}) UNION (SELECT id FROM bm25 ORDER BY score DESC, id LIMIT %(k)s))"
_PICK_DOCUMENT = "picked AS (SELECT id FROM {chunks} WHERE collection = %(c)s AND source = %(source)s)"
_SCORE_PICKED = """
SELECT c.id, (-(c.embedding <#> %(q)s))::float4, s.cosines, coalesce(b.score, 0),
    (SELECT array_agg(df ORDER BY n) FROM words), (SELECT coalesce(max(score), 0) FROM bm25)
FROM picked JOIN {chunks} c ON c.collection = %(c)s AND c.id = picked.id
CROSS JOIN LATERAL (
    SELECT array_agg((-(e.embedding <#> %(q)s))::float4 ORDER BY e.position) AS cosines
    FROM {sentences} e WHERE e.collection = %(c)s AND e.chunk_id = c.id
) s
LEFT JOIN bm25 b ON b.id = c.id
ORDER BY c.id"""
_CHUNKS = """
SELECT c.id, c.source, d.title, d.date, c.start, c."end", c.sentences, c.text, c.terms, c.section, c.page_start, c.page_end, d.url
FROM {chunks} c JOIN askbot_documents d ON d.collection = c.collection AND d.source = c.source
WHERE c.collection = %(c)s AND c.id = ANY(%(ids)s)"""


class Statements:
    """The read statements of one collection, composed once: they name its partitions directly
    (no pruning left to the planner) and keep one text, so psycopg prepares them once per connection."""

    def __init__(self, collection: str):
        from psycopg import sql

        tables = {name: sql.Identifier(_partition(f"askbot_{name}", collection)) for name in ("chunks", "sentences")}

        def compose(text: str) -> str:
            return sql.SQL(text).format(**tables).as_string(None)

        self.nearest = compose(_NEAREST)
        self.candidates = compose(f"{_WORDS_AND_BM25}, {_PICK_NEAREST_AND_BM25} {_SCORE_PICKED}")
        self.document = compose(f"{_WORDS_AND_BM25}, {_PICK_DOCUMENT} {_SCORE_PICKED}")
        self.chunks = compose(_CHUNKS)


class PostgresView:
    """backend.IndexView over one read-only repeatable-read transaction."""

    def __init__(self, conn, collection: str, statements: Statements, chunks: int, average_length: float, breadth: int):
        self._conn = conn
        self._collection = collection
        self._statements = statements
        self.size = chunks
        self._average_length = average_length
        self._breadth = breadth  # hnsw.ef_search as the transaction has it
        self._df: dict[str, int] = {}

    def candidates(self, query: np.ndarray, tokens: Sequence[str], k: int) -> Candidates:
        return self._scored(self._statements.candidates, query, tokens, k=k)

    def document_candidates(self, query: np.ndarray, tokens: Sequence[str], source: str) -> Candidates:
        return self._scored(self._statements.document, query, tokens, k=0, source=source)

    def nearest(self, query: np.ndarray, k: int) -> np.ndarray:
        """The HNSW search alone, with the breadth a question uses (bench_postgres.py's recall)."""
        rows = self._with_breadth(k, self._statements.nearest, dict(q=np.asarray(query, dtype=np.float32), k=k))
        return np.array([r[0] for r in rows], dtype=np.int64)

    def _scored(self, statement: str, query: np.ndarray, tokens: Sequence[str], k: int, **extra) -> Candidates:
        params = dict(
            q=np.asarray(query, dtype=np.float32), tokens=list(tokens), size=self.size, c=self._collection,
            k1=K1, b=B, avgdl=self._average_length or 1.0, k=k, **extra,
        )  # fmt: skip
        rows = self._with_breadth(k, statement, params)
        if rows:
            self._df.update(zip(tokens, rows[0][4] or []))
        return Candidates(
            ids=np.array([r[0] for r in rows], dtype=np.int64),
            chunk_cosines=np.array([r[1] for r in rows], dtype=np.float32),
            sentence_cosines=np.array([c for r in rows for c in r[2]], dtype=np.float32),
            counts=np.array([len(r[2]) for r in rows], dtype=np.int64),
            bm25=np.array([r[3] for r in rows], dtype=np.float32),
            best_bm25=float(rows[0][5]) if rows else 0.0,
        )

    def _with_breadth(self, k: int, statement: str, params: dict) -> list[tuple]:
        """Run a statement with HNSW's breadth for k among this index's chunks (set again only
        when it differs from the transaction's: more candidates asked for, or a new build's size)."""
        breadth = ef_search(k, self.size)
        if breadth != self._breadth:
            self._conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(breadth),))
            self._breadth = breadth
        return self._conn.cursor(binary=True).execute(statement, params).fetchall()

    def chunks(self, ids: Sequence[int]) -> list[StoredChunk]:
        rows = self._conn.execute(self._statements.chunks, dict(c=self._collection, ids=[int(i) for i in ids])).fetchall()
        by_id = {r[0]: StoredChunk(*r[:6], tuple(map(tuple, r[6])), r[7], tuple(map(tuple, r[8])), *r[9:]) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def idf(self, token: str) -> float:
        if token not in self._df:  # the candidates statement gave the question's terms
            row = self._conn.execute("SELECT df FROM askbot_terms WHERE collection = %s AND term = %s", (self._collection, token)).fetchone()
            self._df[token] = row[0] if row else 0
        df = self._df[token]
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))


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

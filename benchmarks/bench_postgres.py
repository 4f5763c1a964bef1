"""`make bench-postgres`: the PostgreSQL backend beside the folder backend, in the same run.

    python benchmarks/bench_postgres.py [--database-url URL] [--scale 100000] [--questions 200]

Two corpora:
  10k   the bench corpus (data/bench/corpus-10k, ≈ 10k chunks of reshuffled SQuAD prose), whose
        folder index `make bench` builds; the PostgreSQL collection is written from the same
        chunks and vectors (embedding is the same model work for both backends, measured by
        `make bench`), then a one-document incremental build runs through each backend.
  100k  text-like chunks as bench_scale.py makes them (real MiniLM vectors of SQuAD sentences as
        centres, mixed and noised), with real chunk texts cycled from the 10k corpus.
For each: write throughput (chunks/s committed), warm question→answer p50/p99 through the engine
with 1 client and 8 concurrent clients (threads; throughput ratio), the cores those kept busy (this
process's CPU and the local PostgreSQL processes', from /proc: one client that keeps c cores busy
can be sped up at most cores/c times by more clients), HNSW recall@10 against exact search, disk
and RAM per chunk. Without --database-url a pgserver (PostgreSQL 16.2 + pgvector
0.6.2) runs in a temporary folder. Writes benchmarks/results/bench_postgres.txt.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

if not common.SQUAD.is_dir():  # a git worktree beside the main checkout
    common.SQUAD = Path("/work/shared/eval/squad-dev")
    common.SQUAD_DOCS = common.SQUAD / "docs"

from common import DATA, RESULTS, machine, machine_text, percentile, squad_questions, text_corpus  # noqa: E402

from askbot.backend import Changes  # noqa: E402
from askbot.engine import Engine, build_index  # noqa: E402
from askbot.folder_backend import FolderBackend  # noqa: E402
from askbot.postgres_index import PostgresBackend  # noqa: E402
from askbot.settings import Settings  # noqa: E402
from askbot.store import StoredChunk  # noqa: E402

CORPUS_DOCS = 1000  # as bench.py: 10,235 chunks
CLIENTS = 8
quiet = lambda _: None  # noqa: E731


def start_pgserver() -> tuple[str, object, Path]:
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="askbot-bench-pg-"))
    folder.chmod(0o755)  # run as root, pgserver runs the server as its own user
    return pgserver.get_server(folder, cleanup_mode="delete").get_uri(), folder


# -- what both backends are given --------------------------------------------------------------


def changes_of(index) -> Changes:
    """Everything in a loaded folder index, as one build's changes (every document fresh)."""
    manifest = index.manifest
    chunks = index.store.get(list(range(index.size)))
    fresh: dict[str, list[StoredChunk]] = {}
    for chunk in chunks:
        fresh.setdefault(chunk.source, []).append(chunk)
    docs = [(s, d["title"], d["date"], d["sha256"]) for s, d in sorted(manifest["documents"].items())]
    keep = ("format_version", "model", "encoder", "chunking", "built_at", "skipped")
    return Changes(
        documents=docs,
        fresh=fresh,
        fresh_vectors=np.asarray(index.embeddings),
        fresh_sentences=np.asarray(index.sentence_embeddings),
        removed=set(),
        dim=index.embeddings.shape[1],
        manifest={k: manifest[k] for k in keep if k in manifest},
    )


def text_like(base: Changes, count: int) -> Changes:
    """`count` chunks: the base corpus's texts cycled under new sources, vectors as bench_scale
    makes them (centres mixed and noised), with the base corpus's real MiniLM sentence vectors as
    the centres (no encoding needed); each chunk's sentences are its vector plus a little noise."""
    import bench_scale

    centres = np.ascontiguousarray(base.fresh_sentences, dtype=np.float32)
    vectors = np.asarray(bench_scale.synthetic(DATA / f"pg-text-like-{count}.npy", centres, count))
    rng = np.random.default_rng(1)
    base_chunks = [c for cs in base.fresh.values() for c in cs]
    fresh: dict[str, list[StoredChunk]] = {}
    docs, sentence_parts = [], []
    for i in range(count):
        chunk = base_chunks[i % len(base_chunks)]
        source = f"copy-{i // len(base_chunks)}/{chunk.source}"
        if source not in fresh:
            docs.append((source, chunk.title, chunk.date, f"{i:064x}"))
        fresh.setdefault(source, []).append(chunk)
        noisy = vectors[i] + rng.normal(0, 0.02, size=(len(chunk.sentences), vectors.shape[1])).astype(np.float32)
        sentence_parts.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
    docs.sort(key=lambda d: d[0])
    # a source's chunks are consecutive in the base corpus, so `fresh` keeps the order the vectors
    # were drawn in: PostgreSQL gives chunk i the id i, the row of `vectors` recall compares with
    return replace(base, documents=docs, fresh=fresh, fresh_vectors=vectors, fresh_sentences=np.concatenate(sentence_parts))


# -- measurements ------------------------------------------------------------------------------


def write_rate(backend, changes: Changes) -> float:
    chunks = sum(len(c) for c in changes.fresh.values())
    started = time.perf_counter()
    with backend.build_lock():
        backend.write(changes, None)
    return chunks / (time.perf_counter() - started)


def latencies(engine: Engine, questions: list[str]) -> list[float]:
    out = []
    for q in questions:
        started = time.perf_counter()
        engine.ask(q)
        out.append(time.perf_counter() - started)
    return out


def throughput(engine: Engine, questions: list[str], clients: int) -> float:
    """Questions per second with `clients` threads asking at once (each its share of the list)."""
    shares = [questions[i::clients] for i in range(clients)]
    threads = [threading.Thread(target=lambda qs=qs: [engine.ask(q) for q in qs]) for qs in shares]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(questions) / (time.perf_counter() - started)


def server_cpu_seconds() -> float:
    """CPU seconds used so far by the PostgreSQL processes on this machine (Linux /proc): the
    server's share of a question, beside the client's own process_time."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
        except OSError:  # the process ended
            continue
        if fields[0].endswith("(postgres"):
            total += sum(int(x) for x in fields[1].split()[11:13])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds this process and the local PostgreSQL processes spent over a run's wall time."""

    wall: float
    client: float
    server: float

    @property
    def cores(self) -> float:
        return (self.client + self.server) / self.wall


def cpu_use(run) -> tuple[object, CpuUse]:
    """What run() returns, and the CPU it took on both sides."""
    wall, cpu, server = time.perf_counter(), time.process_time(), server_cpu_seconds()
    result = run()
    return result, CpuUse(time.perf_counter() - wall, time.process_time() - cpu, server_cpu_seconds() - server)


def recall_at_10(engine: Engine, exact: np.ndarray, queries: np.ndarray) -> float:
    """HNSW's top 10 against exact inner-product search over the same vectors (ids in PostgreSQL
    are 0.. in insertion order, the rows of `exact`)."""
    found = 0
    with engine._index.reading() as view:
        for q in queries:
            truth = set(np.argsort(-(exact @ q))[:10].tolist())
            found += len(truth & set(view.nearest(q, 10).tolist()))
    return found / (10 * len(queries))


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(label: str, folder: Engine, pg: Engine, questions: list[str], exact: np.ndarray, queries: np.ndarray, rates: tuple) -> list[str]:
    rows = []
    for name, engine in (("folder", folder), ("postgres", pg)):
        latencies(engine, questions[:20])  # warm: caches, pool, encoder
        one, busy_one = cpu_use(lambda: latencies(engine, questions))
        single = len(questions) / sum(one)
        many, busy_many = cpu_use(lambda: throughput(engine, questions, CLIENTS))
        info = engine.info()
        rows.append((name, statistics.median(one) * 1000, percentile(one, 99) * 1000, single, many, info, busy_one, busy_many))
    f, p = rows
    cores, n = os.cpu_count(), len(questions)
    recall = recall_at_10(pg, exact, queries)
    load = os.getloadavg()[0]  # the machine is shared: every figure is read beside it
    lines = [f"## {label}: {f[5].chunks:,} chunks (load average {load:.2f} when measured)", "", "| | folder | postgres | ratio | target |", "|---|---|---|---|---|"]
    lines += [
        f"| write (chunks/s, committed) | {rates[0]:,.0f} | {rates[1]:,.0f} | {rates[1] / rates[0]:.2f}× | reported |",
        f"| warm question→answer p50 | {f[1]:.1f} ms | {p[1]:.1f} ms | {p[1] / f[1]:.2f}× | ≤ 3× at 10k |",
        f"| warm question→answer p99 | {f[2]:.1f} ms | {p[2]:.1f} ms | {p[2] / f[2]:.2f}× | reported |",
        f"| 1 client (questions/s) | {f[3]:.1f} | {p[3]:.1f} | | |",
        f"| {CLIENTS} clients (questions/s) | {f[4]:.1f} ({f[4] / f[3]:.2f}× one) | {p[4]:.1f} ({p[4] / p[3]:.2f}× one) | | ≥ 3× one client's |",
        f"| cores busy (askbot + PostgreSQL), 1 client / {CLIENTS} | {f[6].cores:.2f} / {f[7].cores:.2f} | {p[6].cores:.2f} / {p[7].cores:.2f} | | reported |",
        f"| {CLIENTS}-client ceiling on {cores} cores (cores / cores busy with 1 client) | {cores / f[6].cores:.2f}× | {cores / p[6].cores:.2f}× | | |",
        f"| CPU per question, 1 client: askbot + PostgreSQL | {1000 * f[6].client / n:.1f} ms | {1000 * p[6].client / n:.1f} + {1000 * p[6].server / n:.1f} ms | | reported |",
        f"| vector recall@10 against exact | exact{' (IVF past 50k)' if f[5].chunks >= 50_000 else ''} | {recall:.3f} | | ≥ 0.98 |",
        f"| disk per chunk | {f[5].size_bytes / f[5].chunks:,.0f} B | {p[5].size_bytes / p[5].chunks:,.0f} B | {p[5].size_bytes / f[5].size_bytes:.2f}× | reported |",
        f"| vector RAM per chunk | {f[5].vector_ram_bytes / f[5].chunks:,.0f} B | {p[5].vector_ram_bytes / p[5].chunks:,.0f} B (HNSW graph) | | reported |",
        "",
    ]
    return lines


def one_document_build(settings_folder: Settings, settings_pg: Settings, docs: Path) -> list[str]:
    extra = docs / "zz-one-more.txt"
    extra.write_text("One more document\n\nThe Zeppelin NT airship is assembled in a hangar in Friedrichshafen.\n", encoding="utf-8")
    try:
        times = []
        for settings in (settings_folder, settings_pg):
            report = build_index(settings, notify=quiet)
            assert report.added == 1 and report.embedded >= 1, report
            times.append(report.seconds)
    finally:
        extra.unlink()
    return [f"| one-document incremental build | {times[0]:.1f} s | {times[1]:.1f} s | {times[1] / times[0]:.2f}× | reported |", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("ASKBOT_TEST_DATABASE_URL", ""))
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--docs", type=int, default=CORPUS_DOCS, help="documents of the bench corpus (1000: ≈ 10k chunks)")
    args = parser.parse_args()
    started = time.perf_counter()
    info = machine()
    print(machine_text(info), flush=True)
    url, pg_folder = (args.database_url, None) if args.database_url else start_pgserver()
    work = Path(tempfile.mkdtemp(prefix="askbot-bench-postgres-"))
    lines = [machine_text(info), ""]
    try:
        corpus = "10k" if args.docs == CORPUS_DOCS else f"{args.docs}-docs"
        docs = text_corpus(DATA / f"corpus-{corpus}", args.docs)
        index_10k = DATA / f"index-{corpus}"
        build_index(Settings(docs_dir=docs, index_dir=index_10k), notify=print)  # nothing to do once `make bench` built it
        questions = squad_questions(args.questions)
        folder_engine = Engine.open(Settings(docs_dir=docs, index_dir=index_10k), notify=quiet)
        base = changes_of(folder_engine._index)
        queries = folder_engine.encode(questions[:100])

        # 10k: the folder index as built; PostgreSQL written from the same chunks and vectors
        copy = work / "folder-10k"
        folder_rate = write_rate(FolderBackend(Settings(docs_dir=docs, index_dir=copy), quiet), base)
        shutil.copytree(index_10k / "encoders", copy / "encoders")
        pg_settings = Settings(docs_dir=docs, index_dir=index_10k, database_url=url, collection="bench-10k")
        pg_rate = write_rate(PostgresBackend(pg_settings, quiet), base)
        pg_engine = Engine.open(pg_settings, notify=quiet)
        lines += measure(f"bench corpus ({args.docs} documents)", folder_engine, pg_engine, questions, np.asarray(folder_engine._index.embeddings), queries, (folder_rate, pg_rate))
        lines[-1:-1] = one_document_build(Settings(docs_dir=docs, index_dir=copy), pg_settings, docs)
        pg_engine.close()
        print("\n".join(lines), flush=True)

        # 100k text-like
        big = text_like(base, args.scale)
        big_dir = work / "folder-big"
        big_settings = Settings(docs_dir=docs, index_dir=big_dir)
        folder_rate = write_rate(FolderBackend(big_settings, quiet), big)
        shutil.copytree(index_10k / "encoders", big_dir / "encoders")
        pg_big = replace(pg_settings, collection="bench-big")
        pg_rate = write_rate(PostgresBackend(pg_big, quiet), big)
        folder_big, pg_big_engine = Engine.open(big_settings, auto_build=False, notify=quiet), Engine.open(pg_big, notify=quiet)
        lines += measure(f"{args.scale // 1000}k text-like chunks", folder_big, pg_big_engine, questions, big.fresh_vectors, queries, (folder_rate, pg_rate))
        pg_big_engine.close()
        folder_big.close()
        folder_engine.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if pg_folder is not None:
            shutil.rmtree(pg_folder, ignore_errors=True)
    lines.append(
        f"total {time.perf_counter() - started:.0f} s; load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"({os.cpu_count()} cores, shared)"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_postgres.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

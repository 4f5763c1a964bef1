"""Integrity-check benchmark (issue 6): what verifying every index file costs at load.

    python benchmarks/bench_integrity.py [--chunks 10000 100000] [--runs 7]

Builds the seed index with the real model, and synthetic indexes of N chunks (random unit
vectors, ~600-character chunk texts: the sizes of a real build, no model needed), then loads each
--runs times (warm page cache, as a CLI call after a build sees it). Prints the median of the full
load (checksums + FAISS + numpy + BM25 + SQLite) and of the checksum step alone, and the bytes
hashed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from askbot.engine import build_index
from askbot.index import FORMAT_VERSION, BuildPlan, current_build, load_index, read_manifest, verify_files, write_index
from askbot.settings import Settings
from askbot.store import StoredChunk

REPO = Path(__file__).resolve().parents[1]
WORDS = "the phone chip carrier price market launch company report quarter battery screen camera".split()


def synthetic_plan(chunks: int, dim: int = 384, docs: int = 100) -> BuildPlan:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((chunks, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records, manifest_docs = [], {}
    per_doc = chunks // docs
    for d in range(docs):
        source = f"doc-{d:04d}.txt"
        count = per_doc if d < docs - 1 else chunks - per_doc * (docs - 1)
        manifest_docs[source] = {"sha256": "0" * 64, "title": source, "date": None, "chunks": [len(records), count]}
        for _ in range(count):
            text = " ".join(rng.choice(WORDS, 100))
            records.append(StoredChunk(len(records), source, source, None, 0, len(text), ((0, len(text)),), text))
    return BuildPlan(
        manifest={"format_version": FORMAT_VERSION, "documents": manifest_docs},
        chunks=records,
        documents=[(s, s, None) for s in manifest_docs],
        embeddings=vectors,
        lexical_texts=[c.text for c in records],
    )


def measure(index_dir: Path, runs: int) -> tuple[float, float, int]:
    build = current_build(index_dir)
    manifest = read_manifest(build)
    size = sum((build / name).stat().st_size for name in manifest["files"])
    full, check = [], []
    for _ in range(runs + 1):  # the first run warms the page cache
        started = time.perf_counter()
        verify_files(build, manifest)
        check.append(time.perf_counter() - started)
        started = time.perf_counter()
        load_index(build, manifest).close()
        full.append(time.perf_counter() - started)
    return statistics.median(full[1:]), statistics.median(check[1:]), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, nargs="*", default=[10_000])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print("index            chunks   MB hashed   full load ms   checksums ms   share")
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed"
        build_index(Settings(docs_dir=REPO / "docs", index_dir=seed), notify=lambda _: None)
        rows = [("seed article", seed)]
        for n in args.chunks:
            folder = Path(tmp) / f"synthetic-{n}"
            write_index(folder, synthetic_plan(n))
            rows.append((f"synthetic {n:,}", folder))
        for name, folder in rows:
            full, check, size = measure(folder, args.runs)
            chunks = load_index(current_build(folder), read_manifest(current_build(folder))).size
            print(f"{name:<16} {chunks:>6}   {size / 1e6:>9.1f}   {full * 1e3:>12.1f}   {check * 1e3:>12.1f}   {check / full:>5.0%}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

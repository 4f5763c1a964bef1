"""`make bench-scale`: the approximate vector index at 1M chunks (issue 5, target 5).

Synthetic but text-like vectors: real MiniLM vectors of SQuAD dev sentences are the cluster
centres; each synthetic chunk mixes one centre with a little of another (as a chunk spans more
than one sentence) plus Gaussian noise, renormalised (median cosine to its centre ≈ 0.85).
Uniform random vectors would be a worst case no ANN index handles and say nothing about text.
Queries are MiniLM vectors of real SQuAD dev questions. The index is built and searched by
askbot's own vectors.py (the same code `askbot index build` runs past ASKBOT_ANN_THRESHOLD), with
the exact vectors memory-mapped from disk as askbot keeps them. Reports search p50/p99 against
exact flat search, recall@10, build time, RAM per chunk and a small nprobe sweep.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, RESULTS, SQUAD_DOCS, Table, machine, machine_text, median, percentile, squad_questions  # noqa: E402

NOISE = 0.03  # per dimension; |noise| ≈ 0.6, so cosine to the centre ≈ 0.85
QUERIES = 300


RSS_PROBE = """
import re, sys, json
from pathlib import Path
def rss():
    return int(re.search(r"VmRSS:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024
import numpy as np, faiss
from askbot import vectors
before = rss()
index = vectors.VectorIndex(Path(sys.argv[1]), vectors.VectorSpec.from_dict(json.loads(sys.argv[2])), np.zeros((0, 384), np.float32))
print(rss() - before)
"""


def loaded_rss_bytes(path: Path, spec) -> int:
    """Resident memory a fresh process gains by loading the index (the exact vectors stay on disk)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    done = subprocess.run([sys.executable, "-c", RSS_PROBE, str(path), json.dumps(spec.to_dict())], capture_output=True, text=True, env=env, check=True)
    return int(done.stdout.strip())


def encoder():
    from askbot.embedding import load_embedder, resolve_model
    from askbot.settings import Settings

    return load_embedder(resolve_model(Settings().model))


def centres_and_queries() -> tuple[np.ndarray, np.ndarray]:
    cache = DATA / "scale-centres.npz"
    if cache.is_file():
        data = np.load(cache)
        return data["centres"], data["queries"]
    sentences = []
    for path in sorted(SQUAD_DOCS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        sentences += [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text) if len(s) > 30]
    model = encoder()
    print(f"  encoding {len(sentences)} sentences (centres) and {QUERIES} questions (queries)", flush=True)
    centres = model.encode(sentences, batch_size=64)
    queries = model.encode(squad_questions(QUERIES))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, centres=centres, queries=queries)
    return centres, queries


def synthetic(path: Path, centres: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """`count` text-like unit vectors written to an .npy file and memory-mapped back."""
    if path.is_file() and np.load(path, mmap_mode="r").shape == (count, centres.shape[1]):
        return np.load(path, mmap_mode="r")
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(count, centres.shape[1]))
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        first = centres[rng.integers(len(centres), size=n)]
        second = centres[rng.integers(len(centres), size=n)]
        mix = rng.uniform(0.0, 0.3, size=(n, 1)).astype(np.float32)
        block = (1 - mix) * first + mix * second + rng.normal(0, NOISE, size=first.shape).astype(np.float32)
        out[start : start + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
    out.flush()
    del out
    return np.load(path, mmap_mode="r")


def exact_top(embeddings: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, list[float]]:
    """Ground truth by brute force, and the single-query flat search time (one thread)."""
    import faiss

    flat = faiss.IndexFlatIP(embeddings.shape[1])
    for start in range(0, len(embeddings), 100_000):
        flat.add(np.ascontiguousarray(embeddings[start : start + 100_000]))
    faiss.omp_set_num_threads(1)
    times = []
    for q in queries[:20]:
        start = time.perf_counter()
        flat.search(q[None], k)
        times.append(time.perf_counter() - start)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    faiss.cvar.distance_compute_blas_threshold = 20  # batched ground truth through BLAS
    _, truth = flat.search(queries, k)
    return truth, times


def built_index(embeddings: np.ndarray, spec, rebuild: bool) -> tuple[Path, float, str]:
    """The IVF file for these vectors (kept in data/bench), its build seconds and when it was built."""
    from askbot import vectors

    path = DATA / f"scale-{len(embeddings)}-{spec.kind}{spec.nlist}.faiss"
    record = path.with_suffix(".json")
    if path.is_file() and record.is_file() and not rebuild:
        meta = json.loads(record.read_text())
        return path, meta["build_s"], meta["when"]
    start = time.perf_counter()
    index = vectors.build(embeddings, spec)
    build_s = time.perf_counter() - start
    vectors.write(index, path)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    record.write_text(json.dumps({"build_s": build_s, "when": when}))
    return path, build_s, when


def measure(index, queries: np.ndarray, truth: np.ndarray, k: int) -> tuple[list[float], float]:
    times, hits = [], 0
    for q, expected in zip(queries, truth):
        start = time.perf_counter()
        _, ids = index.search(q[None], k)
        times.append(time.perf_counter() - start)
        hits += len(set(ids[0].tolist()) & set(expected.tolist()))
    return times, hits / (len(queries) * k)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true", help="build the IVF index again even if data/bench has it")
    args = parser.parse_args()
    from askbot import vectors

    info = machine()
    print(machine_text(info), flush=True)
    started = time.perf_counter()
    centres, queries = centres_and_queries()
    embeddings = synthetic(DATA / f"scale-{args.vectors}.npy", centres, args.vectors)
    sample = embeddings[:: max(1, args.vectors // 10_000)]
    print(f"  {args.vectors:,} vectors from {len(centres):,} centres; median cosine of a vector to its nearest centre "
          f"{np.median((np.asarray(sample) @ centres.T).max(axis=1)):.3f}", flush=True)
    k = 10
    truth, exact_times = exact_top(embeddings, queries, k)

    spec = vectors.choose(args.vectors, vectors.DEFAULT_ANN_THRESHOLD)
    path, build_s, built_when = built_index(embeddings, spec, args.rebuild)
    loaded_rss = loaded_rss_bytes(path, spec)
    index = vectors.VectorIndex(path, spec, embeddings)
    first, _ = measure(index, queries, truth, k)  # exact vectors read from disk: page cache cold or not
    times, recall = measure(index, queries, truth, k)

    table = Table()
    p50, exact_p50 = median(times) * 1e3, median(exact_times) * 1e3
    table.add(f"ANN search p50 ({spec.describe()})", f"{p50:.2f} ms", f"{exact_p50:.1f} ms exact flat", f"{p50 / exact_p50:.3f}×", "≤ 10 ms", p50 <= 10)
    table.add("ANN search p99", f"{percentile(times, 99) * 1e3:.2f} ms", f"{percentile(exact_times, 99) * 1e3:.1f} ms", "", "reported")
    table.add("ANN search p50, first pass (exact vectors not yet in the page cache)", f"{median(first) * 1e3:.2f} ms", "", "", "reported")
    table.add("recall@10 against exact", f"{recall:.3f}", "", "", "≥ 0.95", recall >= 0.95)
    table.add(f"build (train + add; built {built_when})", f"{build_s:.0f} s", "", "", "reported")
    per = index.ram_bytes() / args.vectors
    table.add("RAM per chunk (index in memory)", f"{per:.0f} B (process RSS +{loaded_rss / args.vectors:.0f} B)", "1536 B flat fp32", f"{per / 1536:.2f}×", "reported")
    table.add("disk per chunk (index + exact vectors)", f"{(path.stat().st_size + embeddings.nbytes) / args.vectors:.0f} B", "", "", "reported")
    for nprobe in sorted({16, spec.nprobe // 2, spec.nprobe * 2, spec.nprobe * 4} - {spec.nprobe}):
        index._faiss.nprobe = nprobe
        t, r = measure(index, queries, truth, k)
        table.add(f"  sweep: nprobe {nprobe}", f"p50 {median(t) * 1e3:.2f} ms, recall@10 {r:.3f}", "", "", "")
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M", time.localtime()),
        "vectors": args.vectors,
        "index": spec.describe(),
        "ann_p50_ms": p50,
        "ann_p99_ms": percentile(times, 99) * 1e3,
        "exact_p50_ms": exact_p50,
        "recall_at_10": recall,
        "build_s": build_s,
        "ram_bytes_per_vector": per,
        "rss_bytes_per_vector": loaded_rss / args.vectors,
        "exact_ram_bytes_per_vector": 1536,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.vectors == 1_000_000:
        (RESULTS / "scale.json").write_text(json.dumps(result, indent=1))
    text = "\n".join([machine_text(info), "", table.render(), "", f"total {time.perf_counter() - started:.0f} s"])
    (RESULTS / f"bench-scale-{args.vectors}.txt").write_text(text + "\n")
    print("\n" + text)


if __name__ == "__main__":
    main()

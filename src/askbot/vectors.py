"""Vector search: exact for small indexes, approximate (IVF with 8-bit codes) past a size threshold.

Below `ann_threshold` chunks every vector is scanned. The scan reads fp16 codes (768 B a vector
instead of 1,536 B): a scan is bound by memory bandwidth, not arithmetic, and at 10k chunks it
took 0.8 ms instead of 1.1 ms between question encodes. Past the threshold, an inverted-file index
(IVF) with 8-bit scalar-quantised codes (384 B a vector) scans only `nprobe` of its `nlist`
clusters. Either way the shortlist is re-scored with the exact float32 vectors, read on demand
from the memory-mapped embeddings.npy, so the scores callers see are exact; rounding can only
decide which vectors reach the shortlist (4× k of them). Indexes built before fp16 stay fp32 flat.
IVF over HNSW: at 1M vectors on two cores it built in 206 s under load (HNSW M=32: ≈ 16 min),
holds ≈ 400 B a vector against HNSW's 1,808, and reached recall@10 1.000 in 1.7 ms a query on
text-like vectors (benchmarks/bench_scale.py).

`VectorIndex.search` keeps FAISS's signature (scores, ids), so callers do not care which it is.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

FILE = "vectors.faiss"
DEFAULT_ANN_THRESHOLD = 50_000
RERANK_FACTOR = 4  # the approximate shortlist is this many times k before exact re-scoring
MIN_SHORTLIST = 64


@dataclass(frozen=True)
class VectorSpec:
    """How the vectors are indexed; stored in the manifest under "vectors"."""

    kind: str = "flat"  # "flat" (every vector scanned) or "ivf" (approximate)
    nlist: int = 0  # IVF clusters
    nprobe: int = 0  # clusters scanned per query
    storage: str = "fp32"  # "fp32", "fp16" or "sq8" (8-bit scalar quantiser)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "VectorSpec":
        return cls(**data) if isinstance(data, dict) else cls()

    def describe(self) -> str:
        if self.kind == "flat":
            if self.storage == "fp32":
                return "flat (exact inner product, fp32)"
            return f"flat ({self.storage} scan of every vector, exact re-scoring)"
        return f"ivf-{self.storage} (approximate: nlist {self.nlist}, nprobe {self.nprobe}, exact re-scoring)"


def choose(count: int, ann_threshold: int) -> VectorSpec:
    """Exact below the threshold; IVF past it, with ≈ 4·√n clusters and 1/128 of them probed."""
    if count < max(ann_threshold, 1):
        return VectorSpec(storage="fp16")
    nlist = min(1 << round(math.log2(4 * math.sqrt(count))), max(1, count // 39))  # k-means wants ≥ 39 points a cluster
    return VectorSpec("ivf", nlist, min(nlist, max(16, nlist // 128)), "sq8")


def build(embeddings: np.ndarray, spec: VectorSpec):
    """A FAISS index holding every row of `embeddings` (unit vectors), as `spec` says."""
    import faiss

    dim = embeddings.shape[1]
    if spec.kind == "flat" and spec.storage == "fp32":
        index = faiss.IndexFlatIP(dim)
        index.add(embeddings)
        return index
    if spec.kind == "flat":
        index = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        index.add(embeddings)
        return index
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(quantizer, dim, spec.nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = 10  # k-means converges well enough for cluster assignment; 25 costs 2.5× the time
    with _threads(os.cpu_count() or 1):
        index.train(_training_sample(embeddings, spec.nlist))
        for start in range(0, len(embeddings), 65_536):  # bounded temporary memory
            index.add(np.ascontiguousarray(embeddings[start : start + 65_536], dtype=np.float32))
    index.nprobe = spec.nprobe
    return index


def _training_sample(embeddings: np.ndarray, nlist: int) -> np.ndarray:
    size = min(len(embeddings), 40 * nlist)  # FAISS warns below 39 points a cluster
    rows = np.sort(np.random.default_rng(0).choice(len(embeddings), size, replace=False))
    return np.ascontiguousarray(embeddings[rows], dtype=np.float32)


def write(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


class VectorIndex:
    """A loaded index; `search` returns exact inner products of the vectors it finds."""

    def __init__(self, path: Path, spec: VectorSpec, embeddings: np.ndarray):
        import faiss

        self.spec = spec
        self._faiss = faiss.read_index(str(path))
        self._embeddings = embeddings
        if spec.kind == "ivf":
            self._faiss.nprobe = spec.nprobe

    @property
    def ntotal(self) -> int:
        return int(self._faiss.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        _one_thread()
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self.spec.kind == "flat" and self.spec.storage == "fp32":
            return self._faiss.search(queries, k)
        _, shortlist = self._faiss.search(queries, max(k * RERANK_FACTOR, MIN_SHORTLIST))
        return _rescore(queries, shortlist, self._embeddings, k)

    def nearest(self, query: np.ndarray, k: int) -> np.ndarray:
        """Ids of about the k nearest vectors, for a caller that scores them itself (hybrid search
        does): a flat scan's own top k, where fp16 rounding can only swap near-ties at the k-th
        place, saving the re-scoring (0.25 ms at 10k chunks); IVF's re-scored shortlist."""
        if self.spec.kind != "flat":
            return self.search(query.reshape(1, -1), k)[1][0]
        _one_thread()
        return self._faiss.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)[1][0]

    def ram_bytes(self) -> int:
        """Bytes the index holds in memory (codes, ids, centroids); exact vectors stay on disk."""
        if self.spec.kind == "flat":
            return self.ntotal * self._faiss.d * (4 if self.spec.storage == "fp32" else 2)
        import faiss

        invlists = faiss.extract_index_ivf(self._faiss).invlists
        code_size = invlists.code_size
        listed = sum(invlists.list_size(i) for i in range(invlists.nlist))
        return listed * (code_size + 8) + self.spec.nlist * self._faiss.d * 4


def _rescore(queries: np.ndarray, shortlist: np.ndarray, embeddings: np.ndarray, k: int):
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    for row, (query, found) in enumerate(zip(queries, shortlist)):
        found = np.sort(found[found >= 0])  # sorted ids read the memory map in file order
        exact = np.asarray(embeddings[found]) @ query
        best = np.argsort(-exact, kind="stable")[:k]
        scores[row, : len(best)] = exact[best]
        ids[row, : len(best)] = found[best]
    return scores, ids


_local = threading.local()


def _one_thread() -> None:
    """One OpenMP thread per query: idle FAISS threads spin, and under load a query waits on them.

    OpenMP keeps the setting per thread, so each thread that searches sets it once.
    """
    if not getattr(_local, "single", False):
        import faiss

        faiss.omp_set_num_threads(1)
        _local.single = True


class _threads:
    """Let FAISS use `n` OpenMP threads inside the block (builds), then go back to one."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        import faiss

        faiss.omp_set_num_threads(self.n)

    def __exit__(self, *exc):
        import faiss

        faiss.omp_set_num_threads(1)
        _local.single = True

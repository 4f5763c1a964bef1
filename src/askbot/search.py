"""Hybrid search: dense (FAISS inner product) and lexical (BM25) candidates, fused by weight.

Rank-only fusion (RRF) throws away how *much* better one passage is; a convex combination of
the cosine and the max-normalised BM25 score keeps it, and measured better on QA data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .index import Index

CANDIDATES = 50  # per retriever, before fusion


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    score: float  # fused: dense_weight * dense + (1 - dense_weight) * lexical
    dense: float  # cosine similarity of question and chunk
    lexical: float  # BM25 divided by the best BM25 score of any chunk for this question


def hybrid_search(
    index: Index, query_vector: np.ndarray, query_tokens: Sequence[str], k: int, dense_weight: float
) -> list[Hit]:
    pool = min(index.size, max(CANDIDATES, k))
    _, dense_ids = index.vectors.search(query_vector.reshape(1, -1).astype(np.float32), pool)
    bm25 = index.lexical.scores(query_tokens)
    lexical_ids = np.argpartition(-bm25, pool - 1)[:pool] if pool < len(bm25) else np.arange(len(bm25))
    candidates = np.union1d(dense_ids[0][dense_ids[0] >= 0], lexical_ids[bm25[lexical_ids] > 0])
    dense = np.asarray(index.embeddings[candidates]) @ query_vector.reshape(-1)
    best = float(bm25.max()) if len(bm25) else 0.0
    lexical = bm25[candidates] / best if best > 0 else np.zeros(len(candidates), dtype=np.float32)
    fused = dense_weight * dense + (1.0 - dense_weight) * lexical
    order = np.argsort(-fused, kind="stable")[:k]
    return [Hit(int(candidates[i]), float(fused[i]), float(dense[i]), float(lexical[i])) for i in order]

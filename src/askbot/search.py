"""Hybrid search: dense (FAISS inner product) and lexical (BM25) candidates, fused by weight.

Rank-only fusion (RRF) throws away how *much* better one passage is; a convex combination of
the cosine and the max-normalised BM25 score keeps it, and measured better on QA data.

A chunk's dense score is the better of its own cosine and its best sentence's: a question is
usually about one sentence, and a 200-token chunk vector blurs it (squad-dev recall@1 0.836 ->
0.871 with sentence vectors, which the index holds, so only candidates' rows are read here).
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
    dense: float  # max of the chunk's cosine and its best sentence's cosine with the question
    lexical: float  # BM25 divided by the best BM25 score of any chunk for this question
    sentences: tuple[float, ...]  # cosine of the question and each sentence of the chunk


def hybrid_search(
    index: Index, query_vector: np.ndarray, query_tokens: Sequence[str], k: int, dense_weight: float
) -> list[Hit]:
    query = query_vector.reshape(-1).astype(np.float32)
    pool = min(index.size, max(CANDIDATES, k))
    dense_ids = index.vectors.nearest(query, pool)
    bm25 = index.lexical.scores(query_tokens)
    lexical_ids = np.argpartition(-bm25, pool - 1)[:pool] if pool < len(bm25) else np.arange(len(bm25))
    candidates = np.union1d(dense_ids[dense_ids >= 0], lexical_ids[bm25[lexical_ids] > 0])
    sentence_sims, firsts = _sentence_similarities(index, candidates, query)
    best_sentence = np.maximum.reduceat(sentence_sims, firsts) if len(candidates) else np.zeros(0, np.float32)
    dense = np.maximum(np.asarray(index.embeddings[candidates]) @ query, best_sentence)
    best = float(bm25.max()) if len(bm25) else 0.0
    lexical = bm25[candidates] / best if best > 0 else np.zeros(len(candidates), dtype=np.float32)
    fused = dense_weight * dense + (1.0 - dense_weight) * lexical
    order = np.argsort(-fused, kind="stable")[:k]
    ends = np.append(firsts[1:], len(sentence_sims))
    return [
        Hit(int(candidates[i]), float(fused[i]), float(dense[i]), float(lexical[i]), tuple(sentence_sims[firsts[i] : ends[i]].tolist()))
        for i in order
    ]


def _sentence_similarities(index: Index, chunk_ids: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosines of the query and every sentence of the given chunks, flat, with where each
    chunk's run begins (every chunk has at least one sentence)."""
    starts = index.sentence_offsets[chunk_ids]
    lengths = index.sentence_offsets[chunk_ids + 1] - starts
    firsts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    rows = np.repeat(starts - firsts, lengths) + np.arange(int(lengths.sum()))
    return np.asarray(index.sentence_embeddings[rows]) @ query, firsts

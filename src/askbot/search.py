"""Hybrid search: dense and lexical (BM25) candidates, fused by weight, over any backend's index
(backend.IndexView: the folder's FAISS and BM25 files, or PostgreSQL).

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

from .backend import IndexView

CANDIDATES = 50  # per retriever, before fusion


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    score: float  # fused: dense_weight * dense + (1 - dense_weight) * lexical
    dense: float  # max of the chunk's cosine and its best sentence's cosine with the question
    lexical: float  # BM25 divided by the best BM25 score of any chunk for this question
    sentences: tuple[float, ...]  # cosine of the question and each sentence of the chunk


def hybrid_search(
    index: IndexView, query_vector: np.ndarray, query_tokens: Sequence[str], k: int, dense_weight: float
) -> list[Hit]:
    query = query_vector.reshape(-1).astype(np.float32)
    pool = min(index.size, max(CANDIDATES, k))
    dense_ids = index.nearest(query, pool)
    lexical = index.lexical_top(query_tokens, pool)
    candidates = np.union1d(dense_ids[dense_ids >= 0], lexical.ids).astype(np.int64)
    return _fused(index, candidates, query, query_tokens, lexical.best, k, dense_weight)


def document_search(
    index: IndexView, query_vector: np.ndarray, query_tokens: Sequence[str], source: str, k: int, dense_weight: float
) -> list[Hit]:
    """The k best chunks of one document, scored exactly as hybrid_search scores its
    candidates (BM25 shared out against the best chunk of the whole index), so the two compare."""
    candidates = np.asarray(index.document_chunk_ids(source), dtype=np.int64)
    if not len(candidates):
        return []
    query = query_vector.reshape(-1).astype(np.float32)
    return _fused(index, candidates, query, query_tokens, index.lexical_top(query_tokens, 1).best, k, dense_weight)


def _fused(
    index: IndexView, candidates: np.ndarray, query: np.ndarray, query_tokens: Sequence[str], best_bm25: float, k: int,
    dense_weight: float,
) -> list[Hit]:  # fmt: skip
    """The k best candidates by fused score, best first."""
    vectors = index.candidate_vectors(candidates)
    sentence_sims = vectors.sentences @ query
    firsts = np.concatenate([[0], np.cumsum(vectors.counts)[:-1]]).astype(np.int64)
    best_sentence = np.maximum.reduceat(sentence_sims, firsts) if len(candidates) else np.zeros(0, np.float32)
    dense = np.maximum(vectors.chunks @ query, best_sentence)
    if best_bm25 > 0:
        bm25 = index.lexical_scores(query_tokens, candidates)
        lexical_share = bm25 / best_bm25
    else:
        lexical_share = np.zeros(len(candidates), dtype=np.float32)
    fused = dense_weight * dense + (1.0 - dense_weight) * lexical_share
    order = np.argsort(-fused, kind="stable")[:k]
    ends = np.append(firsts[1:], len(sentence_sims))
    return [
        Hit(int(candidates[i]), float(fused[i]), float(dense[i]), float(lexical_share[i]), tuple(sentence_sims[firsts[i] : ends[i]].tolist()))
        for i in order
    ]

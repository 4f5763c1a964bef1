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

from .backend import Candidates, IndexView

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
    return _fused(index.candidates(query, query_tokens, pool), k, dense_weight)


def document_search(
    index: IndexView, query_vector: np.ndarray, query_tokens: Sequence[str], source: str, k: int, dense_weight: float
) -> list[Hit]:
    """The k best chunks of one document, scored exactly as hybrid_search scores its
    candidates (BM25 shared out against the best chunk of the whole index), so the two compare."""
    query = query_vector.reshape(-1).astype(np.float32)
    return _fused(index.document_candidates(query, query_tokens, source), k, dense_weight)


def _fused(candidates: Candidates, k: int, dense_weight: float) -> list[Hit]:
    """The k best candidates by fused score, best first."""
    sentence_cosines = candidates.sentence_cosines
    firsts = np.concatenate([[0], np.cumsum(candidates.counts)[:-1]]).astype(np.int64)
    best_sentence = np.maximum.reduceat(sentence_cosines, firsts) if len(candidates.ids) else np.zeros(0, np.float32)
    dense = np.maximum(candidates.chunk_cosines, best_sentence)
    if candidates.best_bm25 > 0:
        lexical_share = candidates.bm25 / candidates.best_bm25
    else:
        lexical_share = np.zeros(len(candidates.ids), dtype=np.float32)
    fused = dense_weight * dense + (1.0 - dense_weight) * lexical_share
    order = np.argsort(-fused, kind="stable")[:k]
    ends = np.append(firsts[1:], len(sentence_cosines))
    return [
        Hit(int(candidates.ids[i]), float(fused[i]), float(dense[i]), float(lexical_share[i]), tuple(sentence_cosines[firsts[i] : ends[i]].tolist()))
        for i in order
    ]


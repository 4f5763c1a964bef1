"""Document context for sentence vectors, taken from the document's own text, never its file name.

A sentence often names its subject only through its neighbours ("the phone will ... be powered
by a Snapdragon 845" follows "... the OnePlus 6"). Each sentence is encoded alone, once; its
stored vector then adds, with fitted weights, the mean vector of its paragraph and the mean
vector of its whole document, and is normalised again. No text is encoded twice, so a build
costs what encoding the sentences costs, and nothing depends on the file's name or title.

The weights were fitted on squad-dev, news-dev and papers-dev and checked leave-one-domain-out
(benchmarks/retrieval_lab.py; the table is in README.md). They move passage recall by at most a
point (recall@1 without them: squad-dev 0.884, news-dev 0.745, papers-dev 0.611; with them 0.886,
0.748, 0.611). Also tried: the vector of the sentence before (0.3 lost recall@1 on all three:
0.881, 0.742, 0.609) and the encoded first line when it reads as a heading (within 0.002).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .chunking import PARAGRAPH_BREAK, Span


@dataclass(frozen=True)
class ContextWeights:
    paragraph: float  # the unit mean vector of the sentence's paragraph
    document: float  # the unit mean vector of every sentence of the document


WEIGHTS = ContextWeights(paragraph=0.3, document=0.3)


def with_context(text: str, spans: Sequence[Span], vectors: np.ndarray, weights: ContextWeights = WEIGHTS) -> np.ndarray:
    """Unit vectors of one document's sentences (`spans` in document order, one row each) with
    their context mixed in."""
    if not len(spans):
        return vectors
    breaks = np.array([m.end() for m in PARAGRAPH_BREAK.finditer(text)], dtype=np.int64)
    paragraph = np.searchsorted(breaks, np.array([a for a, _ in spans]), side="right")
    mixed = vectors + weights.paragraph * _group_means(vectors, paragraph)
    return _unit(mixed + weights.document * _unit(vectors.sum(axis=0, keepdims=True)))


def _group_means(vectors: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each row replaced by the unit mean vector of its group's rows."""
    ids, inverse = np.unique(groups, return_inverse=True)
    sums = np.zeros((len(ids), vectors.shape[1]), np.float32)
    np.add.at(sums, inverse, vectors)
    return _unit(sums)[inverse]


def _unit(m: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12), dtype=np.float32)

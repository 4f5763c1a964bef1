"""Document context for sentence vectors, taken from the document's own text, never its file name.

A sentence often names its subject only through its neighbours ("the phone will ... be powered
by a Snapdragon 845" follows "... the OnePlus 6"). Each sentence is encoded alone, once; its
stored vector then adds, with fitted weights, the vector of the sentence before it and the mean
vector of its paragraph, and is normalised again. No text is encoded twice, so a build costs
what encoding the sentences costs.

The weights were fitted leave-one-domain-out on squad-dev, news-dev and papers-dev
(benchmarks/retrieval_lab.py; the table is in README.md): fitted on two domains, scored on the
third. A document-wide mean and the heading were tried too and did not carry over: a news
digest's paragraphs are unrelated stories, and a document mean pulls each towards the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .chunking import PARAGRAPH_BREAK, Span


@dataclass(frozen=True)
class ContextWeights:
    previous: float  # the vector of the sentence before, in the same document
    paragraph: float  # the unit mean vector of the sentence's paragraph


WEIGHTS = ContextWeights(previous=0.3, paragraph=0.3)


def with_context(text: str, spans: Sequence[Span], vectors: np.ndarray, weights: ContextWeights = WEIGHTS) -> np.ndarray:
    """Unit vectors of one document's sentences (`spans` in document order, one row each) with
    their context mixed in."""
    if not len(spans):
        return vectors
    breaks = np.array([m.end() for m in PARAGRAPH_BREAK.finditer(text)], dtype=np.int64)
    paragraph = np.searchsorted(breaks, np.array([a for a, _ in spans]), side="right")
    mixed = vectors.astype(np.float32, copy=True)
    if weights.previous:
        mixed[1:] += weights.previous * vectors[:-1]
    if weights.paragraph:
        mixed += weights.paragraph * _group_means(vectors, paragraph)
    return _unit(mixed)


def _group_means(vectors: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each row replaced by the unit mean vector of its group's rows."""
    ids, inverse = np.unique(groups, return_inverse=True)
    sums = np.zeros((len(ids), vectors.shape[1]), np.float32)
    np.add.at(sums, inverse, vectors)
    return _unit(sums)[inverse]


def _unit(m: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12), dtype=np.float32)

"""Lexical index: BM25 over stemmed, stop-word-free tokens (bm25s), saved as plain .npy/.json."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

# Single characters count ("OnePlus 6", "Type 2"); English stop words do not.
TOKEN_PATTERN = r"(?u)\b\w+\b"


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _bm25s():
    """bm25s, imported without scipy unless something else already loaded it.

    bm25s imports scipy.sparse only to offer a sparse-matrix backend (askbot builds with its numpy
    backend either way, see LexicalIndex.build); that import alone is a quarter of a cold
    `askbot ask`. Hiding the module for the duration of the import makes bm25s skip it.
    """
    import sys

    if "bm25s" in sys.modules or "scipy.sparse" in sys.modules:
        import bm25s

        return bm25s
    sys.modules["scipy.sparse"] = None  # `import scipy.sparse` now raises ImportError
    try:
        import bm25s
    finally:
        del sys.modules["scipy.sparse"]
    return bm25s


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens for each text.

    Exactly what bm25s.tokenize(texts, token_pattern, stopwords="en", stemmer, return_ids=False)
    returns, without the three progress bars and the stop-word set it builds on every call (5× the
    work for the few short texts a question's answer path tokenizes).
    """
    split, stopwords, stem = _token_rules()
    return [stem([t for t in split(text.lower()) if t not in stopwords]) for text in texts]


@lru_cache(maxsize=1)
def _token_rules():
    return re.compile(TOKEN_PATTERN).findall, frozenset(_bm25s().stopwords.STOPWORDS_EN), _stemmer().stemWords


class LexicalIndex:
    """BM25 scores of a query against every chunk, plus the IDF of a term."""

    def __init__(self, retriever):
        self._bm25 = retriever
        # Plain views of the score matrix (CSC: one column of per-chunk scores per term).
        self._data = np.asarray(retriever.scores["data"])
        self._indices = np.asarray(retriever.scores["indices"])
        self._indptr = np.asarray(retriever.scores["indptr"])
        self._doc_freq = np.diff(self._indptr)
        self.num_docs = int(retriever.scores["num_docs"])

    @classmethod
    def build(cls, texts: Sequence[str]) -> "LexicalIndex":
        retriever = _bm25s().BM25(csc_backend="numpy")
        corpus_tokens = tokenize(texts)
        retriever.index(corpus_tokens, show_progress=False)
        return cls(retriever)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        return cls(_bm25s().BM25.load(str(folder), mmap=True, show_progress=False))

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 of every chunk: the sum of the query terms' columns, added in the same order and
        precision as bm25s's get_scores_from_ids, without its concatenations and ufunc.at."""
        if self._bm25.nonoccurrence_array is not None:  # BM25L/BM25+ variants: let bm25s do it
            return self._bm25.get_scores_from_ids(self._bm25.get_tokens_ids(list(tokens)))
        scores = np.zeros(self.num_docs, dtype=self._data.dtype)
        vocab = self._bm25.vocab_dict
        for token in tokens:
            term = vocab.get(token)
            if term is not None:  # a chunk appears at most once per column: no repeated index
                start, end = self._indptr[term], self._indptr[term + 1]
                scores[self._indices[start:end]] += self._data[start:end]
        return scores

    def idf(self, token: str) -> float:
        """Inverse document frequency; a term no chunk contains gets the highest value."""
        token_id = self._bm25.vocab_dict.get(token)
        df = int(self._doc_freq[token_id]) if token_id is not None else 0
        return math.log(1.0 + (self.num_docs - df + 0.5) / (df + 0.5))

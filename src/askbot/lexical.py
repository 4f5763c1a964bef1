"""Lexical index: BM25 over stemmed, stop-word-free tokens (bm25s), saved as plain .npy/.json.

The same `tokenize` serves documents and questions. Its stop words are Lucene's English list
plus question words and auxiliary verbs: "what", "did", "was" carry no topic, and leaving them
in made BM25 favour passages that happen to say "what" (measured in issue 4: lexical recall@1
0.801 -> 0.827 on squad-dev). BM25 uses k1=0.9, b=0.4 (the Anserini passage defaults), which
beat bm25s' 1.5/0.75 here by a little on every article split.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

# Single characters count ("OnePlus 6", "Type 2"); the words below do not.
TOKEN_PATTERN = r"(?u)\b\w+\b"
_LUCENE_ENGLISH = (
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with"
)
_QUESTION_WORDS = "what which who whom whose when where why how"
_AUXILIARIES = "am been being can could did do does had has have may might must shall should were would"
STOPWORDS = frozenset(f"{_LUCENE_ENGLISH} {_QUESTION_WORDS} {_AUXILIARIES}".split())
K1 = 0.9
B = 0.4


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

    What bm25s.tokenize(texts, token_pattern, stopwords=STOPWORDS, stemmer, return_ids=False)
    returns, without the three progress bars and the stop-word set it builds on every call (5× the
    work for the few short texts a question's answer path tokenizes).
    """
    split, stopwords, stem = _token_rules()
    return [stem([t for t in split(text.lower()) if t not in stopwords]) for text in texts]


@lru_cache(maxsize=1)
def _token_rules():
    return re.compile(TOKEN_PATTERN).findall, STOPWORDS, _stemmer().stemWords


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
        retriever = _bm25s().BM25(k1=K1, b=B, csc_backend="numpy")
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

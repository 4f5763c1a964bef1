"""Lexical index: BM25 over stemmed, stop-word-free tokens (bm25s), saved as plain .npy/.json."""

from __future__ import annotations

import math
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


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stop-word-free, stemmed tokens for each text."""
    import bm25s

    return bm25s.tokenize(
        list(texts),
        token_pattern=TOKEN_PATTERN,
        stopwords="en",
        stemmer=_stemmer(),
        return_ids=False,
        show_progress=False,
    )


class LexicalIndex:
    """BM25 scores of a query against every chunk, plus the IDF of a term."""

    def __init__(self, retriever):
        self._bm25 = retriever
        indptr = retriever.scores["indptr"]
        self._doc_freq = np.diff(np.asarray(indptr))
        self.num_docs = int(retriever.scores["num_docs"])

    @classmethod
    def build(cls, texts: Sequence[str]) -> "LexicalIndex":
        import bm25s

        retriever = bm25s.BM25()
        corpus_tokens = tokenize(texts)
        retriever.index(corpus_tokens, show_progress=False)
        return cls(retriever)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        import bm25s

        return cls(bm25s.BM25.load(str(folder), mmap=True, show_progress=False))

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        ids = self._bm25.get_tokens_ids(list(tokens))
        if not ids:
            return np.zeros(self.num_docs, dtype=np.float32)
        return self._bm25.get_scores_from_ids(ids)

    def idf(self, token: str) -> float:
        """Inverse document frequency; a term no chunk contains gets the highest value."""
        token_id = self._bm25.vocab_dict.get(token)
        df = int(self._doc_freq[token_id]) if token_id is not None else 0
        return math.log(1.0 + (self.num_docs - df + 0.5) / (df + 0.5))

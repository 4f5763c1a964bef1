"""Answer selection: the sentence that answers, the passage around it, and whether to answer.

Within the best passages every sentence is scored by how much of the question's information
(IDF-weighted stemmed terms) it holds, helped a little by its neighbours and by its passage's
retrieval score. Confidence combines the top passage's cosine with the share of the question's
information the passage covers; a term no document contains counts against it, which is what
makes "What is the capital of France?" abstain on a corpus about phones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from .lexical import LexicalIndex, tokenize
from .search import Hit
from .store import StoredChunk

MAX_ANSWER_CHARS = 400
NEIGHBOUR_WEIGHT = 0.3
PASSAGE_WEIGHT = 0.5
SELECT_FROM = 5  # passages whose sentences compete for the answer


@dataclass(frozen=True)
class Passage:
    id: int
    text: str
    source: str  # path relative to the docs folder
    title: str
    date: str | None
    score: float
    start: int  # character offsets of `text` in the source document
    end: int


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    answer: str | None
    confidence: float
    passages: list[Passage]
    # Where the answer sits inside passages[0].text, for highlighting (None when not answered).
    answer_start: int | None = None
    answer_end: int | None = None
    query: str | None = None  # the standalone query searched, when it differs from the question

    def to_dict(self) -> dict:
        data = asdict(self)
        data["confidence"] = round(self.confidence, 4)
        for p in data["passages"]:
            p["score"] = round(p["score"], 4)
        return data


@dataclass(frozen=True)
class _Candidate:
    passage_rank: int
    start: int  # absolute offsets in the document
    end: int
    score: float


def select_answer(
    question: str,
    query_tokens: Sequence[str],
    hits: Sequence[Hit],
    chunks: Sequence[StoredChunk],
    lexical: LexicalIndex,
    min_confidence: float,
) -> Answer:
    passages = [_passage(h, c) for h, c in zip(hits, chunks)]
    if not passages:
        return Answer(question, False, None, 0.0, [])
    weights = {t: lexical.idf(t) for t in set(query_tokens)}
    confidence = _confidence(hits[0], chunks[0], weights)
    best = _best_sentence(chunks[:SELECT_FROM], hits[:SELECT_FROM], weights)
    if confidence < min_confidence or best is None:
        return Answer(question, False, None, confidence, passages)
    if best.passage_rank:  # put the passage holding the answer first
        passages.insert(0, passages.pop(best.passage_rank))
    chunk = chunks[best.passage_rank]
    text = chunk.text[best.start - chunk.start : best.end - chunk.start]
    return Answer(question, True, text, confidence, passages, best.start - chunk.start, best.end - chunk.start)


def _passage(hit: Hit, chunk: StoredChunk) -> Passage:
    return Passage(chunk.id, chunk.text, chunk.source, chunk.title, chunk.date, hit.score, chunk.start, chunk.end)


def _coverage(tokens: set[str], weights: dict[str, float]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in tokens) / total if total else 0.0


def _confidence(hit: Hit, chunk: StoredChunk, weights: dict[str, float]) -> float:
    covered = _coverage(set(tokenize([f"{chunk.title}\n{chunk.text}"])[0]), weights)
    similarity = min(1.0, max(0.0, (hit.dense - 0.1) / 0.5))
    return 0.5 * covered + 0.5 * similarity


def _best_sentence(chunks: Sequence[StoredChunk], hits: Sequence[Hit], weights: dict[str, float]) -> _Candidate | None:
    best: _Candidate | None = None
    for rank, (chunk, hit) in enumerate(zip(chunks, hits)):
        spans = _answer_spans(chunk)
        texts = [chunk.text[a - chunk.start : b - chunk.start] for a, b in spans]
        token_sets = [set(t) for t in tokenize(texts)] if texts else []
        own = [_coverage(ts, weights) for ts in token_sets]
        for i, (a, b) in enumerate(spans):
            neighbours = max(own[i - 1] if i > 0 else 0.0, own[i + 1] if i + 1 < len(own) else 0.0)
            score = own[i] + NEIGHBOUR_WEIGHT * neighbours + PASSAGE_WEIGHT * hit.score
            if best is None or score > best.score:
                best = _Candidate(rank, a, b, score)
    return best


def _answer_spans(chunk: StoredChunk) -> list[tuple[int, int]]:
    """The chunk's sentences, each cut to the answer length limit at a word boundary."""
    spans = []
    for a, b in chunk.sentences:
        if b - a > MAX_ANSWER_CHARS:
            cut = chunk.text.rfind(" ", a - chunk.start, a - chunk.start + MAX_ANSWER_CHARS)
            b = chunk.start + cut if cut > a - chunk.start else a + MAX_ANSWER_CHARS
        spans.append((a, b))
    return spans

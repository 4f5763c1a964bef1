"""Answer selection: the sentence that answers, the passage around it, and whether to answer.

Every sentence of the best passages competes. Its evidence is how much of the question's
information (IDF-weighted stemmed terms) it holds, plus its cosine with the question (sentence
vectors are computed at build time, so this costs a dot product), plus a small bonus when it
holds the kind of fact the question asks for (cues.py). A sentence that does not name the
question's subject itself ("the phone will ... be powered by") also earns 0.85 of the credit for
question terms the sentence before it holds, its context. Its passage's retrieval score is added. The neighbouring sentence of the same paragraph joins the answer when it carries
nearly as much evidence, or when the answer opens by pointing back at it ("It ...").

Confidence is a logistic function of two signals, fitted on one half of squad-dev's articles
(indexed) against the other half's questions (off-topic) and checked the other way round: the
best sentence cosine among the candidates and the share of the question's terms the answering
passage holds. The share is unweighted on purpose: IDF from a handful of chunks is noise (the
topic of a one-article corpus gets no weight at all), and on squad-dev it cost under a point of
abstention. "What is the capital of France?" on a corpus about phones has neither signal. A
passage holding every term of a question of two or more terms is enough on its own: the small
model's cosine is low for questions made of names ("Where was Pete Lau speaking?"), and on
squad-dev 0.1% of the off-topic questions met every term in one passage.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from .chunking import PARAGRAPH_BREAK
from .cues import answer_pattern, holds_new, names_and_numbers
from .backend import IndexView
from .lexical import tokenize
from .search import Hit
from .store import StoredChunk

MAX_ANSWER_CHARS = 400
SELECT_FROM = 5  # passages whose sentences compete for the answer
SENTENCE_DENSE_WEIGHT = 2.0  # cosine against IDF coverage (both in 0..1) in a sentence's evidence
CUE_WEIGHT = 0.3
CONTEXT_WEIGHT = 0.85  # credit for question terms only the sentence before holds (see above)
PASSAGE_WEIGHT = 0.5
NEIGHBOUR_SHARE = 0.8  # a neighbour with this share of the best sentence's evidence joins it
# confidence = logistic(COSINE_SLOPE * best sentence cosine + TERMS_SLOPE * share of terms + BIAS)
COSINE_SLOPE = 18.0
TERMS_SLOPE = 9.1
BIAS = -12.9
FULL_MATCH_CONFIDENCE = 0.6  # the least confidence when one passage holds every question term
_POINTS_BACK = re.compile(
    r"(it|its|he|his|she|her|they|their|them|this|these|those|such|however|but|also|thus|therefore)\b",
    re.IGNORECASE,
)


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
    section: str | None = None  # heading path, "Installation › Linux"
    page_start: int | None = None  # PDF pages the passage runs over (1-based)
    page_end: int | None = None
    url: str | None = None  # where a fetched page came from


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
class _Sentence:
    passage_rank: int
    index: int  # position among its chunk's sentences
    evidence: float
    score: float


def select_answer(
    question: str,
    query_tokens: Sequence[str],
    hits: Sequence[Hit],
    chunks: Sequence[StoredChunk],
    index: IndexView,
    min_confidence: float,
) -> Answer:
    passages = [_passage(h, c) for h, c in zip(hits, chunks)]
    if not passages:
        return Answer(question, False, None, 0.0, [])
    weights = {t: index.idf(t) for t in set(query_tokens)}
    candidates = _score_sentences(question, hits[:SELECT_FROM], chunks[:SELECT_FROM], weights)
    best = max(candidates, key=lambda s: s.score)
    chunk = chunks[best.passage_rank]
    found = set(tokenize([chunk.title])[0]).union(*chunk.terms)
    share = sum(t in found for t in weights) / len(weights) if weights else 0.0
    confidence = _confidence(max(max(h.sentences) for h in hits[:SELECT_FROM]), share, len(weights))
    if best.passage_rank:  # put the passage holding the answer first
        passages.insert(0, passages.pop(best.passage_rank))
    if confidence < min_confidence:
        return Answer(question, False, None, confidence, passages)
    start, end = _answer_span(chunk, best, [s for s in candidates if s.passage_rank == best.passage_rank])
    text = chunk.text[start:end]
    return Answer(question, True, text, confidence, passages, start, end)


def _passage(hit: Hit, chunk: StoredChunk) -> Passage:
    return Passage(
        chunk.id, chunk.text, chunk.source, chunk.title, chunk.date, hit.score, chunk.start, chunk.end,
        chunk.section, chunk.page_start, chunk.page_end, chunk.url,
    )


def _coverage(tokens: set[str], weights: dict[str, float]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in tokens) / total if total else 0.0


def _confidence(cosine: float, share: float, terms: int) -> float:
    fitted = 1.0 / (1.0 + math.exp(-(COSINE_SLOPE * cosine + TERMS_SLOPE * share + BIAS)))
    return max(fitted, FULL_MATCH_CONFIDENCE) if terms >= 2 and share == 1.0 else fitted


def _score_sentences(
    question: str, hits: Sequence[Hit], chunks: Sequence[StoredChunk], weights: dict[str, float]
) -> list[_Sentence]:
    """Every sentence of the given passages with its evidence and score; a sentence two
    overlapping passages share counts in both (the better passage score wins the max)."""
    pattern = answer_pattern(question)
    named = set(tokenize([names_and_numbers(question)])[0])
    scored = []
    for rank, (hit, chunk) in enumerate(zip(hits, chunks)):
        texts = [chunk.text[a - chunk.start : b - chunk.start] for a, b in chunk.sentences]
        token_sets = [set(terms) for terms in chunk.terms]
        for i, (text, tokens, cosine) in enumerate(zip(texts, token_sets, hit.sentences)):
            own = _coverage(tokens, weights)
            evidence = own + SENTENCE_DENSE_WEIGHT * cosine + CUE_WEIGHT * holds_new(text, pattern, question)
            # Terms the sentence before supplies ("OnePlus 6" ... "the phone will be powered by")
            context = _coverage(tokens | token_sets[i - 1], weights) - own if i and not named & tokens else 0.0
            scored.append(_Sentence(rank, i, evidence, evidence + CONTEXT_WEIGHT * context + PASSAGE_WEIGHT * hit.score))
    return scored


def _answer_span(chunk: StoredChunk, best: _Sentence, siblings: Sequence[_Sentence]) -> tuple[int, int]:
    """Offsets in chunk.text of the best sentence, joined by a neighbour when it earns it."""
    spans = [(a - chunk.start, b - chunk.start) for a, b in chunk.sentences]
    start, end = spans[best.index]
    other = _joining_neighbour(chunk.text, spans, best, {s.index: s.evidence for s in siblings})
    if other is not None:
        joined = min(start, spans[other][0]), max(end, spans[other][1])
        if joined[1] - joined[0] <= MAX_ANSWER_CHARS:
            return joined
    return _cut(chunk.text, start, end)


def _joining_neighbour(text: str, spans: list[tuple[int, int]], best: _Sentence, evidence: dict[int, float]) -> int | None:
    """The sentence before or after the best one, in the same paragraph, that should join it."""
    previous, following = best.index - 1, best.index + 1
    same_paragraph = {
        i
        for i in (previous, following)
        if i in evidence and not PARAGRAPH_BREAK.search(text, spans[min(i, best.index)][1], spans[max(i, best.index)][0])
    }
    if previous in same_paragraph and _POINTS_BACK.match(text, spans[best.index][0]):
        return previous
    neighbours = [i for i in (previous, following) if i in same_paragraph]
    if not neighbours:
        return None
    other = max(neighbours, key=evidence.__getitem__)
    return other if evidence[other] >= NEIGHBOUR_SHARE * best.evidence else None


def _cut(text: str, start: int, end: int) -> tuple[int, int]:
    """The span cut to the answer length limit at a word boundary."""
    if end - start <= MAX_ANSWER_CHARS:
        return start, end
    cut = text.rfind(" ", start, start + MAX_ANSWER_CHARS)
    return start, cut if cut > start else start + MAX_ANSWER_CHARS

"""Answer selection: the sentence that answers, the passage around it, and whether to answer.

Every sentence of the best passages is a candidate (evidence.py turns each into a row of
numbers: how much of the question it holds, its cosine with the question, whether it holds the
kind of fact asked for, its passage's retrieval score, ...). A fitted model (answer_model.py)
picks the candidate, decides whether the sentence before or after joins it, and gives the
probability that the answer is right: that probability is the confidence, and below
ASKBOT_MIN_CONFIDENCE askbot declines.

Three joins are not left to the model, because the answer would not make sense without them: a
sentence that opens by pointing back ("It ...", "However ...") brings the one before it in its
paragraph; a sentence that names what a "Which phone ...?" question asks for only as "the
phone" brings the sentence before it, which names the phone; and a sentence naming only the
question's subject brings the next one when that one goes on about the subject without naming
it. The model's joins stay inside a paragraph; every answer stays within MAX_ANSWER_CHARS. The
passages are shown with the answer's first, then in the order of the best answer each holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np

from . import proximity
from .answer_model import AnswerModel, Decision, decide, shipped
from .backend import IndexView
from .evidence import Candidates, candidates
from .proximity import Position
from .search import Hit
from .store import StoredChunk

MAX_ANSWER_CHARS = 400
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


def select_answer(
    question: str,
    query_tokens: Sequence[str],
    hits: Sequence[Hit],
    chunks: Sequence[StoredChunk],
    index: IndexView,
    min_confidence: float,
    model: AnswerModel | None = None,
    near: Position | None = None,
) -> Answer:
    """The answer from the first SELECT_FROM passages; `near` is where a conversation's last
    answer was (proximity.py), None for a question asked alone."""
    passages = [_passage(h, c) for h, c in zip(hits, chunks)]
    if not passages:
        return Answer(question, False, None, 0.0, [])
    found, texts = candidates(question, query_tokens, hits[:SELECT_FROM], chunks[:SELECT_FROM], index.idf)
    closeness = proximity.bonus(found, chunks, near)
    decision = with_what_it_needs(found, texts, decide(found, model or shipped(), closeness))
    rank = int(found.passage_rank[decision.chosen])
    passages = [passages[r] for r in passage_order(found, decision.chosen, decision.scores, len(passages))]
    if decision.confidence < min_confidence:
        return Answer(question, False, None, decision.confidence, passages)
    start, end = answer_span(chunks[rank], found, decision)
    return Answer(question, True, chunks[rank].text[start:end], decision.confidence, passages, start, end)


def passage_order(found: Candidates, chosen: int, scores: np.ndarray, count: int) -> list[int]:
    """Search ranks of the passages as shown: the answer's passage first, then the others that
    competed by the best answer they hold, then the rest as search ranked them. (Ordering by
    the ranker's best sentence put the gold passage among the first three more often than
    search's order on every dev set: squad 0.971 -> 0.971, news 0.863 -> 0.868, papers 0.764 -> 0.768.)"""
    best: dict[int, float] = {}
    for rank, score in zip(found.passage_rank.tolist(), scores.tolist()):
        best[rank] = max(best.get(rank, score), score)
    first = int(found.passage_rank[chosen])
    competed = sorted((r for r in best if r != first), key=lambda r: (-best[r], r))
    return [first, *competed, *(r for r in range(count) if r not in best and r != first)]


def _passage(hit: Hit, chunk: StoredChunk) -> Passage:
    return Passage(
        chunk.id, chunk.text, chunk.source, chunk.title, chunk.date, hit.score, chunk.start, chunk.end,
        chunk.section, chunk.page_start, chunk.page_end, chunk.url,
    )


def answer_span(chunk: StoredChunk, found: Candidates, decision: Decision) -> tuple[int, int]:
    """Offsets in chunk.text of the chosen sentence, joined by the neighbour that must or should
    come with it when the two fit in MAX_ANSWER_CHARS."""
    spans = [(a - chunk.start, b - chunk.start) for a, b in chunk.sentences]
    chosen = decision.chosen
    start, end = spans[found.index[chosen]]
    other = needed_neighbour(found, chosen)
    other = decision.neighbour if other is None else other
    if other is not None:
        a, b = spans[found.index[other]]
        joined = min(start, a), max(end, b)
        if joined[1] - joined[0] <= MAX_ANSWER_CHARS:
            return joined
    return _cut(chunk.text, start, end)


def with_what_it_needs(found: Candidates, texts: Sequence[str], decision: Decision) -> Decision:
    """The same sentence in another passage when only there it has the neighbour it needs (see
    needed_neighbour). A passage opens with the previous paragraph's last sentence, so one
    sentence can end one passage and open the next: "It ..." needs the passage where the
    sentence before it is, "... as the OnePlus 6." the one where the sentence after it is."""
    chosen = decision.chosen
    if needed_neighbour(found, chosen) is not None:
        return decision
    for other in range(len(found)):
        if other != chosen and texts[other] == texts[chosen] and needed_neighbour(found, other) is not None:
            return replace(decision, chosen=other, neighbour=None)
    return decision


def needed_neighbour(found: Candidates, chosen: int) -> int | None:
    """The sentence before or after, when the chosen one cannot stand alone (see the module docstring).

    A sentence opening with "It" points into its own paragraph. One that says "the phone" for a
    "Which phone ...?" question names its referent wherever the sentence before it is, even
    across a paragraph break (a news story's second paragraph often opens that way). And a
    sentence that names the question's subject but holds nothing of what it asks ("... on the
    market as the OnePlus 6.") needs the next one when that one goes on about the subject without
    naming it ("... the phone will ... be powered by a Snapdragon 845"), whether or not it uses
    the question's words: "what cpu does the oneplus 6 have" is answered by "powered by".
    (Without asking for the question's words there: dev sets unchanged to the third decimal,
    seed facts 37 -> 39 of 46.)
    """
    if found.points_back[chosen] and found.previous[chosen] >= 0:
        return int(found.previous[chosen])
    if found.column("refers_to_asked")[chosen] and found.index[chosen] > 0:
        return chosen - 1  # a chunk's sentences are consecutive candidates
    after = chosen + 1
    if after < len(found) and found.passage_rank[after] == found.passage_rank[chosen] and _completes(found, chosen, after):
        return after
    return None


def _completes(found: Candidates, chosen: int, after: int) -> bool:
    named, relation, in_context = (found.column(c) for c in ("named_share", "relation_share", "named_in_context"))
    return named[chosen] == 1.0 and relation[chosen] == 0.0 and named[after] == 0.0 and in_context[after] == 1.0


def _cut(text: str, start: int, end: int) -> tuple[int, int]:
    """The span cut to the answer length limit at a word boundary."""
    if end - start <= MAX_ANSWER_CHARS:
        return start, end
    cut = text.rfind(" ", start, start + MAX_ANSWER_CHARS)
    return start, cut if cut > start else start + MAX_ANSWER_CHARS

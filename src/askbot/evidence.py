"""What each candidate sentence offers as an answer, as numbers a fitted model can weigh.

Every sentence of the best passages is a candidate. Its row holds how much of the question's
information (IDF-weighted stemmed terms) it and its neighbours hold, its cosine with the question
(sentence vectors are stored at build time, so this is a dot product), whether it holds the
kind of fact the question asks for (cues.py), what its passage scored in retrieval, and plain
facts about its shape. No feature looks at a file name, a title or which data set a document
came from: the same numbers mean the same on any documents.

answer_model.py turns the rows into a choice, a confidence and whether a neighbour joins; the
names below are the columns' names in its fitted weights file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .chunking import PARAGRAPH_BREAK
from .cues import answer_pattern, asked_thing, holds_new, names_and_numbers, new_names, points_back, refers_to
from .lexical import tokenize
from .search import Hit
from .store import StoredChunk

SENTENCE_FEATURES = (
    "coverage",  # share of the question's IDF weight the sentence holds
    "term_share",  # share of the question's terms it holds, unweighted
    "cosine",  # cosine of sentence and question
    "coverage_gap",  # coverage minus the best coverage among the candidates (<= 0)
    "cosine_gap",  # cosine minus the best cosine among the candidates (<= 0)
    "is_best_coverage",  # no candidate holds more of the question
    "is_best_cosine",  # no candidate is closer to the question
    "named_share",  # share of the question's names and numbers the sentence holds
    "named_in_context",  # the same share, counting the sentence before ("the phone" after "the OnePlus 6")
    "relation_share",  # share of the question's other terms ("chip", "powers") the sentence holds
    "context",  # coverage the sentence before adds, when this one does not name the subject
    "previous_coverage",
    "next_coverage",
    "cue_met",  # the question asks for a date/number/name and the sentence holds a new one
    "cue_missed",  # it asks for one and the sentence holds none
    "new_names",  # log(1 + names and numbers the question does not hold)
    "is_question",  # the sentence asks something itself
    "refers_to_asked",  # "Which phone ...?" and the sentence says "the phone": its referent is elsewhere
    "passage_score",  # fused retrieval score of its passage
    "passage_dense",
    "passage_lexical",
    "top_passage",
    "passage_rank",
    "opens_paragraph",  # a paragraph's first sentence (a news story's lede), wherever the passage starts
    "log_length",
    "pair_share",  # share of the question's adjacent term pairs ("rate flow") adjacent in the sentence too
)
JOIN_FEATURES = (
    "is_previous",  # the neighbour comes before the chosen sentence
    "points_back",  # the chosen sentence opens with "It", "They", "However", ...
    "refers_to_asked",
    "neighbour_coverage",
    "neighbour_cosine",
    "score_gap",  # neighbour's ranking score minus the chosen one's
    "chosen_cue_missed_neighbour_met",
    "neighbour_new_names",
    "chosen_new_names",
    "log_joined_length",
    "bias",
)
# No IDF-weighted share and no "term unknown to the index" here: on a corpus of a few chunks every
# question word is rare or unknown, so those would make a small folder look off-topic.
CONFIDENCE_FEATURES = (
    "best_cosine",  # best cosine among all candidates
    "chosen_cosine",
    "chosen_term_share",
    "passage_share",  # share of the question's terms the chosen passage holds
    "passage_named_share",  # share of the question's names and numbers the chosen passage holds
    "names_matched",  # log(1 + how many of them it holds): "Pete Lau" twice as telling as "Lau"
    "has_names",  # the question holds names or numbers
    "choice_probability",  # the ranker's softmax weight on the chosen sentence
    "log_terms",
    "full_match",  # two or more terms, all in the chosen passage
    "chosen_cue_met",
    "chosen_cue_missed",
    "chosen_relation_share",  # it holds what the question asks about ("chip", "powers"), not only its names
    "chosen_context",  # its subject is named in the sentence before ("the phone" after "the OnePlus 6")
    "top_passage_dense",
    "bias",
)
_COLUMN = {name: i for i, name in enumerate(SENTENCE_FEATURES)}


@dataclass(frozen=True)
class Candidates:
    """The candidate sentences of one question: a feature row each, and where each sits."""

    features: np.ndarray  # (n, len(SENTENCE_FEATURES)) float64
    passage_rank: np.ndarray  # (n,) index into the hits/chunks given
    index: np.ndarray  # (n,) position among its chunk's sentences
    previous: np.ndarray  # (n,) the candidate before it in the same paragraph, or -1
    next: np.ndarray  # (n,) the candidate after it in the same paragraph, or -1
    lengths: np.ndarray  # (n,) characters
    points_back: np.ndarray  # (n,) bool: opens with "It", "However", ... (cues.points_back)
    passage_share: np.ndarray  # (n,) share of the question's terms its passage holds
    passage_coverage: np.ndarray  # (n,) share of the question's IDF weight its passage holds
    passage_named_share: np.ndarray  # (n,) share of the question's names and numbers its passage holds
    same: np.ndarray  # (n,) the first candidate with the same text in another document (a copy: PDF and DOCX of one article)
    terms: int
    names: int  # names and numbers in the question (their stemmed terms)
    top_dense: float  # dense score of the first passage

    def __len__(self) -> int:
        return len(self.features)

    def column(self, name: str) -> np.ndarray:
        return self.features[:, _COLUMN[name]]


def candidates(
    question: str, query_tokens: Sequence[str], hits: Sequence[Hit], chunks: Sequence[StoredChunk], idf: Callable[[str], float]
) -> tuple[Candidates, list[str]]:
    """Rows for every sentence of the given passages, and the sentences' texts (a sentence two
    overlapping passages share is a candidate in both)."""
    weights = {t: idf(t) for t in set(query_tokens)}
    pattern = answer_pattern(question)
    named = set(tokenize([names_and_numbers(question)])[0])
    relation = set(weights) - named
    asked = asked_thing(question)
    question_lower = question.lower()
    pairs = set(zip(query_tokens, query_tokens[1:]))
    rows, texts, places = [], [], []
    for rank, (hit, chunk) in enumerate(zip(hits, chunks)):
        spans = [(a - chunk.start, b - chunk.start) for a, b in chunk.sentences]
        token_sets = [set(terms) for terms in chunk.terms]
        own = [_coverage(tokens, weights) for tokens in token_sets]
        everything = set().union(*token_sets)
        share = sum(t in everything for t in weights) / len(weights) if weights else 0.0
        passage = (share, _coverage(everything, weights), len(named & everything) / len(named) if named else 0.0)
        first = len(rows)
        for i, ((a, b), tokens, terms, cosine) in enumerate(zip(spans, token_sets, chunk.terms, hit.sentences)):
            text = chunk.text[a:b]
            context = _coverage(tokens | token_sets[i - 1], weights) - own[i] if i and not named & tokens else 0.0
            around = tokens | token_sets[i - 1] if i else tokens
            met = holds_new(text, pattern, question)
            joins_before = i > 0 and not PARAGRAPH_BREAK.search(chunk.text, spans[i - 1][1], a)
            rows.append((
                own[i],
                sum(t in tokens for t in weights) / len(weights) if weights else 0.0,
                cosine,
                0.0,
                0.0,
                0.0,
                0.0,
                len(named & tokens) / len(named) if named else 0.0,
                len(named & around) / len(named) if named else 0.0,
                len(relation & tokens) / len(relation) if relation else 0.0,
                context,
                own[i - 1] if i else 0.0,
                own[i + 1] if i + 1 < len(own) else 0.0,
                float(pattern is not None and met),
                float(pattern is not None and not met),
                math.log1p(new_names(text, question_lower)),
                float(text.rstrip().endswith("?")),
                float(refers_to(text, asked)),
                hit.score,
                hit.dense,
                hit.lexical,
                float(rank == 0),
                float(rank),
                float(not joins_before),
                math.log(max(len(text), 1)),
                len(pairs & set(zip(terms, terms[1:]))) / len(pairs) if pairs else 0.0,
            ))
            texts.append(text)
            places.append((rank, i, first + i - 1 if joins_before else -1, *passage))
    features = np.array(rows, dtype=np.float64).reshape(-1, len(SENTENCE_FEATURES))
    if len(features):
        for name, source in (("coverage_gap", "coverage"), ("cosine_gap", "cosine")):
            values = features[:, _COLUMN[source]]
            features[:, _COLUMN[name]] = values - values.max()
            features[:, _COLUMN[f"is_best_{source}"]] = values == values.max()
    rank, index, previous, share, coverage, named_share = (np.array(column) for column in zip(*places)) if places else [np.zeros(0)] * 6
    following = np.full(len(places), -1)
    following[previous[previous >= 0].astype(np.int64)] = np.flatnonzero(previous >= 0)
    found = Candidates(
        features,
        rank.astype(np.int64),
        index.astype(np.int64),
        previous.astype(np.int64),
        following.astype(np.int64),
        np.array([len(t) for t in texts], dtype=np.int64),
        np.array([points_back(t) for t in texts], dtype=bool),
        share.astype(np.float64),
        coverage.astype(np.float64),
        named_share.astype(np.float64),
        _copies(texts, [chunks[r].source for r, *_ in places]),
        len(weights),
        len(named),
        hits[0].dense if hits else 0.0,
    )
    return found, texts


def _copies(texts: Sequence[str], sources: Sequence[str]) -> np.ndarray:
    """For each candidate, the first with the same text from another document, else itself. A
    sentence two passages of one document share (the overlap sentence) stays two candidates."""
    first: dict[str, tuple[int, str]] = {}
    same = []
    for i, (text, source) in enumerate(zip(texts, sources)):
        j, origin = first.setdefault(_same_text(text), (i, source))
        same.append(j if origin != source else i)
    return np.array(same, dtype=np.int64)


# How copies of one text differ: a PDF wraps lines, and its font may lack a dash or curly quote.
_TYPOGRAPHY = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _same_text(text: str) -> str:
    return " ".join(text.translate(_TYPOGRAPHY).split())


def _coverage(tokens: set[str], weights: dict[str, float]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in tokens) / total if total else 0.0


def confidence_row(found: Candidates, chosen: int, probability: float) -> np.ndarray:
    """The confidence features of choosing candidate `chosen` (see CONFIDENCE_FEATURES)."""
    row = found.features[chosen]
    share = float(found.passage_share[chosen])
    return np.array([
        found.column("cosine").max(),
        row[_COLUMN["cosine"]],
        row[_COLUMN["term_share"]],
        share,
        float(found.passage_named_share[chosen]),
        math.log1p(found.passage_named_share[chosen] * found.names),
        float(found.names > 0),
        probability,
        math.log1p(found.terms),
        float(found.terms >= 2 and share == 1.0),
        row[_COLUMN["cue_met"]],
        row[_COLUMN["cue_missed"]],
        row[_COLUMN["relation_share"]],
        row[_COLUMN["context"]],
        found.top_dense,
        1.0,
    ])


def join_row(found: Candidates, chosen: int, neighbour: int, scores: np.ndarray) -> np.ndarray:
    """The features of joining candidate `neighbour` (the sentence before or after) to `chosen`."""
    c, n = found.features[chosen], found.features[neighbour]
    before = float(found.index[neighbour] < found.index[chosen])
    return np.array([
        before,
        before * float(found.points_back[chosen]),
        before * c[_COLUMN["refers_to_asked"]],
        n[_COLUMN["coverage"]],
        n[_COLUMN["cosine"]],
        scores[neighbour] - scores[chosen],
        c[_COLUMN["cue_missed"]] * n[_COLUMN["cue_met"]],
        n[_COLUMN["new_names"]],
        c[_COLUMN["new_names"]],
        math.log(int(found.lengths[chosen] + found.lengths[neighbour]) + 1),
        1.0,
    ])

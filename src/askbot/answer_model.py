"""The fitted answer model: which candidate sentence answers, whether a neighbour joins it, and
how likely the answer is right.

Three linear models over the feature rows of evidence.py, their weights fitted on the dev
questions of three kinds of text (Wikipedia, news digests, PDF papers) by
benchmarks/fit_answers.py (`make fit`) and shipped as one small JSON file in askbot/data:

    ranker      a score per candidate; the highest answers (fitted as a softmax over each
                question's candidates, label: the sentence holds a gold answer)
    join        a logistic: the probability that the sentence before/after is needed too
    on_topic    a logistic on the chosen answer: the probability that the documents answer the
                question at all (fitted on dev questions against off-topic ones)
    right       a logistic: the probability that the chosen answer is right when they do

The confidence is on_topic × right: the probability that the answer is right, fitted with every
set weighing the same (see `askbot eval --by-confidence` for how well it is calibrated per set).
Two factors because the signals differ: whether the question belongs to these documents at all
is told sharply by how close the best sentence comes (cosine), which answer is right by how much
the ranker prefers it; one logistic fitted on "right" blurs the first.

The file is checked against MODEL_SHA256 when loaded, like the embedding model's weights; a file
that does not match is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import AskbotError
from .evidence import CONFIDENCE_FEATURES, JOIN_FEATURES, SENTENCE_FEATURES, Candidates, confidence_row, join_row

MODEL_FILE = Path(__file__).parent / "data" / "answer-model.json"
MODEL_SHA256 = "43942910f079b2d8e0e7d2f7312c1fe24026e996cae9ee943af75de6a14676a0"
# A neighbour joins when there is a 3% chance the answer needs it. Joining costs length, not
# correctness: a question often paraphrases the sentence before its answer ("... a Rhine
# straightening program" / "The rate of flow was increased"). From 0.10 to 0.03, answers right
# (threshold aside) rose on all three dev sets (squad 0.820 -> 0.834, news 0.742 -> 0.756, papers
# 0.526 -> 0.552) and grew from 211/170/203 to 247/196/243 characters on average; below 0.03
# nothing more is gained.
JOIN_PROBABILITY = 0.03


@dataclass(frozen=True)
class Linear:
    """weights · standardised features: (x - mean) / scale."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray

    def score(self, rows: np.ndarray) -> np.ndarray:
        return ((rows - self.mean) / self.scale) @ self.weights

    def probability(self, rows: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.score(rows)))

    def to_dict(self) -> dict:
        return {name: [float(v) for v in values] for name, values in (("mean", self.mean), ("scale", self.scale), ("weights", self.weights))} | {"features": list(self.names)}

    @classmethod
    def from_dict(cls, data: dict, names: tuple[str, ...]) -> "Linear":
        if tuple(data["features"]) != names:
            raise ValueError(f"features {data['features']} are not {list(names)}")
        arrays = [np.asarray(data[key], dtype=np.float64) for key in ("mean", "scale", "weights")]
        if any(a.shape != (len(names),) for a in arrays):
            raise ValueError("weights of the wrong length")
        return cls(names, *arrays)


@dataclass(frozen=True)
class AnswerModel:
    ranker: Linear
    join: Linear
    on_topic: Linear
    right: Linear
    # The share of dev questions whose answering passage held every one of their (two or more)
    # terms that were on-topic: such a match is evidence the cosine does not see (the small
    # model's cosine is low for questions made of names, "Where was Pete Lau speaking?").
    full_match_on_topic: float

    def confidence(self, rows: np.ndarray) -> np.ndarray:
        on_topic = self.on_topic.probability(rows)
        full_match = rows[:, CONFIDENCE_FEATURES.index("full_match")] > 0
        on_topic = np.where(full_match, np.maximum(on_topic, self.full_match_on_topic), on_topic)
        return on_topic * self.right.probability(rows)

    def to_dict(self, fitted_on: dict) -> dict:
        parts = {name: getattr(self, name).to_dict() for name in ("ranker", "join", "on_topic", "right")}
        return parts | {"full_match_on_topic": self.full_match_on_topic, "fitted_on": fitted_on}

    @classmethod
    def from_dict(cls, data: dict) -> "AnswerModel":
        return cls(
            Linear.from_dict(data["ranker"], SENTENCE_FEATURES),
            Linear.from_dict(data["join"], JOIN_FEATURES),
            Linear.from_dict(data["on_topic"], CONFIDENCE_FEATURES),
            Linear.from_dict(data["right"], CONFIDENCE_FEATURES),
            float(data["full_match_on_topic"]),
        )


@dataclass(frozen=True)
class Decision:
    chosen: int  # candidate index
    neighbour: int | None  # the candidate joining it, if any
    confidence: float
    scores: np.ndarray  # what the choice was made on: the ranker's score of every candidate, plus any bonus


def decide(found: Candidates, model: AnswerModel, bonus: np.ndarray | None = None) -> Decision:
    """The answering candidate, its joining neighbour and the confidence that it is right;
    `bonus` is added to the ranker's scores to choose (proximity.py: close to a conversation's
    last answer), the confidence stays the fitted scores' probability of the chosen one."""
    fitted = model.ranker.score(found.features)
    scores = fitted if bonus is None else fitted + bonus
    chosen = int(np.argmax(scores))
    probability = choice_probability(found, fitted, chosen)
    confidence = float(model.confidence(confidence_row(found, chosen, probability)[None, :])[0])
    return Decision(chosen, joining_neighbour(found, chosen, scores, model.join), confidence, scores)


def choice_probability(found: Candidates, scores: np.ndarray, chosen: int) -> float:
    """The ranker's softmax weight on the chosen sentence and its copies in other documents: the
    same sentence in a PDF and a DOCX of one article is one choice, not two rivals."""
    weights = np.exp(scores - scores[chosen])
    return float(weights[found.same == found.same[chosen]].sum() / weights.sum())


def joining_neighbour(found: Candidates, chosen: int, scores: np.ndarray, join: Linear) -> int | None:
    """The sentence before or after the chosen one (same paragraph) most likely needed with it."""
    neighbours = [int(n) for n in (found.previous[chosen], found.next[chosen]) if n >= 0]
    if not neighbours:
        return None
    need = join.probability(np.array([join_row(found, chosen, n, scores) for n in neighbours]))
    best = int(np.argmax(need))
    return neighbours[best] if need[best] > JOIN_PROBABILITY else None


def load(path: Path | None = None, sha256: str | None = None) -> AnswerModel:
    """The model in `path` (the shipped one by default), refused unless its SHA-256 is `sha256`
    (MODEL_SHA256 by default)."""
    path, sha256 = path or MODEL_FILE, sha256 or MODEL_SHA256
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AskbotError(f"cannot read the answer model {path}: {exc.strerror}") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise AskbotError(
            f"refusing the answer model: {path} has SHA-256 {digest[:12]}…, expected {sha256[:12]}… (reinstall askbot, or `make fit` to refit it)"
        )
    try:
        return AnswerModel.from_dict(json.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        raise AskbotError(f"refusing the answer model: {path} is malformed ({exc})") from None


@lru_cache(maxsize=1)
def shipped() -> AnswerModel:
    return load()

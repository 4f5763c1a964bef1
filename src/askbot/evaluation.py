"""Evaluation: how often the first answer holds the fact, measured through the engine facade.

A questions file has one JSON object per line: `{"id", "question", "answers": [gold strings]}`
(more keys are fine; the format of `askbot feedback export` and of SQuAD-style eval sets).

    answer hit@1     a gold string (case- and whitespace-normalised) inside the answer text
    recall@1/@3/@10  a gold string inside one of the first 1/3/10 passages
    MRR              mean of 1/rank of the first passage holding a gold string (0 past 10)
    answered         share of the labelled questions the engine answered
    abstained        share of the off-topic questions it declined to answer
    reliability      per confidence bucket: how many labelled questions fell in it and the share
                     whose answer (given at any confidence) holds a gold string

An eval set is a folder holding `questions.jsonl` and `docs/` (the layout of ../shared/eval);
several sets are measured one after the other, each over its own index, one row each.

`tune` searches the query-time settings (fusion weight, abstention threshold) on a labelled
file plus off-topic questions and returns the best values; it never writes them anywhere.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from .answer import Answer
from .errors import UsageError

K = 10  # passages asked for per question
TUNE_DENSE_WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
ANSWERED_FLOOR = 0.97  # the tuned threshold must keep answering at least this share


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """What happened to one labelled question."""

    question: Question
    answered: bool
    answer: str | None
    confidence: float
    rank: int | None  # 1-based rank of the first passage holding a gold string
    hit: bool
    seconds: float
    right: bool = False  # the answer it would give at any confidence holds a gold string


@dataclass(frozen=True)
class Miss:
    question: str
    gold: list[str]
    answer: str | None  # None: abstained
    gold_passage_rank: int | None


@dataclass(frozen=True)
class Bucket:
    """Questions whose confidence fell in [low, high): labelled ones, the share of those whose
    answer was right, and off-topic ones (None: no labelled question fell here)."""

    low: float
    high: float
    questions: int
    right: float | None
    offtopic: int


@dataclass
class Report:
    questions: int
    answer_hit_at_1: float
    recall_at_1: float
    recall_at_3: float
    recall_at_10: float
    mrr: float
    answered_rate: float
    mean_answer_chars: float
    offtopic_questions: int
    offtopic_abstention_rate: float | None
    p50_seconds: float
    p95_seconds: float
    build_seconds: float | None  # None when an existing, up-to-date index was used
    misses: list[Miss] = field(default_factory=list)
    offtopic_answered: list[Miss] = field(default_factory=list)
    reliability: list[Bucket] = field(default_factory=list)
    calibration_error: float = 0.0  # see calibration_error()

    def to_dict(self) -> dict:
        return asdict(self)


# -- reading questions -------------------------------------------------------------------------


def load_questions(path: Path, labelled: bool = True) -> list[Question]:
    """Parse a questions file; one clear UsageError naming the line on bad input."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    questions = [_parse(line, path, n, labelled) for n, line in enumerate(lines, 1) if line.strip()]
    if not questions:
        raise UsageError(f"{path} holds no questions")
    return questions


def _parse(line: str, path: Path, n: int, labelled: bool) -> Question:
    where = f"{path}:{n}"
    try:
        record = json.loads(line)
    except ValueError:
        raise UsageError(f"{where}: not a JSON object") from None
    if not isinstance(record, dict) or not isinstance(record.get("question"), str) or not record["question"].strip():
        raise UsageError(f'{where}: needs a non-empty "question" string')
    answers = record.get("answers", [])
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise UsageError(f'{where}: "answers" must be a list of strings')
    answers = [a for a in answers if a.strip()]
    if labelled and not answers:
        raise UsageError(f'{where}: needs at least one gold string in "answers"')
    return Question(str(record.get("id", n)), record["question"], tuple(answers))


# -- scoring -----------------------------------------------------------------------------------


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def holds(text: str | None, gold: Iterable[str]) -> bool:
    if not text:
        return False
    haystack = normalise(text)
    return any(normalise(g) in haystack for g in gold)


def outcome(question: Question, answer: Answer, seconds: float, min_confidence: float | None = None) -> Outcome:
    """What happened to a question; with min_confidence, `answer` was asked without a threshold
    (so it is known whether the declined answer would have been right) and this one applies."""
    rank = next((i for i, p in enumerate(answer.passages[:K], 1) if holds(p.text, question.answers)), None)
    right = answer.answered and holds(answer.answer, question.answers)
    answered = answer.answered and (min_confidence is None or answer.confidence >= min_confidence)
    text = answer.answer if answered else None
    return Outcome(question, answered, text, answer.confidence, rank, right and answered, seconds, right)


def summarise(
    outcomes: Sequence[Outcome],
    offtopic: Sequence[Answer] = (),
    build_seconds: float | None = None,
    misses: int = 0,
) -> Report:
    n = len(outcomes)
    ranks = [o.rank for o in outcomes]
    answers = [o.answer for o in outcomes if o.answered and o.answer]
    seconds = np.array([o.seconds for o in outcomes]) if outcomes else np.zeros(1)
    return Report(
        questions=n,
        answer_hit_at_1=_share(o.hit for o in outcomes),
        recall_at_1=_share(r is not None and r <= 1 for r in ranks),
        recall_at_3=_share(r is not None and r <= 3 for r in ranks),
        recall_at_10=_share(r is not None for r in ranks),
        mrr=float(np.mean([1.0 / r if r else 0.0 for r in ranks])) if n else 0.0,
        answered_rate=_share(o.answered for o in outcomes),
        mean_answer_chars=float(np.mean([len(a) for a in answers])) if answers else 0.0,
        offtopic_questions=len(offtopic),
        offtopic_abstention_rate=_share(not a.answered for a in offtopic) if offtopic else None,
        p50_seconds=float(np.percentile(seconds, 50)),
        p95_seconds=float(np.percentile(seconds, 95)),
        build_seconds=build_seconds,
        misses=_spread([_miss(o) for o in outcomes if not o.hit], misses),
        offtopic_answered=_spread([Miss(a.question, [], a.answer, None) for a in offtopic if a.answered], misses),
        reliability=reliability(outcomes, offtopic),
        calibration_error=calibration_error(outcomes),
    )


def _tenth(confidence: float) -> int:
    return min(int(confidence * 10), 9)


def reliability(outcomes: Sequence[Outcome], offtopic: Sequence[Answer] = ()) -> list[Bucket]:
    """Labelled and off-topic questions per tenth of confidence, with the share answered right."""
    buckets = []
    for tenth in range(10):
        mine = [o.right for o in outcomes if _tenth(o.confidence) == tenth]
        off = sum(_tenth(a.confidence) == tenth for a in offtopic)
        buckets.append(Bucket(tenth / 10, (tenth + 1) / 10, len(mine), sum(mine) / len(mine) if mine else None, off))
    return buckets


def calibration_error(outcomes: Sequence[Outcome]) -> float:
    """Expected calibration error: the gap between confidence and share right in each tenth of
    confidence, weighted by the labelled questions the tenth holds."""
    if not outcomes:
        return 0.0
    confidence = np.array([o.confidence for o in outcomes])
    right = np.array([o.right for o in outcomes], dtype=float)
    tenth = np.array([_tenth(c) for c in confidence])
    gaps = [abs(confidence[tenth == b].mean() - right[tenth == b].mean()) * (tenth == b).sum() for b in np.unique(tenth)]
    return float(sum(gaps) / len(outcomes))


def _share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0


def _miss(o: Outcome) -> Miss:
    return Miss(o.question.question, list(o.question.answers), o.answer if o.answered else None, o.rank)


def _spread(items: list[Miss], n: int) -> list[Miss]:
    """n items spread evenly over the list (questions files are often grouped by topic)."""
    if n <= 0 or not items:
        return []
    if n >= len(items):
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


# -- several sets ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalSet:
    name: str
    questions: Path
    docs: Path | None  # None: a questions file given alone, whose documents --docs names


@dataclass
class SetResult:
    name: str
    offtopic_from: str | None
    report: Report


def resolve_sets(paths: Sequence[Path]) -> list[EvalSet]:
    """Each path is a set folder (questions.jsonl + docs/) or a questions file; names unique."""
    sets = [_resolve_set(p) for p in paths]
    names = [s.name for s in sets]
    if len(set(names)) != len(names):
        raise UsageError(f"two sets share a name: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
    return sets


def _resolve_set(path: Path) -> EvalSet:
    if not path.is_dir():
        return EvalSet(path.stem, path, None)
    questions, docs = path / "questions.jsonl", path / "docs"
    if not questions.is_file() or not docs.is_dir():
        raise UsageError(f"{path} is not an eval set: it needs questions.jsonl and docs/")
    return EvalSet(path.resolve().name, questions, docs)


def offtopic_sources(sets: Sequence[EvalSet], specs: Sequence[str], default: Path | None = None) -> dict[str, tuple[str, Path]]:
    """The off-topic questions of each set, by set name: (label, questions file).

    A spec is `previous` (each set is asked the questions of the set before it; the first set
    those of the last) or `NAME=OTHER`, OTHER a set name or a questions file. Sets no spec names
    are asked `default` when given.
    """
    by_name = {s.name: s for s in sets}
    chosen = {s.name: (default.name, default) for s in sets} if default else {}
    for spec in specs:
        if spec == "previous":
            if len(sets) < 2:
                raise UsageError("--offtopic-from previous needs two or more sets")
            chosen.update({s.name: (p.name, p.questions) for s, p in zip(sets, [sets[-1], *sets[:-1]])})
            continue
        name, _, other = spec.partition("=")
        if name not in by_name or not other:
            raise UsageError(f"--offtopic-from {spec}: expected 'previous' or NAME=OTHER with NAME one of {', '.join(by_name)}")
        if other in by_name:
            chosen[name] = (other, by_name[other].questions)
        elif Path(other).is_file():
            chosen[name] = (Path(other).name, Path(other))
        else:
            raise UsageError(f"--offtopic-from {spec}: {other} is neither a set nor a questions file")
    return chosen


# -- running -----------------------------------------------------------------------------------

Progress = Callable[[Sequence], Iterable]


def no_progress(items: Sequence) -> Iterable:
    return items


def terminal_progress(label: str) -> Progress:
    """A tqdm bar on stderr when it is a terminal; plain iteration otherwise."""

    def wrap(items: Sequence) -> Iterable:
        if not sys.stderr.isatty():
            return items
        from tqdm import tqdm

        return tqdm(items, desc=label, unit="q", file=sys.stderr, leave=False)

    return wrap


def run(engine, questions: Sequence[Question], progress: Progress = no_progress) -> list[Outcome]:
    """Ask each question on its own (so the seconds are what one user waits), k=10 passages.

    Asked without a threshold and the engine's threshold applied after, so a declined question
    still tells whether its answer would have been right (the reliability table needs it).
    """
    threshold = engine.settings.min_confidence
    unthresholded = engine.settings.with_overrides(min_confidence=0.0)
    outcomes = []
    for q in progress(questions):
        started = time.perf_counter()
        answer = engine.ask_many([q.question], K, settings=unthresholded)[0]
        outcomes.append(outcome(q, answer, time.perf_counter() - started, threshold))
    return outcomes


def ask_offtopic(engine, questions: Sequence[Question], progress: Progress = no_progress) -> list[Answer]:
    return [engine.ask(q.question, K) for q in progress(questions)]


# -- tuning ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    dense_weight: float
    min_confidence: float
    answer_hit_at_1: float
    recall_at_1: float
    recall_at_3: float
    answered_rate: float
    offtopic_abstention_rate: float | None


def tune(engine, questions: Sequence[Question], offtopic: Sequence[Question] = ()) -> list[Trial]:
    """For each fusion weight, the abstention threshold that abstains most while answering at
    least ANSWERED_FLOOR of the labelled questions; best trial first (by hit@1, then recall@1)."""
    trials = []
    for weight in TUNE_DENSE_WEIGHTS:
        # Answer everything once; any threshold's outcome follows from the confidences.
        settings = engine.settings.with_overrides(dense_weight=weight, min_confidence=0.0)
        labelled = [outcome(q, a, 0.0) for q, a in zip(questions, engine.ask_many([q.question for q in questions], K, settings=settings))]
        off = engine.ask_many([q.question for q in offtopic], K, settings=settings) if offtopic else []
        threshold = _threshold([o.confidence for o in labelled])
        kept = [o for o in labelled if o.confidence >= threshold]
        trials.append(
            Trial(
                dense_weight=weight,
                min_confidence=threshold,
                answer_hit_at_1=_share(o.hit and o.confidence >= threshold for o in labelled),
                recall_at_1=_share(o.rank == 1 for o in labelled),
                recall_at_3=_share(o.rank is not None and o.rank <= 3 for o in labelled),
                answered_rate=len(kept) / len(labelled),
                offtopic_abstention_rate=_share(a.confidence < threshold for a in off) if off else None,
            )
        )
    return sorted(trials, key=lambda t: (-t.answer_hit_at_1, -t.recall_at_1, abs(t.dense_weight - 0.5)))


def _threshold(confidences: Sequence[float]) -> float:
    """The highest cut (to 0.01) that still answers ANSWERED_FLOOR of the labelled questions."""
    cut = float(np.quantile(np.asarray(confidences), 1.0 - ANSWERED_FLOOR, method="lower"))
    return float(np.floor(cut * 100) / 100)


# -- printing ----------------------------------------------------------------------------------


def report_table(r: Report) -> str:
    rows = [
        ("questions", f"{r.questions:,}"),
        ("answer hit@1", f"{r.answer_hit_at_1:.3f}"),
        ("passage recall@1", f"{r.recall_at_1:.3f}"),
        ("passage recall@3", f"{r.recall_at_3:.3f}"),
        ("passage recall@10", f"{r.recall_at_10:.3f}"),
        ("MRR@10", f"{r.mrr:.3f}"),
        ("answered", f"{r.answered_rate:.3f}"),
        ("mean answer chars", f"{r.mean_answer_chars:.0f}"),
    ]
    if r.offtopic_abstention_rate is not None:
        rows.append((f"off-topic abstained ({r.offtopic_questions:,})", f"{r.offtopic_abstention_rate:.3f}"))
    rows += [
        ("p50 s/question", f"{r.p50_seconds:.4f}"),
        ("p95 s/question", f"{r.p95_seconds:.4f}"),
        ("index build s", "reused" if r.build_seconds is None else f"{r.build_seconds:.1f}"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value:>8}" for name, value in rows]
    return "\n".join(lines) + misses_text(r)


def misses_text(r: Report) -> str:
    """The listed misses and answered off-topic questions ('' when none were asked for)."""
    lines = _miss_lines("misses", r.misses) + _miss_lines("off-topic answered", r.offtopic_answered)
    return "\n" + "\n".join(lines) if lines else ""


def _miss_lines(label: str, misses: Sequence[Miss]) -> list[str]:
    if not misses:
        return []
    lines = ["", f"{label}:"]
    for m in misses:
        lines.append(f"- Q: {m.question.strip()}")
        if m.gold:
            where = f"passage {m.gold_passage_rank}" if m.gold_passage_rank else "not in top 10"
            lines.append(f"  gold: {' | '.join(m.gold)}  ({where})")
        lines.append(f"  answered: {m.answer if m.answer is not None else '(abstained)'}")
    return lines


def tune_table(trials: Sequence[Trial]) -> str:
    head = f"{'dense_weight':>12} {'min_confidence':>14} {'hit@1':>6} {'R@1':>6} {'R@3':>6} {'answered':>8} {'off-topic abstained':>19}"
    lines = [head]
    for t in trials:
        off = "-" if t.offtopic_abstention_rate is None else f"{t.offtopic_abstention_rate:.3f}"
        lines.append(
            f"{t.dense_weight:>12.2f} {t.min_confidence:>14.2f} {t.answer_hit_at_1:>6.3f} {t.recall_at_1:>6.3f} "
            f"{t.recall_at_3:>6.3f} {t.answered_rate:>8.3f} {off:>19}"
        )
    best = trials[0]
    lines += ["", f"best: ASKBOT_DENSE_WEIGHT={best.dense_weight:g} ASKBOT_MIN_CONFIDENCE={best.min_confidence:g} (not written anywhere)"]
    return "\n".join(lines)


def sets_table(results: Sequence[SetResult]) -> str:
    """One row per set: the figures the issue's target table holds."""
    width = max(len("set"), *(len(r.name) for r in results))
    head = f"{'set':<{width}} {'questions':>9} {'hit@1':>6} {'R@1':>6} {'R@3':>6} {'R@10':>6} {'answered':>8} {'declined':>8}  off-topic from"
    lines = [head]
    for r in results:
        m = r.report
        declined = "-" if m.offtopic_abstention_rate is None else f"{m.offtopic_abstention_rate:.3f}"
        source = f"{r.offtopic_from} ({m.offtopic_questions:,})" if r.offtopic_from else "-"
        lines.append(
            f"{r.name:<{width}} {m.questions:>9,} {m.answer_hit_at_1:>6.3f} {m.recall_at_1:>6.3f} {m.recall_at_3:>6.3f} "
            f"{m.recall_at_10:>6.3f} {m.answered_rate:>8.3f} {declined:>8}  {source}"
        )
    return "\n".join(lines)


def reliability_table(results: Sequence[SetResult]) -> str:
    """Confidence tenth -> per set: labelled questions in it, share of them right, off-topic ones."""
    names = [r.name for r in results]
    cell = max(19, *(len(n) + 1 for n in names))
    head = f"{'confidence':<10}" + "".join(f"{n:>{cell}}" for n in names)
    sub = f"{'':<10}" + "".join(f"{'n':>{cell - 12}}{'right':>6}{'off':>6}" for _ in names)
    lines = [head, sub]
    for row in zip(*(r.report.reliability for r in results)):
        label = f"{row[0].low:.1f}-{row[0].high:.1f}"
        cells = "".join(f"{b.questions:>{cell - 12},}{'-' if b.right is None else f'{b.right:.2f}':>6}{b.offtopic:>6,}" for b in row)
        lines.append(f"{label:<10}{cells}")
    lines.append(f"{'ECE':<10}" + "".join(f"{r.report.calibration_error:>{cell}.3f}" for r in results))
    return "\n".join(lines)


# -- the engine to evaluate --------------------------------------------------------------------


@contextmanager
def evaluation_engine(settings, fresh: bool, notify: Callable[[str], None]) -> Iterator[tuple[object, float | None]]:
    """An engine over settings.docs_dir and the seconds its index took to build.

    fresh: build into a temporary folder that is removed afterwards (the user's index is not
    touched and the build time is always measured); otherwise bring settings.index_dir up to date.
    """
    from .engine import Engine, build_index

    with ExitStack() as stack:
        if fresh:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="askbot-eval-"))
            settings = settings.with_overrides(index_dir=Path(folder))
            if settings.database_url:  # a collection of its own, removed after: never the user's
                from .postgres_index import drop_collection

                settings = replace(settings, collection=f"eval-{secrets.token_hex(6)}")
                stack.callback(drop_collection, settings)
        built = build_index(settings, notify)
        engine = Engine.open(settings, auto_build=False, notify=notify)
        stack.callback(engine.close)
        yield engine, (built.seconds if built.wrote else None)

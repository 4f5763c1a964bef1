"""Fit the answer model (src/askbot/data/answer-model.json) on the dev sets, and say how well it
carries over: `make fit` or

    python benchmarks/fit_answers.py [--eval ../shared/eval] [--indexes data/eval] [--check]

1. Gathers, once per index build, what answer selection sees for each dev question (squad-dev,
   news-dev, papers-dev, each indexed alone in INDEXES/NAME, built when missing) and for its
   off-topic questions (the previous set's, as `askbot eval --offtopic-from previous` asks
   them), and caches it in INDEXES/fit-cache (a few MB; seconds to re-read).
2. Fits the ranker (softmax over each question's candidate sentences; a sentence is right when
   it holds a gold string), the join logistic (is the neighbour needed for the gold string?)
   and the confidence logistic (is the final answer right? off-topic questions never are),
   every set weighing the same, and picks one threshold: the one whose worst set, taking the
   smaller of its answered and off-topic-declined shares, is best.
3. Reports, on the same answers `askbot eval` gives: the fit on all three sets, each set held
   out whole (fitted on the other two: leave-one-domain-out), and documents held out (two folds
   by document within every set).
4. Writes the model and puts its SHA-256 into answer_model.py (not with --check).
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from askbot import answer_model, cues, evidence  # noqa: E402
from askbot.answer import MAX_ANSWER_CHARS, _cut, needed_neighbour, passage_order  # noqa: E402
from askbot.answer_model import AnswerModel, Linear  # noqa: E402
from askbot.evaluation import K, holds, load_questions  # noqa: E402

SETS = ("squad-dev", "news-dev", "papers-dev")
OFFTOPIC_FROM = {"squad-dev": "papers-dev", "news-dev": "squad-dev", "papers-dev": "news-dev"}  # the pairs
L2 = 1.0  # ridge on the standardised weights, per set's worth of questions
THRESHOLDS = np.round(np.arange(0.02, 0.61, 0.01), 2)


# -- gathering -------------------------------------------------------------------------------


@dataclass
class Gathered:
    """One set's questions (labelled, then off-topic) flattened: candidate rows with labels."""

    features: np.ndarray  # (rows, features)
    starts: np.ndarray  # (questions + 1,) where each question's rows begin
    right: np.ndarray  # the sentence alone (cut to the answer limit) holds a gold string
    with_previous: np.ndarray  # joined with the sentence before, a gold string is inside
    with_next: np.ndarray
    passage_rank: np.ndarray
    index: np.ndarray
    previous: np.ndarray  # per-question candidate numbers, as in evidence.Candidates
    next: np.ndarray
    lengths: np.ndarray
    points_back: np.ndarray
    passage_share: np.ndarray
    passage_coverage: np.ndarray
    passage_named_share: np.ndarray
    same: np.ndarray
    terms: np.ndarray  # per question
    names: np.ndarray
    top_dense: np.ndarray
    passage_gold: np.ndarray  # (questions, K): passage r holds a gold string
    offtopic: np.ndarray  # per question: an off-topic question
    document: np.ndarray  # per question: the document (title) it was written about

    def question(self, q: int) -> evidence.Candidates:
        rows = slice(self.starts[q], self.starts[q + 1])
        return evidence.Candidates(
            self.features[rows], self.passage_rank[rows], self.index[rows], self.previous[rows], self.next[rows],
            self.lengths[rows], self.points_back[rows], self.passage_share[rows], self.passage_coverage[rows],
            self.passage_named_share[rows], self.same[rows], int(self.terms[q]), int(self.names[q]),
            float(self.top_dense[q]),
        )

    def __len__(self) -> int:
        return len(self.starts) - 1


def gather(name: str, eval_root: Path, indexes: Path) -> Gathered:
    from askbot import evaluation as ev
    from askbot.settings import Settings

    settings = Settings(docs_dir=eval_root / name / "docs", index_dir=indexes / name)
    with ev.evaluation_engine(settings, fresh=False, notify=lambda m: print(f"{name}: {m}", file=sys.stderr)) as (engine, _):
        labelled = load_questions(eval_root / name / "questions.jsonl")
        offtopic = load_questions(eval_root / OFFTOPIC_FROM[name] / "questions.jsonl", labelled=False)
        titles = [json.loads(line).get("title", "") for line in (eval_root / name / "questions.jsonl").read_text().splitlines() if line.strip()]
        asked = [q.question for q in labelled + offtopic]
        # The cache holds what these questions found with this code on this index build.
        gathered_by = inspect.getsource(evidence) + inspect.getsource(cues) + json.dumps([asked, [q.answers for q in labelled], titles])
        key = hashlib.sha256((engine._index.identity + gathered_by).encode()).hexdigest()[:16]
        cache = indexes / "fit-cache" / f"{name}-{key}.npz"
        if cache.exists():
            return Gathered(**dict(np.load(cache)))
        started = time.perf_counter()
        found = [f for i in range(0, len(asked), 256) for f in engine.evidence(asked[i : i + 256], K)]
        print(f"{name}: {len(found)} questions gathered in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    golds = [q.answers for q in labelled] + [()] * len(offtopic)
    gathered = _flatten(found, golds, titles + [""] * len(offtopic), len(labelled))
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, **gathered.__dict__)
    return gathered


def _flatten(found, golds, titles, labelled: int) -> Gathered:
    columns = {name: [] for name in ("right", "with_previous", "with_next")}
    for item, gold in zip(found, golds):
        c, texts = item.candidates, item.sentences
        single = [holds(t[: _cut(t, 0, len(t))[1]], gold) for t in texts]
        columns["right"] += single
        for key, other in (("with_previous", c.previous), ("with_next", c.next)):
            for i, o in enumerate(other):
                joined = " ".join((texts[o], texts[i]) if key == "with_previous" else (texts[i], texts[o])) if o >= 0 else ""
                columns[key].append(bool(o >= 0 and len(joined) <= MAX_ANSWER_CHARS and holds(joined, gold)) or single[i])
    cands = [f.candidates for f in found]
    return Gathered(
        features=np.concatenate([c.features for c in cands]),
        starts=np.concatenate([[0], np.cumsum([len(c) for c in cands])]),
        **{k: np.array(v, dtype=bool) for k, v in columns.items()},
        **{k: np.concatenate([getattr(c, k) for c in cands]) for k in ("passage_rank", "index", "previous", "next", "lengths", "points_back", "passage_share", "passage_coverage", "passage_named_share", "same")},
        terms=np.array([c.terms for c in cands]),
        names=np.array([c.names for c in cands]),
        top_dense=np.array([c.top_dense for c in cands]),
        passage_gold=np.array([[holds(p, g) for p in f.passages] + [False] * (K - len(f.passages)) for f, g in zip(found, golds)]),
        offtopic=np.arange(len(found)) >= labelled,
        document=np.array(titles),
    )


# -- fitting ---------------------------------------------------------------------------------


def _standardise(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, scale = rows.mean(axis=0), rows.std(axis=0)
    constant = scale < 1e-9
    return np.where(constant, 0.0, mean), np.where(constant, 1.0, scale)


def fit_ranker(parts: list[tuple[Gathered, np.ndarray]]) -> Linear:
    """Softmax over each question's candidates, maximising the weight on its right ones;
    questions with no right candidate teach nothing and are left out. parts: (set, questions)."""
    xs, groups, positives, weights = [], [], [], []
    for g, questions in parts:
        kept = [q for q in questions if not g.offtopic[q] and g.right[g.starts[q] : g.starts[q + 1]].any()]
        for q in kept:
            rows = slice(g.starts[q], g.starts[q + 1])
            xs.append(g.features[rows])
            positives.append(g.right[rows])
            groups.append(len(xs[-1]))
            weights.append(1.0 / len(kept))  # every set weighs the same
    x = np.concatenate(xs)
    mean, scale = _standardise(x)
    z = (x - mean) / scale
    pos = np.concatenate(positives)
    starts = np.concatenate([[0], np.cumsum(groups)[:-1]])
    w_q = np.array(weights) / sum(weights) * len(parts)
    owner = np.repeat(np.arange(len(groups)), groups)

    def loss(w):
        s = z @ w
        top = np.maximum.reduceat(s, starts)
        e = np.exp(s - top[owner])
        all_sum = np.add.reduceat(e, starts)
        pos_sum = np.add.reduceat(e * pos, starts)
        value = -(w_q * (np.log(pos_sum) - np.log(all_sum))).sum() + L2 * 1e-3 * w @ w
        p_all, p_pos = e / all_sum[owner], e * pos / pos_sum[owner]
        grad = -((w_q[owner] * (p_pos - p_all))[:, None] * z).sum(axis=0) + 2 * L2 * 1e-3 * w
        return value, grad

    w = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x
    return Linear(evidence.SENTENCE_FEATURES, mean, scale, w)


def fit_logistic(rows: np.ndarray, labels: np.ndarray, weights: np.ndarray, names: tuple[str, ...]) -> Linear:
    mean, scale = _standardise(rows)
    bias = names.index("bias")
    mean[bias], scale[bias] = 0.0, 1.0
    z = (rows - mean) / scale
    w_s = weights / weights.sum()
    ridge = np.full(z.shape[1], L2 * 1e-3)
    ridge[bias] = 0.0

    def loss(w):
        s = z @ w
        p = 1.0 / (1.0 + np.exp(-s))
        value = -(w_s * (labels * np.log(p + 1e-12) + (1 - labels) * np.log(1 - p + 1e-12))).sum() + ridge @ (w * w)
        return value, z.T @ (w_s * (p - labels)) + 2 * ridge * w

    w = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x
    return Linear(names, mean, scale, w)


def _choices(g: Gathered, questions: np.ndarray, ranker: Linear):
    """(question, candidates, scores, chosen) for each question, by the ranker."""
    for q in questions:
        c = g.question(q)
        scores = ranker.score(c.features)
        yield q, c, scores, int(np.argmax(scores))


def fit_join(parts: list[tuple[Gathered, np.ndarray]], ranker: Linear) -> Linear:
    """Label: the neighbour rescues the answer (the pair holds a gold string, the chosen
    sentence alone does not). Every neighbour of every chosen sentence is an example."""
    rows, labels, weights = [], [], []
    for g, questions in parts:
        start = len(rows)
        for q, c, scores, chosen in _choices(g, questions[~g.offtopic[questions]], ranker):
            base = g.starts[q]
            for neighbour, together in ((c.previous[chosen], g.with_previous[base + chosen]), (c.next[chosen], g.with_next[base + chosen])):
                if neighbour >= 0:
                    rows.append(evidence.join_row(c, chosen, int(neighbour), scores))
                    labels.append(float(together and not g.right[base + chosen]))
        weights += [1.0 / max(len(rows) - start, 1)] * (len(rows) - start)
    return fit_logistic(np.array(rows), np.array(labels), np.array(weights), evidence.JOIN_FEATURES)


@dataclass
class Outcome:
    """Per question, what the model answers: right or not, its confidence row, its passages' gold."""

    right: np.ndarray
    rows: np.ndarray
    chars: np.ndarray
    recall1: np.ndarray
    recall3: np.ndarray
    offtopic: np.ndarray


def answer_all(g: Gathered, questions: np.ndarray, ranker: Linear, join: Linear) -> Outcome:
    right, rows, chars, r1, r3 = [], [], [], [], []
    for q, c, scores, chosen in _choices(g, questions, ranker):
        base = g.starts[q]
        rows.append(evidence.confidence_row(c, chosen, answer_model.choice_probability(c, scores, chosen)))
        neighbour = needed_neighbour(c, chosen)
        neighbour = answer_model.joining_neighbour(c, chosen, scores, join) if neighbour is None else neighbour
        joined = neighbour is not None and c.lengths[chosen] + c.lengths[neighbour] + 1 <= MAX_ANSWER_CHARS
        if not joined:
            right.append(g.right[base + chosen])
            chars.append(min(c.lengths[chosen], MAX_ANSWER_CHARS))
        else:
            right.append((g.with_previous if neighbour == c.previous[chosen] else g.with_next)[base + chosen])
            chars.append(c.lengths[chosen] + c.lengths[neighbour] + 1)
        order = passage_order(c, chosen, scores, K)
        r1.append(g.passage_gold[q, order[0]])
        r3.append(g.passage_gold[q, order[:3]].any())
    return Outcome(np.array(right), np.array(rows), np.array(chars), np.array(r1), np.array(r3), g.offtopic[questions])


def fit_confidence(outcomes: list[Outcome]) -> tuple[Linear, Linear, float]:
    """(on_topic, right, full_match_on_topic): labelled against off-topic questions, right against
    wrong among the labelled, and the on-topic share of the questions whose passage held all their
    terms; every set weighing the same, its off-topic questions as much as its labelled."""
    rows = np.concatenate([o.rows for o in outcomes])
    off = np.concatenate([o.offtopic for o in outcomes])
    right = np.concatenate([o.right for o in outcomes])
    weights = np.concatenate([np.where(o.offtopic, 1.0 / max(o.offtopic.sum(), 1), 1.0 / max((~o.offtopic).sum(), 1)) for o in outcomes])
    on_topic = fit_logistic(rows, (~off).astype(float), weights, evidence.CONFIDENCE_FEATURES)
    correct = fit_logistic(rows[~off], right[~off].astype(float), weights[~off], evidence.CONFIDENCE_FEATURES)
    full = rows[:, evidence.CONFIDENCE_FEATURES.index("full_match")] > 0
    full_match_on_topic = float(weights[full & ~off].sum() / weights[full].sum()) if full.any() else 0.0
    return on_topic, correct, full_match_on_topic


def fit(parts: list[tuple[Gathered, np.ndarray]]) -> tuple[AnswerModel, float]:
    ranker = fit_ranker(parts)
    join = fit_join(parts, ranker)
    outcomes = [answer_all(g, qs, ranker, join) for g, qs in parts]
    model = AnswerModel(ranker, join, *fit_confidence(outcomes))
    return model, choose_threshold([score(o, model, None) for o in outcomes])


# -- scoring ---------------------------------------------------------------------------------


@dataclass
class Scores:
    confidence: np.ndarray
    right: np.ndarray
    chars: np.ndarray
    recall1: np.ndarray
    recall3: np.ndarray
    offtopic: np.ndarray
    threshold: float | None

    def row(self, threshold: float) -> dict:
        on, off = ~self.offtopic, self.offtopic
        answered = self.confidence[on] >= threshold
        return {
            "hit@1": float((self.right[on] & answered).mean()),
            "right": float(self.right[on].mean()),
            "R@1": float(self.recall1[on].mean()),
            "R@3": float(self.recall3[on].mean()),
            "answered": float(answered.mean()),
            "declined": float((self.confidence[off] < threshold).mean()) if off.any() else float("nan"),
            "ECE": ece(self.confidence[on], self.right[on]),
            "chars": float(self.chars[on].mean()),
        }


def score(o: Outcome, model: AnswerModel, threshold: float | None) -> Scores:
    return Scores(model.confidence(o.rows), o.right, o.chars, o.recall1, o.recall3, o.offtopic, threshold)


def ece(confidence: np.ndarray, right: np.ndarray) -> float:
    tenth = np.minimum((confidence * 10).astype(int), 9)
    return float(sum(abs(confidence[tenth == b].mean() - right[tenth == b].mean()) * (tenth == b).sum() for b in np.unique(tenth)) / len(right))


def choose_threshold(scores: list[Scores]) -> float:
    """The threshold whose worst set (the smaller of answered and declined) is best."""
    worst = [min(min(s.row(t)["answered"], s.row(t)["declined"]) for s in scores) for t in THRESHOLDS]
    return float(THRESHOLDS[int(np.argmax(worst))])


def reliability(s: Scores) -> list[tuple[int, float]]:
    on = ~s.offtopic
    tenth = np.minimum((s.confidence[on] * 10).astype(int), 9)
    return [(int((tenth == b).sum()), float(s.right[on][tenth == b].mean()) if (tenth == b).any() else float("nan")) for b in range(10)]


# -- the report ------------------------------------------------------------------------------


def table(title: str, rows: dict[str, dict]) -> str:
    keys = ("hit@1", "right", "R@1", "R@3", "answered", "declined", "ECE", "chars")
    lines = [f"\n{title}", f"| set | {' | '.join(keys)} |", "|---" * (len(keys) + 1) + "|"]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[k]:.0f}" if k == "chars" else f"{row[k]:.3f}" for k in keys) + " |")
    return "\n".join(lines)


def document_folds(g: Gathered) -> list[np.ndarray]:
    """Two folds of a set's questions by document (off-topic questions split alike by position)."""
    on = np.flatnonzero(~g.offtopic)
    off = np.flatnonzero(g.offtopic)
    fold = np.array([int(hashlib.sha1(d.encode()).hexdigest(), 16) % 2 for d in g.document[on]])
    return [np.concatenate([on[fold == f], off[f::2]]) for f in (0, 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval", type=Path, default=REPO.parent / "shared" / "eval")
    parser.add_argument("--indexes", type=Path, default=REPO / "data" / "eval")
    parser.add_argument("--check", action="store_true", help="report only; write nothing")
    args = parser.parse_args()
    started = time.perf_counter()
    data = {name: gather(name, args.eval, args.indexes) for name in SETS}
    everything = {name: np.arange(len(g)) for name, g in data.items()}

    model, threshold = fit([(data[n], everything[n]) for n in SETS])
    report = [f"threshold (one, every set): {threshold:.2f}; on-topic share of full matches: {model.full_match_on_topic:.3f}"]
    in_sample = {}
    for n in SETS:
        s = score(answer_all(data[n], everything[n], model.ranker, model.join), model, threshold)
        in_sample[n] = s
    report.append(table("fitted on all three", {n: s.row(threshold) for n, s in in_sample.items()}))

    held_out = {}
    for n in SETS:
        others = [(data[m], everything[m]) for m in SETS if m != n]
        lodo, t = fit(others)
        held_out[f"{n} (fitted on the other two, threshold {t:.2f})"] = score(answer_all(data[n], everything[n], lodo.ranker, lodo.join), lodo, t).row(t)
    report.append(table("leave one set out: fitted on the other two, scored on it", held_out))

    folds = {n: document_folds(data[n]) for n in SETS}
    by_document = {}
    for n in SETS:
        parts = []
        for f in (0, 1):
            fitted, t = fit([(data[m], folds[m][1 - f]) for m in SETS])
            parts.append(score(answer_all(data[n], folds[n][f], fitted.ranker, fitted.join), fitted, threshold))
        merged = Scores(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("confidence", "right", "chars", "recall1", "recall3", "offtopic")), threshold)
        by_document[n] = merged.row(threshold)
    report.append(table("documents held out: two folds by document, each scored by the fit on the other", by_document))

    report.append("\nreliability (fitted on all three): tenth of confidence -> labelled questions, share right")
    report.append("| confidence | " + " | ".join(SETS) + " |\n|---" * 1 + "|---" * len(SETS) + "|")
    for b, cells in enumerate(zip(*(reliability(in_sample[n]) for n in SETS))):
        report.append(f"| {b / 10:.1f}-{(b + 1) / 10:.1f} | " + " | ".join(f"{k} / {r:.2f}" if k else "0 / -" for k, r in cells) + " |")
    print("\n".join(report))
    print(f"\n({time.perf_counter() - started:.0f} s)")
    if not args.check:
        write(model, {n: int((~data[n].offtopic).sum()) for n in SETS}, threshold)


def write(model: AnswerModel, questions: dict[str, int], threshold: float) -> None:
    text = json.dumps(model.to_dict({"sets": questions, "threshold": threshold, "script": "benchmarks/fit_answers.py"}), indent=1) + "\n"
    answer_model.MODEL_FILE.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()
    source = Path(answer_model.__file__)
    source.write_text(re.sub(r'MODEL_SHA256 = "[0-9a-f]{64}"', f'MODEL_SHA256 = "{digest}"', source.read_text()))
    print(f"wrote {answer_model.MODEL_FILE} ({len(text):,} bytes, SHA-256 {digest[:12]}…)")
    from askbot.settings import Settings

    if Settings().min_confidence != threshold:
        print(f"the threshold moved: set min_confidence = {threshold} in src/askbot/settings.py, .env.example and README.md")


if __name__ == "__main__":
    main()

"""What the documents are missing: a report over the questions asked through Discord.

    askbot report --collection acme --since 30 [--json]      (and /askbot report in Discord)

Per day: questions and the share answered. The questions declined most often, near-duplicates
grouped by their vectors (cosine ≥ NEAR_DUPLICATE, from the engine's own encoder). The answers
voted 👎. The sources used most. This is the list an admin turns into new documentation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from .feedback import Feedback, Tally
from .questionlog import LoggedQuestion, QuestionLog, retention_cutoff

NEAR_DUPLICATE = 0.8  # cosine between two questions' vectors that makes them one group
TOP = 10  # rows shown per list

Encode = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Day:
    day: str  # YYYY-MM-DD (UTC)
    questions: int
    answered: int

    @property
    def answered_share(self) -> float:
        return self.answered / self.questions if self.questions else 0.0


@dataclass(frozen=True)
class DeclinedGroup:
    question: str  # the phrasing asked most often
    count: int
    variants: tuple[str, ...]  # the other phrasings grouped with it


@dataclass(frozen=True)
class DownVoted:
    question: str
    top_source: str | None
    up: int
    down: int


@dataclass(frozen=True)
class SourceUse:
    source: str
    answers: int


@dataclass(frozen=True)
class Report:
    collection: str | None
    since_days: int
    questions: int
    days: tuple[Day, ...]
    declined: tuple[DeclinedGroup, ...]
    down_voted: tuple[DownVoted, ...]
    sources: tuple[SourceUse, ...]

    def to_dict(self) -> dict:
        data = asdict(self)
        for day, record in zip(self.days, data["days"]):
            record["answered_share"] = round(day.answered_share, 4)
        return data


def gather(log: QuestionLog, feedback: Feedback | None, since_days: int, collection: str | None,
           encode: Encode | None, guild_id: int | None = None) -> Report:  # fmt: skip
    """The report from the stores: the logged questions of the period (of one collection and
    one server, when given) and their votes."""
    logged = log.questions(retention_cutoff(since_days), collection, guild_id)
    tallies = feedback.tallies([q.answer_id for q in logged if q.answer_id]) if feedback is not None else {}
    return build_report(logged, tallies, encode, since_days, collection)


def build_report(logged: list[LoggedQuestion], tallies: dict[str, Tally], encode: Encode | None,
                 since_days: int, collection: str | None) -> Report:  # fmt: skip
    """The report over `logged` (already limited to the period and collection).

    encode: the collection's question encoder, to group near-duplicate declined questions;
    None groups only identical ones (case and spacing aside).
    """
    return Report(
        collection=collection,
        since_days=since_days,
        questions=len(logged),
        days=_per_day(logged),
        declined=_declined(logged, encode),
        down_voted=_down_voted(logged, tallies),
        sources=tuple(SourceUse(s, n) for s, n in Counter(q.top_source for q in logged if q.answered and q.top_source).most_common(TOP)),
    )


def _per_day(logged: list[LoggedQuestion]) -> tuple[Day, ...]:
    asked, answered = Counter(), Counter()
    for q in logged:
        asked[q.asked_at[:10]] += 1
        answered[q.asked_at[:10]] += q.answered
    return tuple(Day(day, asked[day], answered[day]) for day in sorted(asked))


def _declined(logged: list[LoggedQuestion], encode: Encode | None) -> tuple[DeclinedGroup, ...]:
    phrasings = Counter(" ".join(q.question.split()) for q in logged if not q.answered)
    groups = group_near_duplicates(list(phrasings), encode)
    ranked = []
    for group in groups:
        by_count = sorted(group, key=lambda text: (-phrasings[text], text))
        ranked.append(DeclinedGroup(by_count[0], sum(phrasings[t] for t in group), tuple(by_count[1:])))
    ranked.sort(key=lambda g: (-g.count, g.question))
    return tuple(ranked[:TOP])


def group_near_duplicates(texts: list[str], encode: Encode | None, threshold: float = NEAR_DUPLICATE) -> list[list[str]]:
    """Texts grouped greedily: each joins the first group whose first text is within
    `threshold` cosine of it (unit vectors), else starts a group."""
    if not texts:
        return []
    if encode is None or len(texts) == 1:  # one text needs no encoder (nor an index to load)
        keyed: dict[str, list[str]] = {}
        for text in texts:
            keyed.setdefault(text.casefold(), []).append(text)
        return list(keyed.values())
    vectors = np.asarray(encode(texts), dtype=np.float32)
    leaders: list[int] = []
    groups: list[list[str]] = []
    for i, text in enumerate(texts):
        scores = vectors[leaders] @ vectors[i] if leaders else np.empty(0)
        best = int(np.argmax(scores)) if len(scores) else -1
        if best >= 0 and scores[best] >= threshold:
            groups[best].append(text)
        else:
            leaders.append(i)
            groups.append([text])
    return groups


def _down_voted(logged: list[LoggedQuestion], tallies: dict[str, Tally]) -> tuple[DownVoted, ...]:
    voted = [(q, tallies[q.answer_id]) for q in logged if q.answer_id in tallies and tallies[q.answer_id].down]
    voted.sort(key=lambda pair: (-pair[1].down, pair[1].up, pair[0].asked_at))
    return tuple(DownVoted(q.question, q.top_source, t.up, t.down) for q, t in voted[:TOP])


def report_text(report: Report) -> str:
    """The report as plain text (Discord markdown renders it as well)."""
    scope = f"collection {report.collection}" if report.collection else "all collections"
    answered = sum(d.answered for d in report.days)
    lines = [f"Questions asked through Discord, last {report.since_days} days, {scope}: "
             f"{report.questions}, answered {_share(answered, report.questions)}"]
    if not report.questions:
        return lines[0]
    lines += ["", "Per day (questions, answered):"]
    lines += [f"  {d.day}  {d.questions:>5}  {_share(d.answered, d.questions)}" for d in report.days]
    lines += ["", "Declined most often (what the documents are missing):"]
    lines += [f"  {g.count:>4} × {g.question}" + (f"  (also: {'; '.join(g.variants)})" if g.variants else "")
              for g in report.declined] or ["  none"]
    lines += ["", "Answers voted 👎:"]
    lines += [f"  👎 {a.down} 👍 {a.up}  {a.question}  [{a.top_source}]" for a in report.down_voted] or ["  none"]
    lines += ["", "Sources used most:"]
    lines += [f"  {s.answers:>4} × {s.source}" for s in report.sources] or ["  none"]
    return "\n".join(lines)


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"

"""Dialogues evaluation: answer hit@1 on first turns and on follow-ups, with chat on and off.

A dialogues file has one JSON object per line (the format of dialogs-dev):

    {"id": "...", "source": "wikipedia", "turns": [{"question": "...", "answers": ["gold", ...]}, ...]}

Each dialogue is asked as one conversation (`engine.conversation()`, what `askbot ask --chat`
does between blank lines) and, for comparison, each of its questions alone (`askbot ask`).
A turn with no gold answer is still asked (the conversation needs it) but not scored. Turn 0 is
a first turn; every later turn is a follow-up. hit@1 is evaluation.holds on the answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .evaluation import Progress, holds, no_progress

MODES = ("chat", "alone")


@dataclass(frozen=True)
class DialogTurn:
    question: str
    answers: tuple[str, ...]  # empty: asked but not scored


@dataclass(frozen=True)
class Dialog:
    id: str
    source: str  # the kind of text ("wikipedia", "cnn", ...): results are broken down by it
    document: str  # the file the dialogue is about, relative to the docs folder ("" if not given)
    turns: tuple[DialogTurn, ...]


@dataclass(frozen=True)
class TurnOutcome:
    dialog: Dialog
    index: int  # 0: the first turn
    mode: str  # "chat" or "alone"
    answer: str | None
    query: str | None  # the standalone rewrite searched, when there was one
    confidence: float
    answered_from: str | None  # the document of the answer's passage
    hit: bool


@dataclass(frozen=True)
class Cell:
    hits: int
    turns: int

    @property
    def rate(self) -> float:
        return self.hits / self.turns if self.turns else 0.0


def load_dialogs(path: Path) -> list[Dialog]:
    """Parse a dialogues file; one clear UsageError naming the line on bad input."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    dialogs = [_parse(line, f"{path}:{n}") for n, line in enumerate(lines, 1) if line.strip()]
    if not dialogs:
        raise UsageError(f"{path} holds no dialogues")
    return dialogs


def _parse(line: str, where: str) -> Dialog:
    try:
        record = json.loads(line)
    except ValueError:
        raise UsageError(f"{where}: not a JSON object") from None
    turns = record.get("turns") if isinstance(record, dict) else None
    if not isinstance(turns, list) or not turns:
        raise UsageError(f'{where}: needs a non-empty "turns" list')
    parsed = []
    for turn in turns:
        question = turn.get("question") if isinstance(turn, dict) else None
        answers = turn.get("answers", []) if isinstance(turn, dict) else None
        if not isinstance(question, str) or not question.strip():
            raise UsageError(f'{where}: every turn needs a non-empty "question" string')
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise UsageError(f'{where}: "answers" must be a list of strings')
        parsed.append(DialogTurn(question, tuple(a for a in answers if a.strip())))
    return Dialog(str(record.get("id", where)), str(record.get("source", "")), str(record.get("doc", "")), tuple(parsed))


def run(engine, dialogs: Sequence[Dialog], progress: Progress = no_progress) -> list[TurnOutcome]:
    """Every scored turn of every dialogue, asked in one conversation and alone."""
    outcomes = []
    for dialog in progress(dialogs):
        chat = engine.conversation()
        for i, turn in enumerate(dialog.turns):
            for mode, answer in (("chat", chat.ask(turn.question)), ("alone", engine.ask(turn.question))):
                if turn.answers:
                    hit = answer.answered and holds(answer.answer, turn.answers)
                    source = answer.passages[0].source if answer.passages else None
                    outcomes.append(TurnOutcome(dialog, i, mode, answer.answer if answer.answered else None,
                                                answer.query, answer.confidence, source, hit))  # fmt: skip
    return outcomes


def cells(outcomes: Iterable[TurnOutcome], by_source: bool = False) -> dict[tuple[str, str, str], Cell]:
    """hits per (source or "all", "first turns" / "follow-ups", mode)."""
    counts: dict[tuple[str, str, str], list[int]] = {}
    for o in outcomes:
        group = "follow-ups" if o.index else "first turns"
        for source in ("all", o.dialog.source) if by_source else ("all",):
            cell = counts.setdefault((source, group, o.mode), [0, 0])
            cell[0] += o.hit
            cell[1] += 1
    return {key: Cell(h, n) for key, (h, n) in counts.items()}


def table(outcomes: Sequence[TurnOutcome], by_source: bool = False) -> str:
    found = cells(outcomes, by_source)
    sources = sorted({s for s, _, _ in found}, key=lambda s: (s != "all", s))
    lines = ["| source | turns | first turns, chat | first turns, alone | follow-ups, chat | follow-ups, alone |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for source in sources:
        row = [found.get((source, group, mode), Cell(0, 0)) for group in ("first turns", "follow-ups") for mode in MODES]
        turns = row[0].turns + row[2].turns
        lines.append(f"| {source} | {turns} | " + " | ".join(f"{c.rate:.3f} ({c.hits}/{c.turns})" for c in row) + " |")
    return "\n".join(lines)


def to_dict(outcomes: Sequence[TurnOutcome]) -> dict:
    return {f"{source}/{group}/{mode}": {"hit_at_1": round(c.rate, 4), "hits": c.hits, "turns": c.turns}
            for (source, group, mode), c in cells(outcomes, by_source=True).items()}  # fmt: skip

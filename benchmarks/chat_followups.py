"""Follow-up answer hit@1 with and without chat mode, and proof that standalone answers hold.

    python benchmarks/chat_followups.py            # the dialogues (about 3 minutes)
    python benchmarks/chat_followups.py --squad    # every squad-dev question (slow: 2 × 2,332 asks)
    python benchmarks/chat_followups.py --squad --eval /work/shared/eval   # the eval sets elsewhere

1. The dialogues of tests/test_conversation.py, on the seed article alone and on the seed
   article among the SQuAD dev articles (distractors: "it" can no longer find the one phone
   article by luck). A follow-up hits when its answer holds the expected fact (or abstains
   when the fact is None). "without chat" asks each follow-up alone, as `askbot ask` does.
2. --squad: every squad-dev question asked in order in one conversation and alone
   (answer hit@1 = a gold answer inside `answer`), counting the answers that changed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EVAL = REPO.parent / "shared" / "eval"
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from askbot.engine import Engine  # noqa: E402
from askbot.settings import Settings  # noqa: E402
from test_conversation import DIALOGUES, hit  # noqa: E402


def open_engine(docs: Path, index: Path) -> Engine:
    return Engine.open(Settings(docs_dir=docs, index_dir=index), notify=lambda _: None)


def dialogue_hits(engine: Engine) -> dict[str, tuple[int, int]]:
    """hits and count per group: follow-ups with and without chat, and first turns."""
    counts = {"follow-ups, chat": [0, 0], "follow-ups, alone": [0, 0], "first turns, chat": [0, 0]}
    for turns in DIALOGUES.values():
        chat = engine.conversation()
        for i, (question, fact) in enumerate(turns):
            chatted = chat.ask(question)
            if i == 0:
                counts["first turns, chat"][0] += hit(chatted, fact) and chatted == engine.ask(question)
                counts["first turns, chat"][1] += 1
                continue
            for key, answer in (("follow-ups, chat", chatted), ("follow-ups, alone", engine.ask(question))):
                counts[key][0] += hit(answer, fact)
                counts[key][1] += 1
    return {k: (h, n) for k, (h, n) in counts.items()}


def squad_comparison(engine: Engine, squad: Path) -> dict[str, float]:
    rows = [json.loads(line) for line in (squad / "questions.jsonl").open()]
    chat = engine.conversation()
    alone_hits = chat_hits = changed = changed_answered = rewritten = gained = lost = 0
    for row in rows:
        alone, chatted = engine.ask(row["question"]), chat.ask(row["question"])
        gold = [a.lower() for a in row["answers"]]
        alone_hit = bool(alone.answer) and any(g in alone.answer.lower() for g in gold)
        chat_hit = bool(chatted.answer) and any(g in chatted.answer.lower() for g in gold)
        alone_hits += alone_hit
        chat_hits += chat_hit
        changed += chatted.answer != alone.answer
        changed_answered += alone.answered and chatted.answer != alone.answer
        gained += chat_hit and not alone_hit
        lost += alone_hit and not chat_hit
        rewritten += chatted.query is not None
    n = len(rows)
    return {
        "questions": n,
        "hit@1 alone": alone_hits / n,
        "hit@1 in one conversation": chat_hits / n,
        "questions rewritten": rewritten,
        "answers changed": changed,
        "of them answered alone": changed_answered,
        "right only in conversation": gained,
        "right only alone": lost,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", action="store_true", help="compare every squad-dev question instead")
    parser.add_argument("--eval", type=Path, default=EVAL, help=f"the folder holding squad-dev/ [default {EVAL}]")
    args = parser.parse_args()
    squad = args.eval / "squad-dev"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.squad:
            engine = open_engine(squad / "docs", work / "index-squad")
            print("## squad-dev, each question alone and in one conversation")
            for key, value in squad_comparison(engine, squad).items():
                print(f"{key:26} {value:.3f}" if isinstance(value, float) else f"{key:26} {value}")
            engine.close()
            return
        mixed = work / "mixed"
        shutil.copytree(REPO / "docs", mixed)
        shutil.copytree(squad / "docs", mixed / "squad")
        corpora = {"seed article": REPO / "docs", "seed + 10 squad-dev articles": mixed}
        for name, docs in corpora.items():
            start = time.perf_counter()
            engine = open_engine(docs, work / f"index-{len(name)}")
            print(f"\n## {name} (index ready in {time.perf_counter() - start:.0f} s)")
            for key, (h, n) in dialogue_hits(engine).items():
                print(f"{key:22} hit@1 {h}/{n} = {h / n:.3f}")
            engine.close()


if __name__ == "__main__":
    main()

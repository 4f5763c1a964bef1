"""Concurrency benchmark (issue 5, target 4): questions that arrive together, batched or not.

    python benchmarks/bench_concurrency.py [--docs DIR] [--questions FILE.jsonl] [--runs 5]

Builds a throwaway index of DIR (default: the seed article), then, for 1, 10 and 50 questions
arriving at once, measures the wall time until every one is answered, through the bot's path
(an event loop handing questions to one worker thread), two ways:
  sequential  batching off: the worker answers one question at a time, one encode each (the floor);
  batched     the worker answers every waiting question with one batched encode (Engine.ask_many).
The questions are all different (the article's ten, then squad-dev's, which it declines), so
nothing is shared but the batch itself. Prints throughput (questions/s, median of --runs) and the
speed-up, sequential time ÷ batched, then the same for the query encoder alone: what batching
can save at most, since the rest of a question's path is per question.
(Both run in the worker thread: torch called from the main thread with 2 OpenMP threads measured
15-30× slower here under load, which would flatter batching.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from askbot.batching import Batcher
from askbot.engine import Engine
from askbot.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SQUAD_QUESTIONS = REPO.parent / "shared" / "eval" / "squad-dev" / "questions.jsonl"
SEED_QUESTIONS = [
    "What chip powers the OnePlus 6?",
    "Who is the CEO of OnePlus?",
    "How much was ZTE fined?",
    "What phone did ZTE release with AT&T?",
    "How did OnePlus originally sell its phones?",
    "Why is the US government wary of Huawei?",
    "Which phone did Huawei want to launch in the US?",
    "When will the OnePlus 6 arrive?",
    "At which event did the OnePlus CEO speak?",
    "What is the capital of France?",
]
CONCURRENCY = (1, 10, 50)


def answer_all(engine: Engine, questions: list[str], max_batch: int) -> float:
    async def run() -> float:
        batcher = Batcher(engine.ask_many, max_batch=max_batch)
        start = time.perf_counter()
        await asyncio.gather(*(batcher.submit(q) for q in questions))
        elapsed = time.perf_counter() - start
        await batcher.close()
        return elapsed

    return asyncio.run(run())


def median_seconds(measure: Callable[[], float], runs: int) -> float:
    return statistics.median(measure() for _ in range(runs))


def load_questions(path: Path | None) -> list[str]:
    if path is None:
        return SEED_QUESTIONS + load_questions(SQUAD_QUESTIONS)[:: 40][: max(CONCURRENCY) - len(SEED_QUESTIONS)]
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)["question"] for line in f if line.strip()]


def encode_only(engine: Engine, questions: list[str], runs: int) -> tuple[float, float]:
    """Seconds to encode the questions one at a time and as one batch (the query encoder alone)."""
    encode = engine.encode
    one_by_one = median_seconds(lambda: timed(lambda: [encode([q]) for q in questions]), runs)
    together = median_seconds(lambda: timed(lambda: encode(questions)), runs)
    return one_by_one, together


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=REPO / "docs")
    parser.add_argument("--questions", type=Path, help="JSONL with a 'question' key per line")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    questions = load_questions(args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.open(Settings(docs_dir=args.docs, index_dir=Path(tmp) / "index"), notify=lambda _: None)
        engine.ask_many(questions[:8])  # load the model and warm every path before timing
        info = engine.info()
        print(f"concurrency benchmark: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}")
        print(f"index: {info.documents} documents, {info.chunks} chunks; median of {args.runs} runs\n")
        print(f"{'questions at once':>17} {'sequential q/s':>15} {'batched q/s':>12} {'speed-up':>10}")
        for n in CONCURRENCY:
            batch = questions[:n]
            floor = median_seconds(lambda: answer_all(engine, batch, max_batch=1), args.runs)
            batched = median_seconds(lambda: answer_all(engine, batch, max_batch=64), args.runs)
            print(f"{n:>17} {n / floor:>15.1f} {n / batched:>12.1f} {floor / batched:>9.2f}×")
            sys.stdout.flush()
        singles, together = encode_only(engine, questions[: max(CONCURRENCY)], args.runs)
        n = max(CONCURRENCY)
        print(f"\nencoder alone, {n} questions: {n / singles:.1f} q/s one by one, {n / together:.1f} q/s as one batch, {singles / together:.2f}×")
        engine.close()


if __name__ == "__main__":
    main()

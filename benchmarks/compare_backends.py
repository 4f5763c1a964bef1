"""Both index backends give the same answers: `askbot eval` on squad-dev through the folder index
and through PostgreSQL, question by question.

    python benchmarks/compare_backends.py [--questions FILE] [--docs DIR] [--database-url URL]

Without --database-url a pgserver (PostgreSQL 16 + pgvector) is started in a temporary folder.
Prints, and writes to benchmarks/results/compare_backends.txt: the share of questions whose top
passage (source and offsets) is the same, and answer hit@1 and recall@1 of each backend.
Issue 12's bar: the same top passage for ≥ 99% of questions, answer hit@1 within 0.005.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from askbot import evaluation as ev
from askbot.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SQUAD = Path(os.environ.get("ASKBOT_SQUAD_DEV", REPO.parent / "shared" / "eval" / "squad-dev"))
if not SQUAD.is_dir():
    SQUAD = Path("/work/shared/eval/squad-dev")
RESULTS = REPO / "benchmarks" / "results"


def start_pgserver() -> tuple[str, object, Path]:
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="askbot-bench-pg-"))
    folder.chmod(0o755)  # run as root, pgserver runs the server as its own user
    server = pgserver.get_server(folder, cleanup_mode="delete")
    return server.get_uri(), server, folder


def evaluate(settings: Settings, questions: list) -> tuple[list, float]:
    """(outcome, top passage, answer text) of each question, as `askbot eval` asks them, and the build time."""
    results = []
    label = "postgres" if settings.database_url else "folder"
    with ev.evaluation_engine(settings, fresh=True, notify=lambda _: None) as (engine, build_s):
        for q in ev.terminal_progress(label)(questions):
            answer = engine.ask(q.question, ev.K)
            top = answer.passages[0] if answer.passages else None
            results.append((ev.outcome(q, answer, 0.0), top and (top.source, top.start, top.end), answer.answer))
    return results, build_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=SQUAD / "questions.jsonl")
    parser.add_argument("--docs", type=Path, default=SQUAD / "docs")
    parser.add_argument("--database-url", default=os.environ.get("ASKBOT_TEST_DATABASE_URL", ""))
    args = parser.parse_args()
    server = folder = None
    url = args.database_url
    if not url:
        url, server, folder = start_pgserver()
    try:
        questions = ev.load_questions(args.questions)
        started = time.perf_counter()
        folder_out, folder_build = evaluate(Settings(docs_dir=args.docs), questions)
        pg_out, pg_build = evaluate(Settings(docs_dir=args.docs, database_url=url), questions)
    finally:
        if server is not None:
            server.cleanup()
            shutil.rmtree(folder, ignore_errors=True)
    same = sum(a[1] == b[1] for a, b in zip(folder_out, pg_out)) / len(questions)
    same_answer = sum(a[2] == b[2] for a, b in zip(folder_out, pg_out)) / len(questions)
    hit = [sum(o.hit for o, *_ in out) / len(out) for out in (folder_out, pg_out)]
    recall = [sum(o.rank == 1 for o, *_ in out) / len(out) for out in (folder_out, pg_out)]
    lines = [
        f"{len(questions)} questions of {args.questions.parent.name}; {time.perf_counter() - started:.0f} s; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"same top passage:   {same:.4f}   (bar ≥ 0.99)",
        f"same answer text:   {same_answer:.4f}",
        f"answer hit@1:       folder {hit[0]:.4f}   postgres {hit[1]:.4f}   difference {abs(hit[0] - hit[1]):.4f} (bar ≤ 0.005)",
        f"passage recall@1:   folder {recall[0]:.4f}   postgres {recall[1]:.4f}",
        f"build (embedding included): folder {folder_build:.1f} s   postgres {pg_build:.1f} s",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "compare_backends.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

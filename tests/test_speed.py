"""The fast paths: ONNX query encoder, cheap cold start, approximate vector index, incremental builds.

Speed itself is measured by `make bench`; these tests pin the behaviour that makes it safe.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from askbot import onnx_encoder, vectors
from askbot.embedding import load_embedder, resolve_model
from askbot.engine import Engine, build_index
from askbot.settings import Settings
from conftest import REPO, SEED_DOCS

QUESTIONS = ["What chip powers the OnePlus 6?", "Who is the CEO of OnePlus?", "Why was ZTE fined?", "What is the capital of France?"]


def quiet(_: str) -> None:
    pass


@pytest.fixture
def index_copy(seed_index, tmp_path):
    target = tmp_path / "index"
    shutil.copytree(seed_index, target)
    return target


def test_onnx_vectors_match_sentence_transformers(seed_engine, seed_index):
    manifest = seed_engine._index.manifest
    encoder = onnx_encoder.load(seed_index, onnx_encoder.EncoderRecord.from_dict(manifest["encoder"]))
    assert encoder is not None
    texts = QUESTIONS + [c.text for c in seed_engine._index.store.get(list(range(seed_engine._index.size)))]
    reference = load_embedder(resolve_model(Settings().model)).encode(texts)
    one_by_one = np.concatenate([encoder.encode([t]) for t in texts])
    assert (reference * encoder.encode(texts)).sum(axis=1).min() >= 0.9999
    assert (reference * one_by_one).sum(axis=1).min() >= 0.9999
    assert seed_engine.info().query_encoder.startswith("onnx")


def test_cold_query_never_imports_torch_or_scipy(seed_index):
    script = (
        "import sys\nfrom askbot.cli import main\n"
        f"sys.argv = ['askbot', 'ask', '--docs', {str(SEED_DOCS)!r}, '--index', {str(seed_index)!r}, {QUESTIONS[0]!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "heavy = ['torch', 'sentence_transformers', 'transformers', 'scipy.sparse', 'sklearn']\n"
        "print('LOADED', [m for m in heavy if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "Snapdragon 845" in done.stdout
    assert "LOADED []" in done.stdout


def same_answers(engine: Engine, reference: Engine) -> None:
    for question in QUESTIONS:
        got, want = engine.ask(question), reference.ask(question)
        assert (got.answered, got.answer) == (want.answered, want.answer), question
        assert [p.id for p in got.passages] == [p.id for p in want.passages], question
        assert got.confidence == pytest.approx(want.confidence, abs=1e-4)


def test_failed_export_falls_back_to_sentence_transformers(docs_copy, tmp_path, monkeypatch, seed_engine):
    def broken(*args):
        raise RuntimeError("exporter unavailable")

    monkeypatch.setattr(onnx_encoder, "_export_graph", broken)
    monkeypatch.setattr(onnx_encoder, "_exported", {})  # no encoder of an earlier build to copy
    settings = Settings(docs_dir=docs_copy, index_dir=tmp_path / "index")
    build_index(settings, notify=quiet)
    engine = Engine.open(settings, notify=quiet)
    info = engine.info()
    assert info.query_encoder.startswith("sentence-transformers (ONNX export failed: RuntimeError: exporter unavailable")
    assert info.encoder_size_bytes == 0
    assert not list((tmp_path / "index").glob("encoders/*"))  # nothing half-written is left
    same_answers(engine, seed_engine)
    engine.close()


def test_a_second_index_links_the_encoder_and_a_deleted_one_is_exported_again(docs_copy, tmp_path):
    def built(name: str) -> Settings:
        settings = Settings(docs_dir=docs_copy, index_dir=tmp_path / name)
        build_index(settings, notify=quiet)
        return settings

    def weights(settings: Settings):
        (path,) = settings.index_dir.glob("encoders/*/model.data")
        return path.stat()

    first, second = built("first"), built("second")
    assert weights(first).st_ino == weights(second).st_ino  # one copy of 90 MB on disk, not two
    shutil.rmtree(first.index_dir)
    shutil.rmtree(second.index_dir)  # no encoder this process made is left to link to
    third = built("third")
    engine = Engine.open(third, notify=quiet)
    assert engine.info().query_encoder.startswith("onnx")
    engine.close()


def test_changed_onnx_file_is_not_used(index_copy, seed_engine):
    (model,) = index_copy.glob("encoders/*/model.onnx")
    with open(model, "r+b") as f:  # same size, one byte different
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    notes: list[str] = []
    engine = Engine.open(Settings(docs_dir=SEED_DOCS, index_dir=index_copy), notify=notes.append)
    same_answers(engine, seed_engine)
    assert notes == ["the ONNX query encoder is missing or changed: using sentence-transformers"]
    assert engine.info().query_encoder.startswith("sentence-transformers")
    engine.close()
    # `askbot index build` mends it even though no document changed.
    assert build_index(Settings(docs_dir=SEED_DOCS, index_dir=index_copy), notify=quiet).wrote
    engine = Engine.open(Settings(docs_dir=SEED_DOCS, index_dir=index_copy), notify=notes.append)
    assert engine.info().query_encoder.startswith("onnx") and len(notes) == 1
    engine.close()


def test_past_the_threshold_the_index_is_approximate_with_the_same_answers(docs_copy, tmp_path, seed_engine):
    settings = Settings(docs_dir=docs_copy, index_dir=tmp_path / "index", ann_threshold=2)
    build_index(settings, notify=quiet)
    engine = Engine.open(settings, notify=quiet)
    info = engine.info()
    assert info.vector_index.startswith("ivf-sq8")
    assert 0 < info.vector_ram_bytes < info.chunks * info.dimension * 4
    same_answers(engine, seed_engine)
    engine.close()


def test_ivf_recall_and_exact_scores_on_clustered_vectors(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(200, 64)).astype(np.float32)
    data = centres[rng.integers(200, size=8_000)] + rng.normal(0, 0.15, size=(8_000, 64)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    np.save(tmp_path / "embeddings.npy", data)
    embeddings = np.load(tmp_path / "embeddings.npy", mmap_mode="r")
    spec = vectors.choose(len(data), ann_threshold=5_000)
    assert spec.kind == "ivf" and spec.nprobe < spec.nlist
    vectors.write(vectors.build(embeddings, spec), tmp_path / vectors.FILE)
    index = vectors.VectorIndex(tmp_path / vectors.FILE, spec, embeddings)
    queries = data[:50] + rng.normal(0, 0.05, size=(50, 64)).astype(np.float32)
    found = 0
    for q in queries:
        scores, ids = index.search(q[None], 10)
        assert np.allclose(scores[0], data[ids[0]] @ q, atol=1e-5)  # exact re-scored, not 8-bit
        found += len(set(ids[0]) & set(np.argsort(-(data @ q))[:10]))
    assert found / (50 * 10) >= 0.95
    assert vectors.choose(4_999, ann_threshold=5_000).kind == "flat"


def test_flat_index_scans_fp16_codes_and_returns_the_exact_top_k(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.normal(size=(3_000, 64)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    np.save(tmp_path / "embeddings.npy", data)
    embeddings = np.load(tmp_path / "embeddings.npy", mmap_mode="r")
    spec = vectors.choose(len(data), ann_threshold=5_000)
    assert (spec.kind, spec.storage) == ("flat", "fp16")
    vectors.write(vectors.build(embeddings, spec), tmp_path / vectors.FILE)
    index = vectors.VectorIndex(tmp_path / vectors.FILE, spec, embeddings)
    for q in data[:50] + rng.normal(0, 0.3, size=(50, 64)).astype(np.float32):
        scores, ids = index.search(q[None], 10)
        exact = data @ q
        assert list(ids[0]) == list(np.argsort(-exact, kind="stable")[:10])
        assert np.allclose(scores[0], exact[ids[0]], atol=1e-6)
    assert index.ram_bytes() == 3_000 * 64 * 2


def test_index_info_reports_encoder_vectors_and_sizes(cli, index_copy):
    result = cli("index", "info", "--index", str(index_copy), "--json")
    info = json.loads(result.stdout)
    assert info["query_encoder"].startswith("onnx")
    assert info["vector_index"].startswith("flat")
    assert info["vector_ram_bytes"] == info["chunks"] * info["dimension"] * 2  # fp16 codes
    assert info["encoder_size_bytes"] > 80_000_000


def test_no_change_build_reads_only_the_manifest(docs_copy, tmp_path, monkeypatch):
    settings = Settings(docs_dir=docs_copy, index_dir=tmp_path / "index")
    build_index(settings, notify=quiet)
    (docs_copy / "update.txt").write_text("OnePlus confirmed that the OnePlus 6 will cost 529 dollars.\n")
    report = build_index(settings, notify=quiet)
    assert (report.added, report.embedded) == (1, 1)  # only the new document's chunk went through the model

    import askbot.engine as engine_mod

    def no_load(*args, **kwargs):
        raise AssertionError("a no-change build loaded the index")

    monkeypatch.setattr(engine_mod, "_load_current", no_load)
    report = build_index(settings, notify=quiet)
    assert not report.wrote and report.unchanged == 2


def test_fast_tokenize_and_scores_equal_bm25s(seed_engine):
    from askbot import lexical

    chunks = seed_engine._index.store.get(list(range(seed_engine._index.size)))
    texts = [c.text for c in chunks] + QUESTIONS + ["naïve café — 東京 2018/19 e-mail (approx. 3.5%)", "", "The THE the"]
    reference = lexical._bm25s().tokenize(
        texts, token_pattern=lexical.TOKEN_PATTERN, stopwords=list(lexical.STOPWORDS), stemmer=lexical._stemmer(), return_ids=False, show_progress=False
    )
    assert lexical.tokenize(texts) == reference
    bm25 = seed_engine._index.lexical
    for tokens in reference:
        ids = bm25._bm25.get_tokens_ids(tokens)
        expected = bm25._bm25.get_scores_from_ids(ids) if ids else np.zeros(bm25.num_docs, np.float32)
        assert np.array_equal(bm25.scores(tokens), expected)

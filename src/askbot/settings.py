"""Settings: one frozen record read from the environment and `.env` (environment wins)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .errors import UsageError

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"{name} must be a whole number, got {raw!r}") from None


def _float(name: str, default: float) -> float:
    raw = _env(name, str(default))
    try:
        return float(raw)
    except ValueError:
        raise UsageError(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    """Everything askbot can be told. Each field maps to one ASKBOT_* variable (see .env.example)."""

    docs_dir: Path = Path("docs")
    index_dir: Path = Path("index")
    model: str = BUNDLED_MODEL
    top_k: int = 3
    # Chunking: token budget per chunk (model tokens) and sentences carried over between chunks.
    chunk_tokens: int = 160
    chunk_overlap_sentences: int = 1
    max_chunk_chars: int = 1000
    max_file_bytes: int = 20_000_000
    max_question_chars: int = 2000
    # Fusion and abstention (see search.py / answer.py).
    dense_weight: float = 0.6
    min_confidence: float = 0.35

    @classmethod
    def from_env(cls, env_file: str | os.PathLike | None = ".env") -> "Settings":
        if env_file and Path(env_file).is_file():
            from dotenv import load_dotenv

            load_dotenv(env_file, override=False)
        d = cls()
        return cls(
            docs_dir=Path(_env("ASKBOT_DOCS_DIR", str(d.docs_dir))),
            index_dir=Path(_env("ASKBOT_INDEX_DIR", str(d.index_dir))),
            model=_env("ASKBOT_MODEL", d.model),
            top_k=_int("ASKBOT_TOP_K", d.top_k),
            chunk_tokens=_int("ASKBOT_CHUNK_TOKENS", d.chunk_tokens),
            chunk_overlap_sentences=_int("ASKBOT_CHUNK_OVERLAP_SENTENCES", d.chunk_overlap_sentences),
            max_chunk_chars=_int("ASKBOT_MAX_CHUNK_CHARS", d.max_chunk_chars),
            max_file_bytes=_int("ASKBOT_MAX_FILE_BYTES", d.max_file_bytes),
            max_question_chars=_int("ASKBOT_MAX_QUESTION_CHARS", d.max_question_chars),
            dense_weight=_float("ASKBOT_DENSE_WEIGHT", d.dense_weight),
            min_confidence=_float("ASKBOT_MIN_CONFIDENCE", d.min_confidence),
        )

    def with_overrides(self, **changes: object) -> "Settings":
        """A copy with the given fields replaced; None values are ignored (unset CLI options)."""
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in changes.items() if v is not None and k in known})

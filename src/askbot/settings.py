"""Settings: one frozen record read from the environment and `.env` (environment wins)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .errors import UsageError

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"
CONVERSATION_MODES = ("thread", "user", "off")
CONTEXT_REPLIES = ("public", "ephemeral")
DEFAULT_COLLECTION = "default"
_COLLECTION_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
BUILD_DEVICES = ("auto", "cpu", "cuda")  # see precision.py
BUILD_PRECISIONS = ("auto", "fp32", "bf16")


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


def _bool(name: str, default: bool) -> bool:
    raw = _env(name, "on" if default else "off").lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"{name} must be on or off, got {raw!r}")


def _ids(name: str) -> tuple[int, ...]:
    """A comma-separated list of Discord ids (snowflakes)."""
    raw = _env(name, "")
    try:
        return tuple(int(part) for part in raw.replace(" ", "").split(",") if part)
    except ValueError:
        raise UsageError(f"{name} must be comma-separated numeric ids, got {raw!r}") from None


def _id(name: str) -> int | None:
    ids = _ids(name)
    if len(ids) > 1:
        raise UsageError(f"{name} takes one id, got {len(ids)}")
    return ids[0] if ids else None


def _path(name: str) -> Path | None:
    raw = _env(name, "")
    return Path(raw) if raw else None


def _positive(name: str) -> int | None:
    raw = _env(name, "")
    if not raw:
        return None
    value = _int(name, 0)
    if value < 1:
        raise UsageError(f"{name} must be at least 1, got {raw!r}")
    return value


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = _env(name, default).lower()
    if raw not in choices:
        raise UsageError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _url(name: str, default: str, schemes: tuple[str, ...]) -> str:
    raw = _env(name, default)
    if not raw.startswith(tuple(f"{s}://" for s in schemes)):
        raise UsageError(f"{name} must start with {' or '.join(f'{s}://' for s in schemes)}, got {raw!r}")
    return raw


@dataclass(frozen=True, repr=False)
class Settings:
    """Everything askbot can be told. Each field maps to one ASKBOT_* variable (see .env.example)."""

    docs_dir: Path = Path("docs")
    index_dir: Path = Path("index")
    # Which corpus of the deployment this is (see for_collection); docs_dir and index_dir are its own.
    collection: str = DEFAULT_COLLECTION
    model: str = BUNDLED_MODEL
    top_k: int = 3
    # Chunking: token budget per chunk (model tokens) and sentences carried over between chunks.
    chunk_tokens: int = 200
    chunk_overlap_sentences: int = 1
    max_chunk_chars: int = 1000
    max_file_bytes: int = 20_000_000
    max_question_chars: int = 2000
    # Fusion (search.py): score = dense_weight * cosine + (1 - dense_weight) * BM25 / best BM25.
    # Fitted with the context weights (context.py) on squad-dev, news-dev and papers-dev together
    # (0.8 suits news and squad alone, and loses papers recall@1 0.611 -> 0.593: see README).
    dense_weight: float = 0.7
    # Abstention (answer.py): answer only when the confidence (the answer model's probability that
    # the answer is right) reaches this; benchmarks/fit_answers.py chooses it with the model.
    min_confidence: float = 0.20
    # Where askbot keeps what it records (Discord feedback).
    data_dir: Path = Path("data")
    # Discord (see discord_bot.py). The token is a secret: it never appears in repr or logs.
    discord_token: str = ""
    discord_guild_id: int | None = None  # sync /ask to this server at once instead of globally
    discord_api_base: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg/"
    discord_dms: bool = True
    discord_cooldown_seconds: float = 5.0
    discord_max_question_chars: int = 500
    discord_channels: tuple[int, ...] = ()  # empty: every channel the bot can see
    # Follow-ups: one conversation per thread (and per user elsewhere), per user, or none.
    discord_conversations: str = "thread"
    discord_conversation_minutes: float = 10.0  # a conversation is forgotten after this quiet time
    # Community features (see README "Discord bot"): forum channels answered, the message
    # context menu, a collection per server, /docs uploads, the question log.
    discord_forums: tuple[int, ...] = ()
    discord_forum_silent_on_abstain: bool = True
    discord_forum_tag: str = ""  # applied to a forum post askbot answered, when the forum has it
    discord_context_reply: str = "public"
    discord_collections: Path | None = None  # TOML: guild or channel id → collection name
    discord_max_upload_bytes: int = 10_000_000
    discord_log_days: int = 90  # questions asked through Discord are deleted after this
    discord_shard_count: int | None = None  # None: one connection, no sharding
    discord_shard_ids: tuple[int, ...] = ()  # the shards this process runs (empty: all)
    # Past this many chunks the vector index is approximate (IVF), see vectors.py.
    ann_threshold: int = 50_000
    # The index (and feedback) in PostgreSQL + pgvector instead of index/ (postgres_index.py); a
    # libpq URL, its password never shown (see redacted_url). Empty: the folder backend.
    database_url: str = ""
    # Documents (extraction.py, fetch.py): PDFs over this many pages are skipped; each PDF/DOCX is
    # read in a worker process bounded in time and memory; fetch waits between requests to a host.
    max_pdf_pages: int = 2000
    extract_seconds: float = 120.0
    extract_memory_mb: int = 1024
    fetch_delay_seconds: float = 0.5
    fetch_timeout_seconds: float = 20.0
    # Builds (precision.py): where the model encodes, and bf16/fp16 when a probe shows it matches fp32.
    device: str = "auto"
    build_precision: str = "auto"

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
            data_dir=Path(_env("ASKBOT_DATA_DIR", str(d.data_dir))),
            discord_token=_env("DISCORD_TOKEN", d.discord_token),
            discord_guild_id=_id("ASKBOT_DISCORD_GUILD_ID"),
            discord_api_base=_url("ASKBOT_DISCORD_API_BASE", d.discord_api_base, ("https", "http")),
            discord_gateway_url=_url("ASKBOT_DISCORD_GATEWAY_URL", d.discord_gateway_url, ("wss", "ws")),
            discord_dms=_bool("ASKBOT_DISCORD_DMS", d.discord_dms),
            discord_cooldown_seconds=_float("ASKBOT_DISCORD_COOLDOWN_SECONDS", d.discord_cooldown_seconds),
            discord_max_question_chars=_int("ASKBOT_DISCORD_MAX_QUESTION_CHARS", d.discord_max_question_chars),
            discord_channels=_ids("ASKBOT_DISCORD_CHANNELS"),
            discord_conversations=_choice("ASKBOT_DISCORD_CONVERSATIONS", d.discord_conversations, CONVERSATION_MODES),
            discord_conversation_minutes=_float("ASKBOT_DISCORD_CONVERSATION_MINUTES", d.discord_conversation_minutes),
            discord_forums=_ids("ASKBOT_DISCORD_FORUMS"),
            discord_forum_silent_on_abstain=_bool("ASKBOT_DISCORD_FORUM_SILENT_ON_ABSTAIN", d.discord_forum_silent_on_abstain),
            discord_forum_tag=_env("ASKBOT_DISCORD_FORUM_TAG", d.discord_forum_tag),
            discord_context_reply=_choice("ASKBOT_DISCORD_CONTEXT_REPLY", d.discord_context_reply, CONTEXT_REPLIES),
            discord_collections=_path("ASKBOT_DISCORD_COLLECTIONS"),
            discord_max_upload_bytes=_int("ASKBOT_DISCORD_MAX_UPLOAD_BYTES", d.discord_max_upload_bytes),
            discord_log_days=_int("ASKBOT_DISCORD_LOG_DAYS", d.discord_log_days),
            discord_shard_count=_positive("ASKBOT_DISCORD_SHARD_COUNT"),
            discord_shard_ids=_ids("ASKBOT_DISCORD_SHARD_IDS"),
            ann_threshold=_int("ASKBOT_ANN_THRESHOLD", d.ann_threshold),
            database_url=_database_url("ASKBOT_DATABASE_URL"),
            max_pdf_pages=_int("ASKBOT_MAX_PDF_PAGES", d.max_pdf_pages),
            extract_seconds=_float("ASKBOT_EXTRACT_SECONDS", d.extract_seconds),
            extract_memory_mb=_int("ASKBOT_EXTRACT_MEMORY_MB", d.extract_memory_mb),
            fetch_delay_seconds=_float("ASKBOT_FETCH_DELAY_SECONDS", d.fetch_delay_seconds),
            fetch_timeout_seconds=_float("ASKBOT_FETCH_TIMEOUT_SECONDS", d.fetch_timeout_seconds),
            device=_choice("ASKBOT_DEVICE", d.device, BUILD_DEVICES),
            build_precision=_choice("ASKBOT_BUILD_PRECISION", d.build_precision, BUILD_PRECISIONS),
        )

    def __repr__(self) -> str:
        """Like the dataclass repr, but the Discord token and the database password are never shown."""
        def show(name: str) -> str:
            value = getattr(self, name)
            if name == "discord_token":
                return "<hidden>" if value else "<unset>"
            if name == "database_url":
                return repr(redacted_url(value))
            return repr(value)

        return f"Settings({', '.join(f'{f.name}={show(f.name)}' for f in fields(self))})"

    def for_collection(self, name: str) -> "Settings":
        """The same deployment answering from collection `name`.

        Call it on the deployment's settings (collection "default"). A named collection's index
        is a sub-folder of the index folder, `<index>/collections/NAME`, and its documents
        default to `<data>/collections/NAME/docs` (where `/docs add` saves uploads); nothing of
        one collection is ever searched from another.
        """
        name = collection_name(name)
        if self.collection != DEFAULT_COLLECTION:
            raise ValueError(f"for_collection is called on the deployment's settings, not on {self.collection!r}")
        if name == DEFAULT_COLLECTION:
            return self
        return replace(
            self,
            collection=name,
            index_dir=self.index_dir / "collections" / name,
            docs_dir=self.data_dir / "collections" / name / "docs",
        )

    def with_overrides(self, **changes: object) -> "Settings":
        """A copy with the given fields replaced; None values are ignored (unset CLI options)."""
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in changes.items() if v is not None and k in known})


def _database_url(name: str) -> str:
    raw = _env(name, "")
    if raw and not raw.startswith(("postgresql://", "postgres://")):
        raise UsageError(f"{name} must start with postgresql:// or postgres://, got {redacted_url(raw)!r}")
    return raw


def redacted_url(url: str) -> str:
    """The URL with any password replaced by ***, in the userinfo or as a password= parameter."""
    url = re.sub(r"^([a-z]+://[^:/@?#]*):[^/?#]*@", r"\1:***@", url)  # greedy: a stray @ in the password
    return re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", url)


def collection_name(name: str) -> str:
    """A collection name as given, once it is safe as a folder name and a database key."""
    if not _COLLECTION_NAME.fullmatch(name):
        raise UsageError(
            f"collection names are 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit; got {name!r}"
        )
    return name

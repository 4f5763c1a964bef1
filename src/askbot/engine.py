"""The engine: the one facade the CLI, the REPL and the Discord bot call.

    engine = Engine.open(Settings.from_env())   # loads index/, building it first if needed
    answer = engine.ask("What chip powers the OnePlus 6?")
    chat = engine.conversation()                # follow-ups: chat.ask("When will it arrive?")
    report = engine.rebuild()                   # incremental; swaps the new index in

Thread-safe for concurrent `ask` calls; `rebuild` swaps the index with one assignment, so
questions keep being answered from the old index until the new one is ready.
"""

from __future__ import annotations

import re
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from . import builder, onnx_encoder
from .answer import SELECT_FROM, Answer, select_answer
from .backend import IndexBackend, SearchIndex, open_backend
from .builder import BuildReport
from .buildlock import BuildLocked
from .conversation import Conversation
from .embedding import Embedder, ModelRef, load_embedder, model_name, resolve_model
from .errors import IndexProblem, UsageError
from .evidence import Candidates, candidates
from .index import REBUILD
from .lexical import tokenize
from .precision import Encoding
from .proximity import Position
from .search import document_search, hybrid_search
from .settings import Settings

Notify = Callable[[str], None]
# Never part of a question: control characters, lone surrogates (the tokenizer rejects them) and
# invisible format characters (bidi overrides would reorder the question when it is echoed).
_UNPRINTABLE = {"Cc": " ", "Cs": " ", "Cf": ""}
# Chat mentions (@everyone, @here, <@123>, <#123>, <@&123>) address people, they ask nothing.
_MENTION = re.compile(r"(?<!\w)@(?:everyone|here)\b|<[@#][!&]?\d+>")
Encode = Callable[[Sequence[str]], np.ndarray]


def _stderr(message: str) -> None:
    print(f"askbot: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Evidence:
    """A question's candidate sentences (see evidence.py), their texts, and its passages' texts."""

    candidates: Candidates
    sentences: list[str]
    passages: list[str]


@dataclass(frozen=True)
class IndexInfo:
    path: str  # the build folder, or the database (never its password) and collection
    documents: int
    chunks: int
    model: str
    dimension: int
    built_at: str
    size_bytes: int
    skipped: int
    query_encoder: str  # "onnx" or "sentence-transformers" (with the reason)
    vector_index: str  # flat (exact) or ivf-sq8 (approximate), with its parameters
    vector_ram_bytes: int  # what the vector index holds in memory; texts stay on disk (SQLite or the database)
    encoder_size_bytes: int  # the ONNX encoder on disk (shared by every build in the folder)
    build_precision: str  # how the build encoded its sentences: fp32, bf16 or fp16 (precision.py)
    build_probe_cosine: float | None  # the reduced precision's worst probe cosine against fp32
    build_encoding: str  # the same in words: device, precision, probe, why fp32 was kept


class Engine:
    def __init__(
        self, settings: Settings, model: ModelRef | None, backend: IndexBackend, index: SearchIndex | None, notify: Notify = _stderr
    ):
        self.settings = settings
        self._backend = backend
        self._model_ref = model
        self._index = index
        self._notify = notify
        self._embedder: Embedder | None = None
        self._embedder_lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._encoder: tuple[SearchIndex, Encode] | None = None

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings | None = None, *, auto_build: bool = True, notify: Notify = _stderr) -> "Engine":
        """Load the index; build it first when it is missing or the documents changed."""
        settings = settings or Settings.from_env()
        backend = open_backend(settings, notify)
        engine = cls(settings, None, backend, _load_current(settings, backend, None), notify)
        auto_build = auto_build and backend.builds_on_open
        if engine._index is None:
            if not auto_build:
                raise IndexProblem(backend.missing())
            notify(f"no index yet: building it from {settings.docs_dir}")
            notify(engine.rebuild().summary())
        elif auto_build and backend.is_stale(engine._index):
            notify(f"documents in {settings.docs_dir} changed: updating the index")
            try:
                notify(engine.rebuild().summary())
            except BuildLocked as busy:  # another process is updating it; its result is picked up later
                notify(f"{busy} (answering from the index as it is)")
        return engine

    # -- asking ------------------------------------------------------------------------------

    def ask(
        self, question: str, k: int | None = None, *, query: str | None = None, within: str | None = None,
        min_confidence: float | None = None, near: Position | None = None,
    ) -> Answer:  # fmt: skip
        """Answer a question; with `query`, search that standalone rewrite of it instead; with
        `within`, search only the passages of that document (a conversation's topic), answering
        from `min_confidence` on (the engine's threshold unless given); with `near` (where a
        conversation's last answer was), prefer answers close to it."""
        if query is None and within is None:
            return self.ask_many([question], k, near=near)[0]
        question = self._check_question(question)
        searched = self._check_question(query or question)
        if within is None:
            answer = self.ask_many([searched], k, near=near)[0]
        else:
            answer = self.ask_within(searched, within, k, min_confidence=min_confidence, near=near)
        return replace(answer, question=question, query=searched if searched != question else None)

    def ask_within(
        self, question: str, source: str, k: int | None = None, *, min_confidence: float | None = None,
        near: Position | None = None,
    ) -> Answer:  # fmt: skip
        """Answer from the passages of one document (`source`, as Passage.source names it),
        scored as `ask` scores every passage; not answered when the index does not hold it."""
        settings = self.settings
        k = k or settings.top_k
        threshold = settings.min_confidence if min_confidence is None else min_confidence
        question = self._check_question(question)
        index = self._index
        vector = self._query_encoder(index)([question])[0]
        tokens = tokenize([question])[0]
        with index.reading() as view:
            hits = document_search(view, vector, tokens, source, max(k, SELECT_FROM), settings.dense_weight)
            chunks = view.chunks([h.chunk_id for h in hits])
            answer = select_answer(question, tokens, hits, chunks, view, threshold, near=near)
        return _trim(answer, k)

    def conversation(self) -> Conversation:
        """A new conversation: its questions are read in the context of the ones before."""
        return Conversation(self)

    def ask_many(
        self, questions: Sequence[str], k: int | None = None, *, settings: Settings | None = None, near: Position | None = None,
    ) -> list[Answer]:  # fmt: skip
        """Answer several questions with one batched encode.

        settings: answer with these query-time settings (fusion weight, threshold) instead of
        the engine's own, on the same index; `askbot eval --tune` compares them this way.
        near: where a conversation's last answer was (see `ask`).
        """
        settings = settings or self.settings
        k = k or settings.top_k
        if k < 1:
            raise UsageError("k must be at least 1")
        cleaned = [self._check_question(q) for q in questions]
        index = self._index  # one snapshot for the whole batch, even if a rebuild swaps it
        vectors = self._query_encoder(index)(cleaned)
        answers = []
        with index.reading() as view:  # one consistent state of the index for the batch
            for question, vector in zip(cleaned, vectors):
                tokens = tokenize([question])[0]
                hits = hybrid_search(view, vector, tokens, max(k, SELECT_FROM), settings.dense_weight)
                chunks = view.chunks([h.chunk_id for h in hits])
                answer = select_answer(question, tokens, hits, chunks, view, settings.min_confidence, near=near)
                answers.append(_trim(answer, k))
        return answers

    def evidence(self, questions: Sequence[str], k: int) -> list[Evidence]:
        """What answer selection sees for each question: the first k passages and the candidate
        sentences of the first SELECT_FROM (benchmarks/fit_answers.py fits the answer model on it)."""
        cleaned = [self._check_question(q) for q in questions]
        index = self._index
        vectors = self._query_encoder(index)(cleaned)
        found = []
        with index.reading() as view:
            for question, vector in zip(cleaned, vectors):
                tokens = tokenize([question])[0]
                hits = hybrid_search(view, vector, tokens, max(k, SELECT_FROM), self.settings.dense_weight)
                chunks = view.chunks([h.chunk_id for h in hits])
                rows, texts = candidates(question, tokens, hits[:SELECT_FROM], chunks[:SELECT_FROM], view.idf)
                found.append(Evidence(rows, texts, [c.text for c in chunks[:k]]))
        return found

    def encode(self, questions: Sequence[str]) -> np.ndarray:
        """The questions' unit vectors, from the encoder `ask` uses (ONNX or sentence-transformers)."""
        return self._query_encoder(self._index)([self._check_question(q) for q in questions])

    def _check_question(self, question: str) -> str:
        cleaned = " ".join(_MENTION.sub(" ", _printable(question)).split())
        if not cleaned:
            raise UsageError("the question is empty")
        limit = self.settings.max_question_chars
        if len(cleaned) > limit:
            raise UsageError(f"the question is too long: {len(cleaned):,} characters (the limit is {limit:,})")
        return cleaned

    # -- index management --------------------------------------------------------------------

    def rebuild(self) -> BuildReport:
        """Bring the index up to date with the docs folder and start answering from it."""
        with self._build_lock:
            model = self._model()
            report = builder.build(self.settings, model, self._get_embedder, self._backend, self._index, self._notify)
            if report.wrote:
                self._swap(_load_current(self.settings, self._backend, model))
            return report

    def reload_if_changed(self) -> bool:
        """Pick up an index another process (the CLI) built; True when one was loaded.

        Skipped while this engine is rebuilding: the rebuild swaps its own result in.
        """
        if not self._build_lock.acquire(blocking=False):
            return False
        try:
            build = self._backend.current()
            if build is None or build == self._index.identity:
                return False
            self._swap(_load_current(self.settings, self._backend, self._model_ref))
            return True
        finally:
            self._build_lock.release()

    def info(self) -> IndexInfo:
        m = self._index.manifest
        details = self._index.details()
        record = onnx_encoder.EncoderRecord.from_dict(m.get("encoder"))
        encoding = Encoding.from_dict(m.get("encoding"))
        encoder_bytes = onnx_encoder.folder_bytes(self._index.encoder_dir, record)
        if self._onnx_encoder(self._index) is not None:
            encoder = f"onnx (onnxruntime, fp32; cosine {record.cosine} against sentence-transformers)"
        else:
            encoder = f"sentence-transformers ({record.reason or 'the ONNX encoder is missing or changed'})"
        return IndexInfo(
            path=details.location,
            documents=len(m["documents"]),
            chunks=self._index.size,
            model=m["model"]["name"],
            dimension=m["model"]["dimension"],
            built_at=m["built_at"],
            size_bytes=details.size_bytes,
            skipped=len(m.get("skipped", {})),
            query_encoder=encoder,
            vector_index=details.vector_index,
            vector_ram_bytes=details.vector_ram_bytes,
            encoder_size_bytes=encoder_bytes,
            build_precision=encoding.precision,
            build_probe_cosine=encoding.probe_cosine,
            build_encoding=encoding.describe(),
        )

    def close(self) -> None:
        self._index.close()

    def _swap(self, index: SearchIndex) -> None:
        # The old index is not closed here: a question in another thread may still be reading
        # it. Its last reference going away closes it.
        self._index = index

    def _get_embedder(self) -> Embedder:
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = load_embedder(self._model())
            return self._embedder

    def _model(self) -> ModelRef:
        """The model's files, resolved (and the bundled weights hashed, ≈ 0.1 s) on first need:
        builds and the sentence-transformers path need it, the ONNX query path does not."""
        with self._model_lock:
            if self._model_ref is None:
                self._model_ref = resolve_model(self.settings.model)
            return self._model_ref

    def _query_encoder(self, index: SearchIndex) -> Encode:
        """ONNX when the index has a verified export, sentence-transformers otherwise."""
        cached = self._encoder
        if cached is not None and cached[0] is index:
            return cached[1]
        onnx = self._onnx_encoder(index)
        if onnx is not None:
            encode = onnx.encode
        else:
            if index.manifest.get("encoder", {}).get("kind") == "onnx":
                self._notify("the ONNX query encoder is missing or changed: using sentence-transformers")
            _check_model(index.manifest, self._model())
            encode = self._get_embedder().encode_queries
        self._encoder = (index, encode)
        return encode

    @staticmethod
    def _onnx_encoder(index: SearchIndex) -> onnx_encoder.OnnxEncoder | None:
        record = onnx_encoder.EncoderRecord.from_dict(index.manifest.get("encoder"))
        return onnx_encoder.load(index.encoder_dir, record)


def build_index(settings: Settings, notify: Notify = _stderr) -> BuildReport:
    """`askbot index build`: incremental when the previous index is usable, full otherwise."""
    started = time.perf_counter()
    model = resolve_model(settings.model)
    backend = open_backend(settings, notify)
    files = builder.scan_docs(settings, notify)
    try:
        if (unchanged := backend.unchanged(model, files)) is not None:
            return replace(unchanged, seconds=time.perf_counter() - started)
        previous = _load_current(settings, backend, model, check_model=False)
    except IndexProblem as problem:
        notify(f"{problem}; rebuilding from scratch")
        previous = None
    try:
        return builder.build(settings, model, lambda: load_embedder(model), backend, previous, notify, files)
    finally:
        if previous is not None:
            previous.close()


def _load_current(settings: Settings, backend: IndexBackend, model: ModelRef | None, check_model: bool = True) -> SearchIndex | None:
    """The index in use. The model check compares ASKBOT_MODEL with what the build recorded,
    without hashing the weights; `model` (hashed) is only needed for indexes that lack the record."""

    def check(manifest: dict) -> None:
        built = manifest.get("model", {})
        if (built.get("spec"), built.get("name")) != (settings.model, model_name(settings.model)):
            _check_model(manifest, model or resolve_model(settings.model))

    return backend.load(check if check_model else None)


def _printable(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(_UNPRINTABLE.get(unicodedata.category(c), c) for c in text)


def _check_model(manifest: dict, model: ModelRef) -> None:
    built = manifest.get("model", {})
    if built.get("name") != model.name or built.get("sha256") != model.sha256:
        raise IndexProblem(f"index was built with another model ({built.get('name')}): {REBUILD}")


def _trim(answer: Answer, k: int) -> Answer:
    return replace(answer, passages=answer.passages[:k])

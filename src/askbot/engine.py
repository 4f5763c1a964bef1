"""The engine: the one facade the CLI, the REPL and the Discord bot call.

    engine = Engine.open(Settings.from_env())   # loads index/, building it first if needed
    answer = engine.ask("What chip powers the OnePlus 6?")
    chat = engine.conversation()                # follow-ups: chat.ask("When will it arrive?")
    report = engine.rebuild()                   # incremental; swaps the new index in

Thread-safe for concurrent `ask` calls; `rebuild` swaps the index with one assignment, so
questions keep being answered from the old index until the new one is ready.
"""

from __future__ import annotations

import sys
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from . import builder
from .answer import SELECT_FROM, Answer, select_answer
from .builder import BuildReport
from .buildlock import BuildLocked
from .conversation import Conversation
from .embedding import Embedder, ModelRef, load_embedder, resolve_model
from .errors import IndexProblem, UsageError
from .index import REBUILD, Index, current_build, load_index, read_manifest
from .lexical import tokenize
from .search import hybrid_search
from .settings import Settings

Notify = Callable[[str], None]
# Never part of a question: control characters, lone surrogates (the tokenizer rejects them) and
# invisible format characters (bidi overrides would reorder the question when it is echoed).
_UNPRINTABLE = {"Cc": " ", "Cs": " ", "Cf": ""}


def _stderr(message: str) -> None:
    print(f"askbot: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class IndexInfo:
    path: str
    documents: int
    chunks: int
    model: str
    dimension: int
    built_at: str
    size_bytes: int
    skipped: int


class Engine:
    def __init__(self, settings: Settings, model: ModelRef, index: Index | None, notify: Notify = _stderr):
        self.settings = settings
        self._model = model
        self._index = index
        self._notify = notify
        self._embedder: Embedder | None = None
        self._embedder_lock = threading.Lock()
        self._build_lock = threading.Lock()

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings | None = None, *, auto_build: bool = True, notify: Notify = _stderr) -> "Engine":
        """Load the index; build it first when it is missing or the documents changed."""
        settings = settings or Settings.from_env()
        model = resolve_model(settings.model)
        engine = cls(settings, model, _load_current(settings, model), notify)
        if engine._index is None:
            if not auto_build:
                raise IndexProblem(f"no index in {settings.index_dir}: {REBUILD}")
            notify(f"no index yet: building it from {settings.docs_dir}")
            notify(engine.rebuild().summary())
        elif auto_build and is_stale(settings, engine._index):
            notify(f"documents in {settings.docs_dir} changed: updating the index")
            try:
                notify(engine.rebuild().summary())
            except BuildLocked as busy:  # another process is updating it; its result is picked up later
                notify(f"{busy} (answering from the index as it is)")
        return engine

    # -- asking ------------------------------------------------------------------------------

    def ask(self, question: str, k: int | None = None, *, query: str | None = None) -> Answer:
        """Answer a question; with `query`, search that standalone rewrite of it instead."""
        if query is None:
            return self.ask_many([question], k)[0]
        question = self._check_question(question)
        answer = self.ask_many([query], k)[0]
        return replace(answer, question=question, query=answer.question if answer.question != question else None)

    def conversation(self) -> Conversation:
        """A new conversation: its questions are read in the context of the ones before."""
        return Conversation(self)

    def ask_many(self, questions: Sequence[str], k: int | None = None) -> list[Answer]:
        """Answer several questions with one batched encode."""
        k = k or self.settings.top_k
        if k < 1:
            raise UsageError("k must be at least 1")
        cleaned = [self._check_question(q) for q in questions]
        index = self._index  # one snapshot for the whole batch, even if a rebuild swaps it
        vectors = self._get_embedder().encode(cleaned)
        answers = []
        for question, vector in zip(cleaned, vectors):
            tokens = tokenize([question])[0]
            hits = hybrid_search(index, vector, tokens, max(k, SELECT_FROM), self.settings.dense_weight)
            chunks = index.store.get([h.chunk_id for h in hits])
            answer = select_answer(question, tokens, hits, chunks, index.lexical, self.settings.min_confidence)
            answers.append(_trim(answer, k))
        return answers

    def _check_question(self, question: str) -> str:
        cleaned = " ".join(_printable(question).split())
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
            report = builder.build(self.settings, self._model, self._get_embedder, self._index, self._notify)
            if report.wrote:
                self._swap(_load_current(self.settings, self._model))
            return report

    def reload_if_changed(self) -> bool:
        """Pick up an index another process (the CLI) built; True when one was loaded.

        Skipped while this engine is rebuilding: the rebuild swaps its own result in.
        """
        if not self._build_lock.acquire(blocking=False):
            return False
        try:
            build = current_build(self.settings.index_dir)
            if build is None or build == self._index.path:
                return False
            self._swap(_load_current(self.settings, self._model))
            return True
        finally:
            self._build_lock.release()

    def info(self) -> IndexInfo:
        m = self._index.manifest
        size = sum(p.stat().st_size for p in self._index.path.rglob("*") if p.is_file())
        return IndexInfo(
            path=str(self._index.path),
            documents=len(m["documents"]),
            chunks=self._index.size,
            model=m["model"]["name"],
            dimension=m["model"]["dimension"],
            built_at=m["built_at"],
            size_bytes=size,
            skipped=len(m.get("skipped", {})),
        )

    def close(self) -> None:
        self._index.close()

    def _swap(self, index: Index) -> None:
        # The old index is not closed here: a question in another thread may still be reading
        # it. Its last reference going away closes it.
        self._index = index

    def _get_embedder(self) -> Embedder:
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = load_embedder(self._model)
            return self._embedder


def build_index(settings: Settings, notify: Notify = _stderr) -> BuildReport:
    """`askbot index build`: incremental when the previous index is usable, full otherwise."""
    model = resolve_model(settings.model)
    try:
        previous = _load_current(settings, model, check_model=False)
    except IndexProblem as problem:
        notify(f"{problem}; rebuilding from scratch")
        previous = None
    try:
        return builder.build(settings, model, lambda: load_embedder(model), previous, notify)
    finally:
        if previous is not None:
            previous.close()


def is_stale(settings: Settings, index: Index) -> bool:
    """True when the docs folder no longer matches what the index was built from."""
    files = builder.scan_docs(settings, lambda _: None)
    indexed = {s: d["sha256"] for s, d in index.manifest["documents"].items()}
    indexed.update(index.manifest.get("skipped", {}))
    return {f.source: f.sha256 for f in files} != indexed


def _load_current(settings: Settings, model: ModelRef, check_model: bool = True) -> Index | None:
    build = current_build(settings.index_dir)
    if build is None:
        return None
    manifest = read_manifest(build)
    if check_model:
        built = manifest.get("model", {})
        if built.get("name") != model.name or built.get("sha256") != model.sha256:
            raise IndexProblem(f"index was built with another model ({built.get('name')}): {REBUILD}")
    return load_index(build, manifest)


def _printable(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(_UNPRINTABLE.get(unicodedata.category(c), c) for c in text)


def _trim(answer: Answer, k: int) -> Answer:
    return replace(answer, passages=answer.passages[:k])

"""Retrieval lab: passage recall per domain for document-context, fusion and chunking variants.

Each eval set is loaded and chunked by askbot's own code; every distinct text is encoded once
and cached on disk by the SHA-256 of the text (`--cache`, outside the repository), so trying a
weight or a chunking rule costs seconds instead of a build. Questions are scored the way
search.py scores them (dense = max of chunk and best-sentence cosine, lexical = BM25 / best
BM25, fused convexly); recall@k asks whether a gold string is inside one of the first k chunks.

    python benchmarks/retrieval_lab.py --cache /work/wt/retrieval-data/cache grid
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import re
import sys
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from askbot import chunking, documents  # noqa: E402
from askbot.chunking import ChunkingParams, chunk_document  # noqa: E402
from askbot.embedding import load_embedder, resolve_model  # noqa: E402
from askbot.lexical import LexicalIndex, tokenize  # noqa: E402
from askbot.settings import BUNDLED_MODEL  # noqa: E402

# ../shared/eval beside the checkout (a worktree sits one level deeper)
EVAL = next((p / "shared" / "eval" for p in Path(__file__).resolve().parents[1:4] if (p / "shared" / "eval").is_dir()), Path("eval"))
DOMAINS = ("squad", "news", "papers")


class VectorCache:
    """Unit vectors of texts, kept on disk by SHA-256 of the text."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        keys = folder / "keys.txt"
        self.keys = keys.read_text().split() if keys.exists() else []
        self.matrix = np.load(folder / "vectors.npy") if self.keys else np.zeros((0, 384), np.float32)
        self.row = {k: i for i, k in enumerate(self.keys)}
        self._embedder = None

    def encode(self, texts: list[str]) -> np.ndarray:
        digests = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        missing = list(dict.fromkeys(d for d in digests if d not in self.row))
        if missing:
            by_digest = dict(zip(digests, texts))
            if self._embedder is None:
                self._embedder = load_embedder(resolve_model(BUNDLED_MODEL))
            fresh = self._embedder.encode([by_digest[d] for d in missing], batch_size=64)
            self.matrix = np.concatenate([self.matrix, fresh])
            for d in missing:
                self.row[d] = len(self.keys)
                self.keys.append(d)
            np.save(self.folder / "vectors.npy", self.matrix)
            (self.folder / "keys.txt").write_text("\n".join(self.keys))
        return self.matrix[[self.row[d] for d in digests]]

    def count_tokens(self, texts):
        if self._embedder is None:
            self._embedder = load_embedder(resolve_model(BUNDLED_MODEL))
        return self._embedder.count_tokens(texts)


@dataclass(frozen=True)
class Variant:
    prefix: str = "none"  # what BM25 sees before each chunk: name | heading | none
    paragraph_fill: float = 0.0  # chunking.PARAGRAPH_FILL
    max_tokens: int = 200
    max_chars: int = 1000
    overlap: int = 1


@dataclass(eq=False)
class Corpus:
    """One domain chunked one way: chunk texts, sentence vectors, and which chunks hold gold."""

    chunk_docs: np.ndarray  # document number of each chunk
    sentence_vectors: np.ndarray  # each sentence encoded alone
    heading_vectors: np.ndarray  # each sentence's document heading, encoded (zero when none)
    previous: np.ndarray  # row of the sentence before each sentence in its document (itself when first)
    sentence_paragraphs: np.ndarray  # paragraph number (global) of each sentence
    sentence_chunks: np.ndarray  # chunk id of each sentence row (rows in chunk order)
    firsts: np.ndarray  # first sentence row of each chunk
    lexical: np.ndarray  # questions x chunks, BM25
    doc_lexical: np.ndarray  # questions x documents, BM25 over whole documents
    gold: np.ndarray  # questions x chunks, bool
    questions: np.ndarray  # question vectors


def heading(doc: documents.Document) -> str:
    """The body's first line when it reads as a heading: short, no sentence end, then a break."""
    body = doc.text[doc.body_start :].lstrip()
    line, _, rest = body.partition("\n")
    line = line.strip()
    if 0 < len(line) <= 200 and not re.search(r"[.!?:;,]\s*$", line) and rest.strip():
        return line
    return ""


def context_of(doc: documents.Document, prefix: str) -> str:
    if prefix == "name":
        return doc.title
    if prefix == "heading":
        return heading(doc)
    return ""


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


@lru_cache(maxsize=None)
def questions_of(domain: str) -> list[dict]:
    return [json.loads(line) for line in (EVAL / f"{domain}-dev" / "questions.jsonl").read_text().splitlines() if line.strip()]


@lru_cache(maxsize=None)
def documents_of(domain: str) -> list[documents.Document]:
    folder = EVAL / f"{domain}-dev" / "docs"
    return [d for f in documents.scan(folder, 20_000_000, print) if (d := documents.load(f, print))]


_corpora: dict = {}


def remember_paragraphs(folder: Path) -> None:
    """Keep pysbd's sentence splits on disk: splitting, not scoring, is the slow part of a variant."""
    split = chunking.split_paragraphs

    def cached(text: str, start: int = 0, end: int | None = None):
        path = folder / f"paragraphs-{hashlib.sha256(f'{start}:{end}:{text}'.encode()).hexdigest()}.json"
        if path.exists():
            return [[tuple(span) for span in p] for p in json.loads(path.read_text())]
        found = split(text, start, end)
        path.write_text(json.dumps(found))
        return found

    chunking.split_paragraphs = cached


def corpus(domain: str, variant: Variant, cache: VectorCache) -> Corpus:
    key = (domain, replace(variant))
    if key in _corpora:
        return _corpora[key]
    chunking.PARAGRAPH_FILL = variant.paragraph_fill
    params = ChunkingParams(variant.max_tokens, variant.max_chars, variant.overlap)
    docs = documents_of(domain)
    texts, chunk_docs, sentence_texts, sentence_paragraphs, sentence_chunks, sentence_starts = [], [], [], [], [], []
    paragraph_base = 0
    for n, doc in enumerate(docs):
        context = context_of(doc, variant.prefix)
        breaks = [m.end() for m in chunking.PARAGRAPH_BREAK.finditer(doc.text)]
        for chunk in chunk_document(replace(doc, title=""), params, cache.count_tokens):
            body = doc.text[chunk.start : chunk.end]
            texts.append(f"{context}\n{body}" if context else body)
            chunk_docs.append(n)
            for a, b in chunk.sentences:
                sentence_texts.append(doc.text[a:b])
                sentence_starts.append((n, a))
                sentence_paragraphs.append(paragraph_base + int(np.searchsorted(breaks, a, side="right")))
                sentence_chunks.append(len(texts) - 1)
        paragraph_base += len(breaks) + 1
    qs = questions_of(domain)
    lexical_index = LexicalIndex.build(texts)
    doc_index = LexicalIndex.build([d.text[d.body_start :] for d in docs])
    q_tokens = tokenize([q["question"] for q in qs])
    normalised = [normalise(t) for t in texts]
    gold = np.array([[any(normalise(g) in t for g in q["answers"]) for t in normalised] for q in qs])
    sentence_chunks = np.array(sentence_chunks)
    headings = [heading(d) for d in docs]
    heading_vectors = cache.encode([h or "." for h in headings]) * np.array([[bool(h)] for h in headings], np.float32)
    first_row = {}
    for row, key in enumerate(sentence_starts):
        first_row.setdefault(key, row)
    ordered = sorted(first_row)
    before = {key: first_row[prev] if prev[0] == key[0] else first_row[key] for prev, key in zip([(-1, -1), *ordered], ordered)}
    result = Corpus(
        heading_vectors=heading_vectors[np.array(chunk_docs)[sentence_chunks]],
        previous=np.array([before[key] for key in sentence_starts]),
        chunk_docs=np.array(chunk_docs),
        sentence_vectors=cache.encode(sentence_texts),
        sentence_paragraphs=np.array(sentence_paragraphs),
        sentence_chunks=sentence_chunks,
        firsts=np.searchsorted(sentence_chunks, np.arange(len(texts))),
        lexical=np.stack([lexical_index.scores(t) for t in q_tokens]).astype(np.float32),
        doc_lexical=np.stack([doc_index.scores(t) for t in q_tokens]).astype(np.float32),
        gold=gold,
        questions=cache.encode([q["question"] for q in qs]),
    )
    _corpora[key] = result
    return result


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)


def _group_means(vectors: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each row replaced by the unit mean of its group's rows (groups need not be sorted)."""
    ids, inverse = np.unique(groups, return_inverse=True)
    sums = np.zeros((len(ids), vectors.shape[1]), np.float32)
    np.add.at(sums, inverse, vectors)
    return _unit(sums)[inverse]


@dataclass(frozen=True)
class Weights:
    dense: float = 0.7  # fusion weight of the dense score
    paragraph_mix: float = 0.0  # paragraph mean vector added to each sentence vector
    document_mix: float = 0.0  # document mean vector added to each sentence vector
    document_score: float = 0.0  # document-level fused score added to each chunk's
    heading_mix: float = 0.0  # the document heading's vector added to each sentence vector
    previous_mix: float = 0.0  # the previous sentence's vector added to each sentence vector


@lru_cache(maxsize=64)
def _dense(c: Corpus, paragraph_mix: float, document_mix: float, heading_mix: float, previous_mix: float) -> np.ndarray:
    """Questions x chunks: max of the chunk's and its best sentence's cosine, after mixing each
    sentence vector with its paragraph's and document's mean vectors, its document's heading and
    the sentence before it."""
    s = c.sentence_vectors
    if paragraph_mix or document_mix or heading_mix or previous_mix:
        doc_of_sentence = c.chunk_docs[c.sentence_chunks]
        s = _unit(
            s
            + paragraph_mix * _group_means(s, c.sentence_paragraphs)
            + document_mix * _group_means(s, doc_of_sentence)
            + heading_mix * c.heading_vectors
            + previous_mix * np.where((c.previous == np.arange(len(s)))[:, None], 0, s[c.previous])
        )
    chunk_vectors = _unit(np.add.reduceat(s, c.firsts, axis=0))
    best_sentence = np.maximum.reduceat(c.questions @ s.T, c.firsts, axis=1)
    return np.maximum(c.questions @ chunk_vectors.T, best_sentence)


@lru_cache(maxsize=64)
def _document_scores(c: Corpus, dense_weight: float) -> np.ndarray:
    """Questions x chunks: the fused score of each chunk's whole document (mean vector, BM25)."""
    doc_of_sentence = c.chunk_docs[c.sentence_chunks]
    doc_vectors = np.zeros((c.chunk_docs.max() + 1, c.sentence_vectors.shape[1]), np.float32)
    doc_vectors[doc_of_sentence] = _group_means(c.sentence_vectors, doc_of_sentence)
    doc_lexical = c.doc_lexical / np.maximum(c.doc_lexical.max(axis=1, keepdims=True), 1e-9)
    return (dense_weight * (c.questions @ doc_vectors.T) + (1 - dense_weight) * doc_lexical)[:, c.chunk_docs]


def ranks(c: Corpus, w: Weights) -> np.ndarray:
    """1-based rank of the first gold chunk for each question (0 when none in the top 10)."""
    lexical = c.lexical / np.maximum(c.lexical.max(axis=1, keepdims=True), 1e-9)
    fused = w.dense * _dense(c, w.paragraph_mix, w.document_mix, w.heading_mix, w.previous_mix) + (1 - w.dense) * lexical
    if w.document_score:
        fused = fused + w.document_score * _document_scores(c, w.dense)
    top = np.argpartition(-fused, 10, axis=1)[:, :10]
    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(fused, top, axis=1), axis=1, kind="stable"), axis=1)
    hits = np.take_along_axis(c.gold, top, axis=1)
    first = hits.argmax(axis=1) + 1
    return np.where(hits.any(axis=1), first, 0)


def recall(r: np.ndarray) -> tuple[float, float, float]:
    return tuple(float(np.mean((r > 0) & (r <= k))) for k in (1, 3, 10))


def objective(r: np.ndarray) -> float:
    """What a fit maximises: recall@1 and @3 alike (both are targets)."""
    r1, r3, _ = recall(r)
    return r1 + r3


def lodo(table: dict[tuple, dict[str, np.ndarray]], domains: tuple[str, ...] = DOMAINS) -> list[str]:
    """For each held-out domain: the setting best on the other two, scored on it, beside the
    setting best on all three."""
    lines = []

    def best(domains):
        return max(table, key=lambda s: sum(objective(table[s][d]) for d in domains))

    overall = best(domains)
    lines.append(f"fitted on all three: {overall}")
    for held in domains:
        fit = best([d for d in domains if d != held])
        r_fit, r_all = recall(table[fit][held]), recall(table[overall][held])
        lines.append(
            f"held out {held:6}: fit {fit} -> R@1 {r_fit[0]:.3f} R@3 {r_fit[1]:.3f} R@10 {r_fit[2]:.3f}"
            f"   (all-three fit: {r_all[0]:.3f} {r_all[1]:.3f} {r_all[2]:.3f})"
        )
    return lines


def show(label: str, per_domain: dict[str, np.ndarray]) -> str:
    cells = "  ".join(f"{d} {recall(r)[0]:.3f}/{recall(r)[1]:.3f}/{recall(r)[2]:.3f}" for d, r in per_domain.items())
    return f"{label:<60} {cells}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("what", choices=["grid"])
    parser.add_argument("--domains", nargs="+", default=list(DOMAINS), choices=DOMAINS)
    parser.add_argument("--top", type=int, default=5, help="also print the N best settings on all three")
    args = parser.parse_args()
    cache = VectorCache(args.cache)
    remember_paragraphs(args.cache)
    domains = tuple(args.domains)
    variants = {
        "short paragraphs packed to half the budget": Variant("none", 0.5),
        "one paragraph per chunk": Variant("none", 0.0),
    }
    grid = [
        Weights(*values)
        for values in itertools.product(
            (0.7, 0.8),  # dense
            (0.0, 0.3),  # paragraph_mix
            (0.0, 0.3),  # document_mix
            (0.0,),  # document_score
            (0.0,),  # heading_mix
            (0.0, 0.3),  # previous_mix
        )
    ]
    for name, variant in variants.items():
        corpora = {d: corpus(d, variant, cache) for d in domains}
        print(show(f"{name} @ main weights", {d: ranks(c, Weights()) for d, c in corpora.items()}), flush=True)
        table = {tuple(vars(w).values()): {d: ranks(c, w) for d, c in corpora.items()} for w in grid}
        print("  weights (dense, paragraph_mix, document_mix, document_score, heading_mix, previous_mix)")
        for line in lodo(table, domains):
            print("  " + line, flush=True)
        if args.top:
            for key in sorted(table, key=lambda k: -sum(objective(r) for r in table[k].values()))[: args.top]:
                print(show(f"  {key}", table[key]))


if __name__ == "__main__":
    main()

"""Documents: find the files under a docs folder and turn each into text, title and date.

Supported: `.txt`, `.md` (optional YAML front matter with title/date) and `.html`/`.htm`.
A leading `date YYYY-MM-DD` line (as news exports carry) becomes the document date.
Anything unsupported, unreadable, too large or empty is skipped with one warning line.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

SUPPORTED_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm"}
_DATE_PREFIX = re.compile(r"\A\s*date\s+(\d{4}-\d{2}-\d{2})\b[ \t]*\n?", re.IGNORECASE)
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n.*?\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Document:
    """One source file as askbot indexes it.

    `text` is what offsets refer to: the decoded file for .txt/.md, the extracted text for HTML.
    `body_start` is where indexable text begins (after a date line or front matter).
    """

    source: str  # path relative to the docs folder, with forward slashes
    title: str
    date: str | None
    text: str
    body_start: int
    sha256: str


@dataclass(frozen=True)
class SourceFile:
    """A candidate file and the hash of its bytes, known before any parsing."""

    source: str
    path: Path
    sha256: str


def scan(docs_dir: Path, max_bytes: int, warn: Warn) -> list[SourceFile]:
    """Every supported file under docs_dir (recursively, symlinks not followed), hashed."""
    found: list[SourceFile] = []
    root = docs_dir.resolve()
    for path in sorted(_walk(root, warn)):
        source = path.relative_to(root).as_posix()
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            warn(f"skipped {source}: unsupported file type")
            continue
        try:
            size = path.stat().st_size
            if size > max_bytes:
                warn(f"skipped {source}: {size:,} bytes is over the {max_bytes:,}-byte limit")
                continue
            data = path.read_bytes()
        except OSError as exc:
            warn(f"skipped {source}: unreadable ({exc.strerror or exc})")
            continue
        found.append(SourceFile(source, path, hashlib.sha256(data).hexdigest()))
    return found


def _walk(root: Path, warn: Warn) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.name.startswith("."):
            continue
        if path.is_symlink():
            warn(f"skipped {path.relative_to(root).as_posix()}: symbolic link (not followed)")
            continue
        if path.is_file() and not any(p.name.startswith(".") for p in path.relative_to(root).parents):
            yield path


def load(file: SourceFile, warn: Warn) -> Document | None:
    """Parse one scanned file; None (with a warning) when there is nothing to index."""
    try:
        data = file.path.read_bytes()
    except OSError as exc:
        warn(f"skipped {file.source}: unreadable ({exc.strerror or exc})")
        return None
    if _looks_binary(data):
        warn(f"skipped {file.source}: binary content")
        return None
    raw = _decode(data)
    suffix = file.path.suffix.lower()
    if suffix in {".html", ".htm"}:
        title, date, text, body_start = _parse_html(raw)
    elif suffix in {".md", ".markdown"}:
        title, date, text, body_start = _parse_markdown(raw)
    else:
        title, date, text, body_start = None, *_split_date(raw)
    if not text[body_start:].strip():
        warn(f"skipped {file.source}: no text")
        return None
    return Document(
        source=file.source,
        title=title or _title_from_name(file.path),
        date=date,
        text=text,
        body_start=body_start,
        sha256=file.sha256,
    )


def _looks_binary(data: bytes) -> bool:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a BOM is text
        return False
    return b"\x00" in data[:8192]


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8-sig", errors="replace")


def _split_date(text: str) -> tuple[str | None, str, int]:
    match = _DATE_PREFIX.match(text)
    if not match:
        return None, text, 0
    return match.group(1), text, match.end()


def _parse_markdown(text: str) -> tuple[str | None, str | None, str, int]:
    title = date = None
    body_start = 0
    match = _FRONT_MATTER.match(text)
    if match:
        meta = _front_matter(text[: match.end()])
        title = _clean(meta.get("title"))
        date = _clean(meta.get("date"))
        body_start = match.end()
    if date is None:
        found, _, start = _split_date(text[body_start:])
        if found:
            date, body_start = found, body_start + start
    if title is None:
        heading = _MD_HEADING.search(text, body_start)
        title = heading.group(1).strip() if heading else None
    return title, date, text, body_start


def _front_matter(block: str) -> dict:
    import frontmatter
    import yaml

    try:
        return frontmatter.loads(block).metadata
    except (yaml.YAMLError, ValueError):
        return {}


def _parse_html(raw: str) -> tuple[str | None, str | None, str, int]:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(raw)
    title_node = tree.css_first("title") or tree.css_first("h1")
    title = _clean(title_node.text(strip=True)) if title_node else None
    date_node = tree.css_first('meta[name="date"], meta[property="article:published_time"]')
    date = _clean((date_node.attributes.get("content") or "")[:10]) if date_node else None
    tree.strip_tags(["script", "style", "noscript", "template", "head"])
    body = tree.body or tree.root
    text = body.text(separator="\n", strip=True) if body else ""
    text = re.sub(r"\n{3,}", "\n\n", text)
    if date is None:
        date, text, start = _split_date(text)
        return title, date, text, start
    return title, date, text, 0


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _title_from_name(path: Path) -> str:
    stem = re.sub(r"^\d{4}-\d{2}-\d{2}[-_ ]*", "", path.stem)
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else path.name

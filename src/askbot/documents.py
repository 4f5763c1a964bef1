"""Documents: find the files under a docs folder and turn each into text, title and date.

Supported: `.txt`, `.md` (optional YAML front matter with title/date), `.html`/`.htm`, `.pdf`
and `.docx` (read by pdf.py and word.py in a bounded worker process, extraction.py). A leading
`date YYYY-MM-DD` line (as news exports carry) becomes the document date. Headings become
section paths (sections.py). Line-break hyphenation is undone in extracted text (PDF, DOCX,
HTML: hyphenation.py), not in .txt/.md, whose offsets cite the file as written (on papers-dev,
PDF-made .txt, 21 of 910 gold answers quote the broken form and were lost; see README).
Anything unsupported, unreadable, too large, binary or empty is skipped with one warning line.

The folder is treated as untrusted input: symbolic links and special files (FIFOs, devices) are
never opened, file names that are not valid UTF-8 are skipped, control characters in the text
become spaces (they would reach terminals otherwise), front-matter values must be plain scalars,
and HTML nesting is capped before parsing (HTML5 tree building is quadratic in depth).
"""

from __future__ import annotations

import bisect
import datetime
import hashlib
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from . import webpages
from .extracted import Extracted, Unreadable
from .extraction import Extractor, Limits
from .hyphenation import dehyphenate
from .sections import Heading, clean_heading, section_label, top_level_breaks
from .settings import Settings

SUPPORTED_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}
EXTRACTED = {".pdf": "pdf", ".docx": "docx"}  # suffix -> reader kind in the extraction worker
_DATE_PREFIX = re.compile(r"\A\s*date\s+(\d{4}-\d{2}-\d{2})\b[ \t]*\n?", re.IGNORECASE)
_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
_MD_FENCE = re.compile(r"^ {0,3}(```|~~~).*?(?:^ {0,3}\1[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n.*?\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WORDS = re.compile(r"[^\W_]+")
_DATE_META = 'meta[name="date"], meta[property="article:published_time"]'
# C0 controls other than tab/newline/CR, DEL and C1 controls: never text, and unsafe on a terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^>]*>")
# Elements that never nest (void) or close themselves implicitly (p, li, td...): no depth.
_FLAT_TAGS = frozenset(
    "area base br col embed hr img input link meta source track wbr "
    "p li dt dd option optgroup tr td th thead tbody tfoot rb rt rp colgroup caption".split()
)
MAX_HTML_DEPTH = 512  # as browsers cap it; deeper tags are dropped, their text is kept
MAX_TITLE_CHARS = 300  # longer than any real title; a <title> holding a whole page stops here
BINARY_SHARE = 0.3  # share of undecodable or control characters that marks a file as binary

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Document:
    """One source file as askbot indexes it.

    `text` is what offsets refer to: the decoded file for .txt/.md, the extracted text for HTML,
    PDF and DOCX (line-break hyphenation undone in each). `body_start` is where indexable text
    begins (after a date line or front matter).
    """

    source: str  # path relative to the docs folder, with forward slashes
    title: str
    date: str | None
    text: str
    body_start: int
    sha256: str
    pages: tuple[int, ...] = ()  # where each page starts in `text`, page 1 first; () when not paged
    headings: tuple[Heading, ...] = ()  # sorted by offset
    url: str | None = None  # where a fetched page came from

    def page_at(self, offset: int) -> int | None:
        """The page (1-based) holding the character at `offset`, None when the document has no pages."""
        return max(1, bisect.bisect_right(self.pages, offset)) if self.pages else None

    def section(self, start: int, end: int) -> str | None:
        """The section path of text[start:end] ("Installation › Linux"), None outside any section."""
        return section_label(self.headings, start, end, self.title) if self.headings else None

    def section_breaks(self) -> tuple[int, ...]:
        """Offsets where a top-level section starts: a chunk should not run across one.

        A break after nothing but headings (the title above the first section) is dropped, so
        no chunk is a heading alone."""
        kept, previous = [], self.body_start
        for offset in top_level_breaks(self.headings, self.title):
            heading_words = sum(len(h.text.split()) for h in self.headings if previous <= h.offset < offset)
            if len(_WORDS.findall(self.text, previous, offset)) > heading_words:
                kept.append(offset)
                previous = offset
        return tuple(kept)


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
    for path in sorted(walk(root, warn)):
        source = path.relative_to(root).as_posix()
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            warn(f"skipped {shown(source)}: unsupported file type")
            continue
        if not _is_utf8(source):
            warn(f"skipped {shown(source)}: the file name is not valid UTF-8 (rename the file)")
            continue
        try:
            data = read_regular(path, max_bytes)
        except SkipFile as skip:
            warn(f"skipped {shown(source)}: {skip}")
            continue
        found.append(SourceFile(source, path, hashlib.sha256(data).hexdigest()))
    return found


class SkipFile(Exception):
    """Why a file is not read; the message completes "skipped <file>: ..."."""


def read_regular(path: Path, max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file, opened without following a symlink; at most max_bytes."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise SkipFile(f"unreadable ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SkipFile("not a regular file")
        limit = sys.maxsize if max_bytes is None else max_bytes
        blocks, size = [], 0
        while size <= limit and (block := os.read(fd, 1 << 20)):
            blocks.append(block)
            size += len(block)
    except OSError as exc:
        raise SkipFile(f"unreadable ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if max_bytes is not None and size > max_bytes:
        raise SkipFile(f"{max(size, info.st_size):,} bytes is over the {max_bytes:,}-byte limit (ASKBOT_MAX_FILE_BYTES)")
    return b"".join(blocks)


def walk(root: Path, warn: Warn) -> Iterator[Path]:
    """Regular files under root; hidden entries are ignored, links and special files reported."""

    def unreadable(error: OSError) -> None:
        where = Path(error.filename).relative_to(root).as_posix() if error.filename else "?"
        warn(f"skipped {shown(where)}/: unreadable folder ({error.strerror or error})")

    for folder, dirs, files in os.walk(root, onerror=unreadable):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in [d for d in dirs if (here / d).is_symlink()]:
            warn(f"skipped {shown((here / name).relative_to(root).as_posix())}/: symbolic link (not followed)")
            dirs.remove(name)
        for name in sorted(files):
            path = here / name
            if name.startswith("."):
                continue
            if path.is_symlink():
                warn(f"skipped {shown(path.relative_to(root).as_posix())}: symbolic link (not followed)")
            elif not path.is_file():
                warn(f"skipped {shown(path.relative_to(root).as_posix())}: not a regular file")
            else:
                yield path


def shown(source: str) -> str:
    """A file name fit for one warning line: undecodable bytes and control characters escaped."""
    text = os.fsencode(source).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def load(
    file: SourceFile, warn: Warn, max_bytes: int | None = None, extractor: Extractor | None = None
) -> Document | None:
    """Parse one scanned file; None (with a warning) when there is nothing to index.

    PDF and DOCX files go to `extractor` (one worker for a whole build); without one, a worker
    is started for this file alone."""
    try:
        data = read_regular(file.path, max_bytes)
    except SkipFile as skip:
        warn(f"skipped {shown(file.source)}: {skip}")
        return None
    record = webpages.read_record(file.path)
    kind = EXTRACTED.get(file.path.suffix.lower())
    if kind:
        doc = _load_extracted(file, data, kind, warn, extractor)
    else:
        doc = _load_text(file, data, warn, record)
    return replace(doc, url=record.url) if doc is not None and record is not None else doc


def _load_text(file: SourceFile, data: bytes, warn: Warn, record: webpages.PageRecord | None) -> Document | None:
    raw = _decode(data)
    if _looks_binary(data, raw):
        warn(f"skipped {shown(file.source)}: binary content")
        return None
    suffix = file.path.suffix.lower()
    headings: tuple[Heading, ...] = ()
    if suffix in {".html", ".htm"} and record is not None:
        title, date, text, body_start, headings = _parse_fetched_html(raw, record.url)
    elif suffix in {".html", ".htm"}:
        title, date, text, body_start, headings = _parse_html(raw)
    elif suffix in {".md", ".markdown"}:
        title, date, text, body_start, headings = _parse_markdown(raw)
    else:
        title, date, text, body_start = None, *_split_date(raw)
    text = _CONTROL.sub(" ", text)  # one for one: offsets still count the decoded characters
    if not text[body_start:].strip():
        warn(f"skipped {shown(file.source)}: no text")
        return None
    return Document(
        source=file.source,
        title=title or _title_from_name(file.path),
        date=date,
        text=text,
        body_start=body_start,
        sha256=hashlib.sha256(data).hexdigest(),  # of the bytes indexed, even if the file changed since scan
        headings=headings,
    )


def _load_extracted(file: SourceFile, data: bytes, kind: str, warn: Warn, extractor: Extractor | None) -> Document | None:
    try:
        if extractor is None:
            with Extractor(Limits.from_settings(Settings())) as own:
                extracted = own.extract(kind, file.path)
        else:
            extracted = extractor.extract(kind, file.path)
    except Unreadable as why:
        warn(f"skipped {shown(file.source)}: {why}")
        return None
    return _document(file, data, extracted)


def _document(file: SourceFile, data: bytes, extracted: Extracted) -> Document:
    text = _CONTROL.sub(" ", extracted.text)
    return Document(
        source=file.source,
        title=_clean(extracted.title) or _title_from_name(file.path),
        date=extracted.date,
        text=text,
        body_start=0,
        sha256=hashlib.sha256(data).hexdigest(),
        pages=tuple(extracted.pages),
        headings=tuple(Heading(o, level, t) for o, level, t in extracted.headings),
    )


def _looks_binary(data: bytes, text: str) -> bool:
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 has NULs
        return True
    head = text[:8192]
    junk = head.count("\ufffd") + len(_CONTROL.findall(head))
    return junk > BINARY_SHARE * len(head)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8-sig", errors="replace")


def _split_date(text: str) -> tuple[str | None, str, int]:
    match = _DATE_PREFIX.match(text)
    if not match:
        return None, text, 0
    return match.group(1), text, match.end()


def _parse_markdown(text: str) -> tuple[str | None, str | None, str, int, tuple[Heading, ...]]:
    title = date = None
    body_start = 0
    match = _FRONT_MATTER.match(text)
    if match:
        meta = _front_matter(text[: match.end()])
        title = _clean(meta.get("title"))
        date = _iso_date(meta.get("date"))
        body_start = match.end()
    if date is None:
        found, _, start = _split_date(text[body_start:])
        if found:
            date, body_start = found, body_start + start
    headings = _markdown_headings(text, body_start)
    if title is None and headings:
        title = _clean(headings[0].text)
    return title, date, text, body_start, headings


def _markdown_headings(text: str, start: int) -> tuple[Heading, ...]:
    """ATX headings ("## Linux") outside fenced code blocks, where a "# comment" is no heading."""
    fences = [m.span() for m in _MD_FENCE.finditer(text, start)]
    found = []
    for match in _MD_HEADING.finditer(text, start):
        if any(a <= match.start() < b for a, b in fences):
            continue
        if heading := clean_heading(match.group(2)):
            found.append(Heading(match.start(), len(match.group(1)), heading))
    return tuple(found)


def _front_matter(block: str) -> dict:
    import frontmatter
    import yaml

    try:
        meta = frontmatter.loads(block).metadata
    except (yaml.YAMLError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _parse_html(raw: str) -> tuple[str | None, str | None, str, int, tuple[Heading, ...]]:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(_limit_nesting(raw))
    title_node = tree.css_first("title") or tree.css_first("h1")
    title = _clean(title_node.text(strip=True)) if title_node else None
    date_node = tree.css_first(_DATE_META)
    date = _iso_date(date_node.attributes.get("content")) if date_node else None
    tree.strip_tags(["script", "style", "noscript", "template", "head"])
    body = tree.body or tree.root
    for node in body.css("h1, h2, h3, h4, h5, h6") if body else []:
        node.insert_before(" ")  # an empty text node on each side: a heading is a paragraph of its own
        node.insert_after(" ")
    text = body.text(separator="\n", strip=True) if body else ""
    text = dehyphenate(re.sub(r"\n{3,}", "\n\n", text).strip())
    start = 0
    if date is None:
        date, text, start = _split_date(text)
    return title, date, text, start, _html_headings(body, text, start)


def _parse_fetched_html(raw: str, url: str) -> tuple[str | None, str | None, str, int, tuple[Heading, ...]]:
    """A fetched page: its main content only (webpages.main_content), titled by the content's
    first <h1> (else the page's <title>) and dated as the page says."""
    shallow = _limit_nesting(raw)
    content = webpages.main_content(shallow, url)
    if content is None:
        return _parse_html(raw)
    h1, _, text, body_start, headings = _parse_html(content)  # the content has no <title>: h1 or None
    title, date = _declared_title_and_date(shallow)
    return h1 or title, date, text, body_start, headings


def _declared_title_and_date(html: str) -> tuple[str | None, str | None]:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    title, date = tree.css_first("title"), tree.css_first(_DATE_META)
    return (_clean(title.text(strip=True)) if title else None), (_iso_date(date.attributes.get("content")) if date else None)


def _html_headings(body, text: str, start: int) -> tuple[Heading, ...]:
    """<h1>..<h6> in document order, placed by finding each one's text in the extracted text."""
    found, cursor = [], start
    for node in body.css("h1, h2, h3, h4, h5, h6") if body else []:
        heading = clean_heading(dehyphenate(node.text(separator=" ", strip=True)))
        at = _find_line_start(text, heading, cursor) if heading else -1
        if at >= 0:
            found.append(Heading(at, int(node.tag[1]), heading))
            cursor = at + 1
    return tuple(found)


def _find_line_start(text: str, heading: str, cursor: int) -> int:
    """Where `heading` starts in text at or after cursor, its words allowed to wrap; -1 if absent."""
    words = heading.split()
    pattern = r"\s+".join(map(re.escape, words))
    match = re.compile(pattern).search(text, cursor)
    return match.start() if match else -1


def _limit_nesting(raw: str) -> str:
    """Drop tags nested deeper than MAX_HTML_DEPTH, keeping their text.

    The depth count is approximate (it trusts end tags), which is all a cap needs.
    """
    depth = 0

    def keep_shallow(tag: re.Match) -> str:
        nonlocal depth
        closing, name = tag.group(1), tag.group(2).lower()
        if name in _FLAT_TAGS or tag.group(0).endswith("/>"):
            return tag.group(0)
        if closing:
            depth = max(0, depth - 1)
            return tag.group(0) if depth < MAX_HTML_DEPTH else " "
        depth += 1
        return tag.group(0) if depth <= MAX_HTML_DEPTH else " "

    return _TAG.sub(keep_shallow, raw)


def _clean(value: object) -> str | None:
    """A plain scalar as one line of text (titles); lists, maps and YAML alias bombs are ignored."""
    if not isinstance(value, (str, int, float, datetime.date)):
        return None
    text = " ".join(_CONTROL.sub(" ", str(value)).split())[:MAX_TITLE_CHARS]
    return text or None


def _iso_date(value: object) -> str | None:
    text = str(value)[:10] if isinstance(value, (str, datetime.date)) else ""
    return text if _ISO_DATE.fullmatch(text) else None


def _title_from_name(path: Path) -> str:
    stem = re.sub(r"^\d{4}-\d{2}-\d{2}[-_ ]*", "", path.stem)
    words = " ".join(re.sub(r"[-_]+", " ", stem).split())[:MAX_TITLE_CHARS]
    return words[:1].upper() + words[1:] if words else shown(path.name)

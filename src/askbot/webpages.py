"""Fetched pages in the docs folder: the record kept beside each one, and its main content.

`askbot fetch` saves each page as it was served (`guide/install.html`, or `.pdf`) and beside it a
hidden record, `guide/.install.html.json`: the page's URL, when it was fetched, and the ETag and
Last-Modified the server sent (for conditional requests next time). Hidden files are not
documents, so the folder stays the one source of truth and `index build` works as for any file.

When the loader meets a page with a record, the citation is its URL, and for HTML only the main
content is indexed: trafilatura (Apache-2.0) drops navigation, sidebars, cookie banners and
footers, and keeps headings, paragraphs and tables as clean HTML that the ordinary HTML reader
then turns into text and section paths. A page trafilatura finds nothing in is read whole.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

RECORD_SUFFIX = ".json"

MAX_RECORD_BYTES = 64_000
MAX_URL_CHARS = 2000


@dataclass(frozen=True)
class PageRecord:
    url: str
    fetched_at: str  # UTC, ISO 8601
    etag: str | None = None
    last_modified: str | None = None


def record_path(page: Path) -> Path:
    return page.with_name(f".{page.name}{RECORD_SUFFIX}")


def read_record(page: Path) -> PageRecord | None:
    """The page's record, or None when it has none (or an unusable one: then it is a plain file)."""
    from .documents import SkipFile, read_regular

    try:
        data = json.loads(read_regular(record_path(page), MAX_RECORD_BYTES).decode("utf-8"))
    except (SkipFile, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    url = data.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > MAX_URL_CHARS:
        return None
    text = {k: v if isinstance(v, str) else None for k, v in data.items()}
    return PageRecord(url, text.get("fetched_at") or "", text.get("etag"), text.get("last_modified"))


def write_page(page: Path, body: bytes, record: PageRecord) -> None:
    """The page and then its record, each written whole (temporary file, then renamed)."""
    page.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(page, body)
    _write_atomically(record_path(page), json.dumps(asdict(record), indent=1).encode("utf-8"))


def remove_page(page: Path) -> None:
    for path in (page, record_path(page)):
        path.unlink(missing_ok=True)


def recorded_pages(folder: Path) -> dict[str, Path]:
    """URL -> page file, for every page with a record under folder."""
    pages: dict[str, Path] = {}
    if not folder.is_dir():
        return pages
    for record in folder.rglob(f".*{RECORD_SUFFIX}"):
        page = record.with_name(record.name[1 : -len(RECORD_SUFFIX)])
        if page.is_file() and (found := read_record(page)) is not None:
            pages[found.url] = page
    return pages


def main_content(html: str, url: str) -> str | None:
    """The page's main content as simple HTML (headings, paragraphs, tables), None if none found.

    Without trafilatura's metadata: its date is a guess and finding it (htmldate) took more than
    half the time (235 -> 106 ms a page); the loader takes the title and date the page declares."""
    import trafilatura

    return trafilatura.extract(
        html,
        url=url,
        output_format="html",
        include_formatting=True,
        include_tables=True,
        include_links=False,
        include_images=False,
        include_comments=False,
        with_metadata=False,
        favor_recall=True,
    )


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

"""`askbot fetch`: copy a documentation site's pages into the docs folder, politely.

From each start URL the crawl follows links that stay on its host and under its path prefix
(`https://example.org/docs/intro.html` keeps to `https://example.org/docs/`), and with
`--sitemap` the site's sitemap.xml (and those robots.txt names) as well. It honours robots.txt,
sends a User-Agent naming askbot, makes one request at a time with ASKBOT_FETCH_DELAY_SECONDS
between requests (or the site's Crawl-delay, if longer), follows at most 5 redirects, never
off the host, and keeps at most --max-pages pages.

Each page is saved as served (HTML in another charset re-encoded as UTF-8),
`<docs>/<host>/<path>.html` (or `.pdf`), with a hidden record of
its URL, fetch time, ETag and Last-Modified beside it (webpages.py). A second run sends those
back (If-None-Match / If-Modified-Since), so an unchanged page costs a 304 and no rewrite, and
removes the pages the site dropped: those answering 404/410, and, when the crawl finished
within --max-pages, those no link or sitemap reaches any more.

Every failure (DNS, timeout, 4xx/5xx, not HTML or PDF, over ASKBOT_MAX_FILE_BYTES, a redirect
off the host, an endless series of numbered pages such as a calendar) is one line and the crawl
goes on. A series is endless when more than SERIES_PAGES pages differ only in their numbers.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import urllib.robotparser
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__, webpages
from .errors import UsageError

USER_AGENT = f"askbot/{__version__} (documentation fetcher; +https://github.com/askbot)"
MAX_REDIRECTS = 5
SERIES_PAGES = 50  # pages differing only in numbers (a calendar's months) before the series is cut
ROBOTS_BYTES = 500_000
PAGE_TYPES = {"text/html": ".html", "application/xhtml+xml": ".html", "application/pdf": ".pdf"}
_NUMBERS = re.compile(r"\d+")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")

Notify = Callable[[str], None]


@dataclass(frozen=True)
class FetchReport:
    fetched: int
    unchanged: int
    removed: int
    skipped: int
    seconds: float

    def summary(self) -> str:
        return (
            f"fetched {self.fetched}, unchanged {self.unchanged}, removed {self.removed}, "
            f"skipped {self.skipped}, {self.seconds:.1f} s"
        )


class Skip(Exception):
    """Why a URL gives no page; the message completes "skipped <url>: ..."."""


class Gone(Skip):
    """The server says the page does not exist (404, 410): a saved copy is removed."""


class AlreadyFetched(Exception):
    """A redirect leads to a page this run has fetched already."""


@dataclass
class Response:
    url: str  # after redirects
    status: int  # 200, or 304 (not modified)
    content_type: str
    body: bytes
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class Scope:
    """Where a crawl may go: one scheme, host and port, under one path prefix."""

    scheme: str
    netloc: str
    prefix: str

    @classmethod
    def of(cls, url: str) -> "Scope":
        parts = urllib.parse.urlsplit(url)
        return cls(parts.scheme, parts.netloc, parts.path[: parts.path.rfind("/") + 1] or "/")

    def holds(self, url: str) -> bool:
        parts = urllib.parse.urlsplit(url)
        return (parts.scheme, parts.netloc) == (self.scheme, self.netloc) and parts.path.startswith(self.prefix)

    @property
    def root(self) -> str:
        return f"{self.scheme}://{self.netloc}"


class Client:
    """One request at a time per host, the delay between the end of one and the start of the
    next; redirects followed by hand."""

    def __init__(self, delay: float, timeout: float, max_bytes: int):
        self.delay = delay
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._last: dict[str, float] = {}
        self._opener = urllib.request.build_opener(_NoRedirects)

    def get(
        self, url: str, scope: Scope, etag: str | None = None, last_modified: str | None = None, any_type: bool = False,
        done: Callable[[str], bool] = lambda _: False,
    ) -> Response:
        """The page at url (a 304 Response when the validators still hold); Skip says why not,
        AlreadyFetched when a redirect leads to a URL `done` accepts."""
        chain = [url]
        for _ in range(MAX_REDIRECTS + 1):
            location = self._request(url, etag, last_modified, any_type)
            if isinstance(location, Response):
                return location
            target = urllib.parse.urljoin(url, location)
            target_parts = urllib.parse.urlsplit(target)
            if target_parts.netloc != urllib.parse.urlsplit(url).netloc or target_parts.scheme not in ("http", "https"):
                raise Skip(f"redirected off the site (to {_shown(target)})")
            if not scope.holds(target):
                raise Skip(f"redirected outside {scope.root}{scope.prefix} (to {_shown(target)})")
            url = normalise(target)
            if url in chain:
                raise Skip(f"a redirect loop (back to {_shown(url)})")
            if done(url):
                raise AlreadyFetched(url)
            chain.append(url)
        raise Skip(f"more than {MAX_REDIRECTS} redirects")

    def _request(self, url: str, etag: str | None, last_modified: str | None, any_type: bool) -> Response | str:
        headers = {"User-Agent": USER_AGENT, "Accept": "text/html,application/xhtml+xml,application/pdf;q=0.9,*/*;q=0.1"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        host = urllib.parse.urlsplit(url).netloc
        self._wait(host)
        try:
            with self._opener.open(urllib.request.Request(url, headers=headers), timeout=self.timeout) as reply:
                return self._response(url, reply, any_type)
        except urllib.error.HTTPError as error:
            if error.code in (301, 302, 303, 307, 308) and error.headers.get("Location"):
                return error.headers["Location"]
            if error.code == 304:
                return Response(url, 304, "", b"", etag, last_modified)
            if error.code in (404, 410):
                raise Gone(f"HTTP {error.code}") from None
            raise Skip(f"HTTP {error.code}") from None
        except (socket.timeout, TimeoutError):
            raise Skip(f"timed out after {self.timeout:g} s (ASKBOT_FETCH_TIMEOUT_SECONDS)") from None
        except urllib.error.URLError as error:
            raise Skip(f"cannot connect ({_reason(error.reason)})") from None
        except (OSError, ValueError) as error:
            raise Skip(f"cannot fetch ({_reason(error)})") from None
        finally:
            self._last[host] = time.monotonic()  # the pause runs from the end of this request

    def _response(self, url: str, reply, any_type: bool) -> Response:
        content_type = reply.headers.get_content_type()
        if content_type not in PAGE_TYPES and not any_type:
            raise Skip(f"not HTML or PDF ({content_type})")
        declared = reply.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise Skip(f"{int(declared):,} bytes is over the {self.max_bytes:,}-byte limit (ASKBOT_MAX_FILE_BYTES)")
        body = reply.read(self.max_bytes + 1)
        if len(body) > self.max_bytes:
            raise Skip(f"over the {self.max_bytes:,}-byte limit (ASKBOT_MAX_FILE_BYTES)")
        charset = reply.headers.get_content_charset()
        if content_type != "application/pdf" and charset and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
            body = _as_utf8(body, charset)  # docs/ holds UTF-8, which the loader reads
        return Response(url, 200, content_type, body, reply.headers.get("ETag"), reply.headers.get("Last-Modified"))

    def _wait(self, host: str) -> None:
        if host in self._last:
            pause = self._last[host] + self.delay - time.monotonic()
            if pause > 0:
                time.sleep(pause)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 3xx reaches Client._request as an HTTPError, which follows it within the rules


@dataclass
class Crawl:
    """The state of one `askbot fetch` run."""

    docs: Path
    client: Client
    max_pages: int
    notify: Notify
    progress: Callable[[int], None] = lambda _: None
    kept: int = 0
    counts: Counter = field(default_factory=Counter)
    series: Counter = field(default_factory=Counter)
    cut_series: set = field(default_factory=set)

    def run(self, start_urls: Iterable[str], sitemap: bool) -> FetchReport:
        started = time.perf_counter()
        for start in start_urls:
            self._site(normalise(start), sitemap)
        return FetchReport(
            self.counts["fetched"], self.counts["unchanged"], self.counts["removed"], self.counts["skipped"],
            time.perf_counter() - started,
        )

    def _site(self, start: str, sitemap: bool) -> None:
        scope = Scope.of(start)
        folder = self.docs / site_folder(scope)
        recorded = {url: path for url, path in webpages.recorded_pages(folder).items() if scope.holds(url)}
        robots = self._robots(scope)
        if robots.crawl_delay(USER_AGENT):
            self.client.delay = max(self.client.delay, float(robots.crawl_delay(USER_AGENT) or 0))
        queue: deque[str] = deque([start])
        seen = {start}
        if sitemap:
            for url in self._sitemap_urls(scope, robots):
                if url not in seen:
                    seen.add(url)
                    queue.append(url)
        visited: set[str] = set()
        while queue:
            if self.kept >= self.max_pages:
                self.notify(f"stopped at --max-pages {self.max_pages}; {len(queue)} more pages not fetched")
                return  # an unfinished crawl removes nothing: unreached pages may still exist
            url = queue.popleft()
            if not robots.can_fetch(USER_AGENT, url):
                self._skip(url, "disallowed by robots.txt")
                continue
            visited.add(url)
            for link in self._page(url, scope, folder, recorded, visited):
                if link not in seen and scope.holds(link) and self._not_endless(link):
                    seen.add(link)
                    queue.append(link)
        for url, path in recorded.items():
            if url not in visited and path.exists():
                webpages.remove_page(path)
                self.counts["removed"] += 1

    def _page(self, url: str, scope: Scope, folder: Path, recorded: dict[str, Path], visited: set[str]) -> list[str]:
        """Fetch one page (conditionally when it was saved before), save it; its links."""
        saved = recorded.get(url)
        previous = webpages.read_record(saved) if saved else None
        try:
            reply = self.client.get(
                url, scope, previous.etag if previous else None, previous.last_modified if previous else None,
                done=visited.__contains__,
            )
        except AlreadyFetched:
            return []
        except Gone as gone:
            self._skip(url, str(gone))
            if saved is not None:
                webpages.remove_page(saved)
                self.counts["removed"] += 1
                del recorded[url]
            return []
        except Skip as skip:
            self._skip(url, str(skip))  # a saved copy stays: a failure is no proof the page is gone
            return []
        visited.add(reply.url)
        self.kept += 1
        self.progress(self.kept)
        if reply.status == 304 and saved is not None:
            self.counts["unchanged"] += 1
            return links(saved.read_bytes(), url) if saved.suffix == ".html" else []
        path = folder / page_path(reply.url, scope, PAGE_TYPES[reply.content_type])
        if saved is not None and saved != path:
            webpages.remove_page(saved)
        unchanged = path.exists() and path.read_bytes() == reply.body
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        if not unchanged:
            webpages.write_page(path, reply.body, webpages.PageRecord(reply.url, now, reply.etag, reply.last_modified))
        self.counts["unchanged" if unchanged else "fetched"] += 1
        return links(reply.body, reply.url) if reply.content_type != "application/pdf" else []

    def _robots(self, scope: Scope) -> urllib.robotparser.RobotFileParser:
        robots = urllib.robotparser.RobotFileParser()
        try:
            reply = self.client.get(f"{scope.root}/robots.txt", Scope.of(f"{scope.root}/"), any_type=True)
            lines = reply.body[:ROBOTS_BYTES].decode("utf-8", "replace").splitlines()
        except Skip:
            lines = []  # no robots.txt (or none readable): everything is allowed
        robots.parse(lines)
        return robots

    def _sitemap_urls(self, scope: Scope, robots: urllib.robotparser.RobotFileParser) -> list[str]:
        found: list[str] = []
        for sitemap in dict.fromkeys([*(robots.site_maps() or []), f"{scope.root}/sitemap.xml"]):
            try:
                reply = self.client.get(normalise(sitemap), Scope.of(f"{scope.root}/"), any_type=True)
            except Skip as skip:
                self._skip(sitemap, str(skip))
                continue
            found += [u for u in sitemap_locations(reply.body) if scope.holds(u)]
        return found

    def _not_endless(self, url: str) -> bool:
        shape = series_shape(url)
        if shape is None:
            return True
        self.series[shape] += 1
        if self.series[shape] <= SERIES_PAGES:
            return True
        if shape not in self.cut_series:
            self.cut_series.add(shape)
            self.counts["skipped"] += 1
            self.notify(f"skipped {_shown(shape)}: an endless series of pages (stopped after {SERIES_PAGES})")
        return False

    def _skip(self, url: str, why: str) -> None:
        self.counts["skipped"] += 1
        self.notify(f"skipped {_shown(url)}: {why}")


def fetch(
    urls: Iterable[str], docs: Path, *, sitemap: bool, max_pages: int, delay: float, timeout: float, max_bytes: int,
    notify: Notify, progress: Callable[[int], None] = lambda _: None,
) -> FetchReport:
    starts = [check_url(u) for u in urls]
    crawl = Crawl(docs, Client(delay, timeout, max_bytes), max_pages, notify, progress)
    return crawl.run(starts, sitemap)


def check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"not an http(s) URL: {_shown(url)}")
    return url.strip()


def normalise(url: str) -> str:
    """Without the fragment, the host in lower case, default ports dropped, "" path as "/"."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.lower()
    if (parts.scheme, parts.port) in (("http", 80), ("https", 443)):
        netloc = netloc.rsplit(":", 1)[0]
    return urllib.parse.urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def links(body: bytes, base: str) -> list[str]:
    """Absolute http(s) links of a page, normalised, in order."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(body.decode("utf-8", "replace"))
    base_node = tree.css_first("base[href]")
    base = urllib.parse.urljoin(base, base_node.attributes.get("href") or "") if base_node else base
    found = []
    for node in tree.css("a[href]"):
        href = (node.attributes.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "javascript:", "tel:")):
            continue
        url = urllib.parse.urljoin(base, href)
        if urllib.parse.urlsplit(url).scheme in ("http", "https"):
            found.append(normalise(url))
    return list(dict.fromkeys(found))


def sitemap_locations(body: bytes) -> list[str]:
    """The <loc> URLs of a sitemap (entities and CDATA aside, plain text is enough)."""
    text = body.decode("utf-8", "replace")
    return [normalise(m.strip()) for m in re.findall(r"<loc>\s*(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?\s*</loc>", text, re.S)]


def series_shape(url: str) -> str | None:
    """The URL with its numbers blanked out ("/cal?month=#"), or None when it holds no number."""
    parts = urllib.parse.urlsplit(url)
    tail = f"{parts.path}?{parts.query}" if parts.query else parts.path
    return f"{parts.netloc}{_NUMBERS.sub('#', tail)}" if _NUMBERS.search(tail) else None


def site_folder(scope: Scope) -> str:
    return _SAFE.sub("_", scope.netloc.replace(":", "_"))


def page_path(url: str, scope: Scope, suffix: str) -> Path:
    """Where a page is saved under its site folder: the URL path, made safe, ending in suffix."""
    parts = urllib.parse.urlsplit(url)
    raw = parts.path.split("/")[1:] or [""]
    raw[-1] = raw[-1] or "index"  # "/docs/" is saved as docs/index.html
    segments = [_SAFE.sub("_", urllib.parse.unquote(s)).lstrip(".") or "_" for s in raw]
    name = segments[-1]
    stem = name[: -len(suffix)] if name.lower().endswith(suffix) else name
    if parts.query:
        stem += "-" + hashlib.sha1(parts.query.encode()).hexdigest()[:10]
    segments[-1] = stem[:150] + suffix
    return Path(*segments)


def _as_utf8(body: bytes, charset: str) -> bytes:
    try:
        return body.decode(charset, "replace").encode("utf-8")
    except LookupError:  # an unknown charset name: keep the bytes
        return body


def _reason(reason: object) -> str:
    text = " ".join(str(reason).split())
    return text[:160] or type(reason).__name__


def _shown(url: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in url)[:300]


def progress_printer(total: int) -> Callable[[int], None] | None:
    """A one-line counter on stderr when it is a terminal (None otherwise); end it with a newline."""
    if not sys.stderr.isatty():
        return None

    def show(done: int) -> None:
        print(f"\r\x1b[Kfetching: {done} of at most {total} pages", end="", file=sys.stderr, flush=True)

    return show

"""`askbot fetch` against a small site served on 127.0.0.1 by the test: nav, robots.txt, a
sitemap, redirects, a 404, a 500, a redirect loop, an endless calendar, a large page, an image,
a PDF link; then a second run against the changed site, and the fetched pages indexed."""

from __future__ import annotations

import hashlib
import re
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from askbot import fetch
from askbot.documents import SourceFile, load
from askbot.webpages import read_record
from doc_factory import Section, make_pdf, page_html, prose, seed_html, serve

BIG = 300_000
LIMIT = 200_000
page = page_html


class Site:
    """Routes of the test site; tests change them between runs."""

    def __init__(self, pdf: bytes):
        links = "".join(
            f'<a href="{href}">{href}</a> '
            for href in [
                "install.html", "usage.html", "seed.html", "old.html", "missing.html", "broken.html", "moved.html",
                "offsite.html", "redirect-loop.html", "chain-0.html", "big.html", "logo.png", "manual.pdf", "cal?month=1",
                "private/secret.html", "/outside/page.html", "slow.html", "install.html#linux",
            ]
        )
        self.routes: dict[str, tuple[int, str, bytes] | tuple[int, str]] = {
            "/robots.txt": (200, "text/plain", b"User-agent: *\nDisallow: /docs/private/\n"),
            "/sitemap.xml": (200, "application/xml", b""),
            "/docs/": (200, "text/html", page("Example docs", "<p>Welcome to the example documentation.</p>", links)),
            "/docs/install.html": (200, "text/html", page("Install", "<h2>Linux</h2><p>" + prose("install", 4) + "</p>")),
            "/docs/usage.html": (200, "text/html; charset=iso-8859-1", page("Usage", "<p>Café " + prose("usage", 4) + "</p>").decode().encode("latin-1")),
            "/docs/seed.html": (200, "text/html; charset=utf-8", seed_html()),
            "/docs/old.html": (200, "text/html", page("Old", "<p>An old page about the old procedure.</p>")),
            "/docs/orphan.html": (200, "text/html", page("Orphan", "<p>Only the sitemap lists this page.</p>")),
            "/docs/broken.html": (500, "text/html", b"oops"),
            "/docs/moved.html": (301, "/docs/install.html"),
            "/docs/offsite.html": (302, "http://localhost:1/docs/elsewhere.html"),
            "/docs/redirect-loop.html": (302, "/docs/redirect-loop.html?again"),
            "/docs/redirect-loop.html?again": (302, "/docs/redirect-loop.html"),
            **{f"/docs/chain-{i}.html": (302, f"/docs/chain-{i + 1}.html") for i in range(7)},
            "/docs/chain-7.html": (200, "text/html", page("End of the chain", "<p>Too far.</p>")),
            "/docs/big.html": (200, "text/html", b"<p>" + b"x" * BIG + b"</p>"),
            "/docs/logo.png": (200, "image/png", b"\x89PNG\r\n\x1a\n"),
            "/docs/manual.pdf": (200, "application/pdf", pdf),
            "/docs/private/secret.html": (200, "text/html", page("Secret", "<p>Robots may not read this.</p>")),
            "/outside/page.html": (200, "text/html", page("Outside", "<p>Outside the prefix.</p>")),
            "/docs/slow.html": (200, "text/html", page("Slow", "<p>Too slow.</p>")),
        }
        self.requests: list[tuple[float, str, str]] = []  # (time, path, User-Agent)

    def sitemap(self, base: str, paths: list[str]) -> None:
        locs = "".join(f"<url><loc>{base}{p}</loc></url>" for p in paths)
        self.routes["/sitemap.xml"] = (200, "application/xml", f'<?xml version="1.0"?><urlset>{locs}</urlset>'.encode())

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests.append((time.monotonic(), handler.path, handler.headers.get("User-Agent", "")))
        if handler.path.startswith("/docs/cal?month="):
            month = int(handler.path.rsplit("=", 1)[1])
            route = (200, "text/html", page(f"Month {month}", "<p>No events.</p>", f'<a href="cal?month={month + 1}">next</a>'))
        else:
            route = self.routes.get(handler.path, (404, "text/html", b"not found"))
        if handler.path == "/docs/slow.html":
            time.sleep(1.5)
        if route[0] in (301, 302):
            handler.send_response(route[0])
            handler.send_header("Location", route[1])
            handler.end_headers()
            return
        status, content_type, body = route
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        if status == 200 and handler.headers.get("If-None-Match") == etag:
            handler.send_response(304)
            handler.end_headers()
            return
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("ETag", etag)
        handler.end_headers()
        handler.wfile.write(body)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pdf = make_pdf(tmp_path_factory.mktemp("pdf") / "manual.pdf", [Section("Manual", [prose("manual", 6)])]).read_bytes()
    state = Site(pdf)
    with serve(state.answer) as base:
        state.base = base
        state.sitemap(base, ["/docs/", "/docs/orphan.html"])
        yield state


def run(site: Site, docs: Path, **options) -> tuple[fetch.FetchReport, list[str]]:
    lines: list[str] = []
    settings = dict(sitemap=True, max_pages=500, delay=0.0, timeout=1.0, max_bytes=LIMIT)
    report = fetch.fetch([f"{site.base}/docs/"], docs, notify=lines.append, **(settings | options))
    return report, lines


@pytest.fixture(scope="module")
def first_run(site, tmp_path_factory):
    docs = tmp_path_factory.mktemp("fetched")
    report, lines = run(site, docs)
    return docs, report, lines


def test_first_run_fetches_the_site_and_reports_each_failure_once(site, first_run):
    docs, report, lines = first_run
    base = site.base
    assert sorted(lines) == sorted(
        [
            f"skipped {base}/docs/missing.html: HTTP 404",
            f"skipped {base}/docs/broken.html: HTTP 500",
            f"skipped {base}/docs/offsite.html: redirected off the site (to http://localhost:1/docs/elsewhere.html)",
            f"skipped {base}/docs/redirect-loop.html: a redirect loop (back to {base}/docs/redirect-loop.html)",
            f"skipped {base}/docs/chain-0.html: more than 5 redirects",
            f"skipped {base}/docs/big.html: {BIG + 7:,} bytes is over the {LIMIT:,}-byte limit (ASKBOT_MAX_FILE_BYTES)",
            f"skipped {base}/docs/logo.png: not HTML or PDF (image/png)",
            f"skipped {base}/docs/private/secret.html: disallowed by robots.txt",
            f"skipped {base}/docs/slow.html: timed out after 1 s (ASKBOT_FETCH_TIMEOUT_SECONDS)",
            f"skipped 127.0.0.1:{base.rsplit(':', 1)[1]}/docs/cal?month=#: an endless series of pages (stopped after 50)",
        ]
    )
    saved = sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*") if p.is_file() and not p.name.startswith("."))
    folder = f"127.0.0.1_{base.rsplit(':', 1)[1]}"
    calendar = [p for p in saved if "/docs/cal-" in p]
    assert len(calendar) == 50
    assert [p for p in saved if p not in calendar] == [
        f"{folder}/docs/index.html", f"{folder}/docs/install.html", f"{folder}/docs/manual.pdf",
        f"{folder}/docs/old.html", f"{folder}/docs/orphan.html", f"{folder}/docs/seed.html", f"{folder}/docs/usage.html",
    ]
    assert (report.fetched, report.unchanged, report.removed, report.skipped) == (57, 0, 0, 10)
    assert read_record(docs / folder / "docs" / "install.html").url == f"{base}/docs/install.html"


def test_requests_name_askbot_and_never_leave_the_prefix(site, first_run):
    paths = [path for _, path, _ in site.requests]
    assert all(agent.startswith("askbot/") for _, _, agent in site.requests)
    assert "/outside/page.html" not in paths and "/docs/private/secret.html" not in paths
    assert paths.count("/docs/install.html") == 1  # the redirect and the #fragment link reuse it


def test_requests_are_spaced_by_the_delay(site, tmp_path):
    site.requests.clear()
    run(site, tmp_path, sitemap=False, max_pages=3, delay=0.3)
    times = [t for t, _, _ in site.requests]
    assert len(times) >= 4 and all(b - a >= 0.299 for a, b in zip(times, times[1:])), times


def test_a_fetched_page_is_indexed_without_nav_or_footer_and_cites_its_url(site, first_run):
    docs, _, _ = first_run
    path = next(docs.rglob("seed.html"))
    doc = load(SourceFile(path.name, path, ""), print)
    assert doc.url == f"{site.base}/docs/seed.html"
    assert doc.title == "OnePlus eyes US carriers after Huawei deal falls through"
    assert "Snapdragon 845" in doc.text
    assert not re.search(r"cookies|Copyright|Home\b", doc.text)


def test_a_fetched_pdf_is_read_as_a_pdf(site, first_run):
    docs, _, _ = first_run
    path = next(docs.rglob("manual.pdf"))
    doc = load(SourceFile(path.name, path, ""), print)
    assert doc.url == f"{site.base}/docs/manual.pdf" and doc.pages == (0,) and doc.title == "Manual"


def test_a_page_in_another_charset_is_saved_as_utf8(first_run):
    docs, _, _ = first_run
    assert "<p>Café The usage note" in next(docs.rglob("usage.html")).read_text(encoding="utf-8")


def test_second_run_refetches_only_changes_and_removes_dropped_pages(site, first_run, cli, monkeypatch):
    docs, _, _ = first_run
    site.routes["/docs/usage.html"] = (200, "text/html", page("Usage", "<p>" + prose("usage", 5, 9) + "</p>"))
    del site.routes["/docs/old.html"]  # now a 404: its copy goes
    site.sitemap(site.base, ["/docs/"])  # the orphan is no longer listed anywhere: its copy goes
    monkeypatch.setenv("ASKBOT_FETCH_DELAY_SECONDS", "0")
    monkeypatch.setenv("ASKBOT_FETCH_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("ASKBOT_MAX_FILE_BYTES", str(LIMIT))
    result = cli("fetch", f"{site.base}/docs/", "--sitemap", "--docs", str(docs))
    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(r"fetched 1, unchanged 54, removed 2, skipped 11, \d+\.\d s\n", result.stdout), result.stdout
    assert f"askbot: skipped {site.base}/docs/old.html: HTTP 404\n" in result.stderr
    assert not list(docs.rglob("old.html")) and not list(docs.rglob("orphan.html"))
    assert not list(docs.rglob(".old.html.json"))
    assert "step 4 of the usage" in next(docs.rglob("usage.html")).read_text(encoding="utf-8")



def test_a_bad_url_is_one_line(cli, tmp_path):
    result = cli("fetch", "ftp://example.org/", "--docs", str(tmp_path))
    assert result.exit_code != 0 and result.stderr == "askbot: error: not an http(s) URL: ftp://example.org/\n"


def test_an_unreachable_site_is_one_line_and_a_summary(tmp_path):
    lines: list[str] = []
    report = fetch.fetch(["http://127.0.0.1:1/docs/"], tmp_path, sitemap=False, max_pages=5, delay=0, timeout=2,
                         max_bytes=LIMIT, notify=lines.append)
    assert len(lines) == 1 and lines[0].startswith("skipped http://127.0.0.1:1/docs/: cannot connect (")
    assert (report.fetched, report.skipped) == (0, 1)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h/docs/", "docs/index.html"),
        ("http://h/docs/install", "docs/install.html"),
        ("http://h/docs/a b/../x.html", "docs/a_b/_/x.html"),
        ("http://h/docs/cal?month=3", "docs/cal-" + hashlib.sha1(b"month=3").hexdigest()[:10] + ".html"),
    ],
)
def test_page_paths_stay_inside_the_site_folder(url, expected):
    assert fetch.page_path(url, fetch.Scope.of("http://h/docs/"), ".html").as_posix() == expected

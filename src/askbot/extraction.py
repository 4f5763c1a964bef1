"""PDF and Word readers run in a worker process, bounded in time and memory per file.

A hostile or broken file must not hang a build or exhaust memory: a decompression bomb, a page
tree that loops, a zip bomb. Parsers are pure Python code that can loop or allocate without
limit, and a thread cannot be stopped, so the readers run in a child process
(`python -m askbot.extraction`) that:
- caps its own address space (RLIMIT_AS, ASKBOT_EXTRACT_MEMORY_MB above what it uses at start),
  so an allocation past the cap fails with MemoryError there, and the file is skipped;
- is killed when a file takes longer than ASKBOT_EXTRACT_SECONDS, and started again for the
  next file.
One worker serves a whole build (one start-up, ~0.3 s), so a folder of small PDFs does not pay a
process per file. The worker answers one JSON line per request. Where RLIMIT_AS is not enforced
(macOS) or missing (Windows), the time bound still holds.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from .extracted import Extracted, Unreadable
from .settings import Settings

START_SECONDS = 60.0  # the worker's own start-up (imports) is not charged to a file
_READY = "ready"


@dataclass(frozen=True)
class Limits:
    seconds: float  # per file
    memory_mb: int  # address space the worker may add to what it holds at start
    max_pdf_pages: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limits":
        return cls(settings.extract_seconds, settings.extract_memory_mb, settings.max_pdf_pages)


class Extractor:
    """A worker process that reads PDF and DOCX files; use it as a context manager."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self._process: subprocess.Popen | None = None
        self._replies: queue.Queue[str | None] = queue.Queue()

    def __enter__(self) -> "Extractor":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def extract(self, kind: str, path: Path) -> Extracted:
        """The file's text and structure; Unreadable (with the reason) when it gives none."""
        self._ensure_started()
        assert self._process is not None and self._process.stdin is not None
        request = {"kind": kind, "path": str(path), "max_pages": self.limits.max_pdf_pages}
        try:
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            reply = self._replies.get(timeout=self.limits.seconds)
        except queue.Empty:
            self.close()
            raise Unreadable(f"reading took over {self.limits.seconds:g} s (ASKBOT_EXTRACT_SECONDS)") from None
        except OSError:
            reply = None
        if reply is None:
            self.close()
            raise Unreadable("the reader crashed on it (a damaged file)")
        answer = json.loads(reply)
        if "skip" in answer:
            raise Unreadable(answer["skip"])
        return Extracted.from_json(answer["ok"])

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
            self._process = None

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self.close()
        source_root = str(Path(__file__).resolve().parents[1])  # this askbot, not another install
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [source_root, os.environ.get("PYTHONPATH")]))}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "askbot.extraction", str(self.limits.memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
            encoding="utf-8",
        )
        self._replies = queue.Queue()
        threading.Thread(target=_forward, args=(self._process.stdout, self._replies), daemon=True).start()
        try:
            ready = self._replies.get(timeout=START_SECONDS)
        except queue.Empty:
            ready = None
        if ready != _READY:
            self.close()
            raise Unreadable("the document reader did not start")


def _forward(stream, replies: queue.Queue) -> None:
    """Each line the worker writes, stripped; None when it exits."""
    for line in stream:
        replies.put(line.strip())
    replies.put(None)


# -- the worker ---------------------------------------------------------------------------------


def _read(kind: str, path: Path, max_pages: int, memory_mb: int) -> Extracted:
    if kind == "pdf":
        from .pdf import extract_pdf

        return extract_pdf(path, max_pages)
    if kind == "docx":
        from .word import extract_docx

        return extract_docx(path, max_unpacked=memory_mb * 1024 * 1024)
    raise Unreadable(f"no reader for {kind}")


def _limit_memory(extra_mb: int) -> None:
    try:
        import resource

        with open("/proc/self/status", encoding="ascii") as status:
            held = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    except (ImportError, OSError, StopIteration, ValueError):
        return
    limit = held + extra_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))


def main() -> None:
    """Serve requests from stdin, one JSON line each, until stdin closes."""
    extra_mb = int(sys.argv[1])
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # a library printing to stdout cannot garble the replies
    import docx  # noqa: F401  (imported before the cap and before any file: start-up is not a file's time)
    import pypdf  # noqa: F401

    from .hyphenation import model_words

    model_words()
    _limit_memory(extra_mb)
    replies.write(_READY + "\n")
    replies.flush()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"ok": _read(request["kind"], Path(request["path"]), int(request["max_pages"]), extra_mb).to_json()}
        except Unreadable as why:
            answer = {"skip": str(why)}
        except MemoryError:
            answer = {"skip": f"reading needed over {extra_mb:,} MB (ASKBOT_EXTRACT_MEMORY_MB)"}
        except RecursionError:
            answer = {"skip": "damaged (structure nested too deep)"}
        except Exception as error:  # a reader bug on a strange file: skip the file, keep serving
            answer = {"skip": f"unreadable ({type(error).__name__})"}
        replies.write(json.dumps(answer) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()

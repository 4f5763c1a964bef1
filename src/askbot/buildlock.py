"""The build lock: one `askbot index build` per index folder at a time.

An advisory lock (flock) on `<index>/build.lock`. The kernel drops it when its holder exits,
however it exits (SIGKILL included), so a lock left behind by a dead build is simply taken over;
there is no pid guessing and no stale-lock timeout. The holder writes who it is (pid, host,
start time) into the file, so a second build can say who is in its way.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import AskbotError

LOCK_FILE = "build.lock"

Notify = Callable[[str], None]


class BuildLocked(AskbotError):
    """Another build holds the lock on this index folder."""


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    since: str  # UTC, ISO 8601

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {self.since}"


@contextmanager
def build_lock(index_dir: Path, notify: Notify) -> Iterator[Holder]:
    """Hold the build lock of index_dir for the duration of the block, or raise BuildLocked."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            who = holder.describe() if holder else "its holder has not said who it is yet"
            raise BuildLocked(f"another build is running on {index_dir} ({who}): wait for it to finish") from None
        left_behind = _read(fd)
        if left_behind is not None:
            notify(f"taking over the build lock of {left_behind.describe()}: that build did not finish")
        me = Holder(os.getpid(), socket.gethostname(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        _write(fd, json.dumps(asdict(me)))
        try:
            yield me
        finally:
            _write(fd, "")  # a build that finished leaves no holder behind
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read(fd: int) -> Holder | None:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096)
    try:
        return Holder(**json.loads(raw))
    except (ValueError, TypeError):  # empty, or not a record we wrote
        return None


def _write(fd: int, text: str) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text.encode())

"""Remembered checks: files hashed once are trusted again while their stat stays the same.

Hashing a 125 MB index (or the 90 MB ONNX export) on every cold `askbot ask` costs more than the
answer. After a full SHA-256 check passes, its record keeps each file's (inode, size, mtime,
ctime); the next check re-hashes only when one of them changed. Any write changes ctime, even when
mtime is put back, and a copied file has a new inode, so an edited, replaced or truncated file is
always hashed again. What a stamp cannot see is a disk flipping bits under an unchanged file:
that is the filesystem's job.

A file changed within RACY_NS of the check is not remembered: timestamps are coarse (a few ms),
so an edit right after the check could keep the stamp it was checked with ("racy git").
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

Stamp = list[list[int]]
RACY_NS = 2_000_000_000


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (OSError if it cannot be read)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def stamp(paths: Iterable[Path]) -> Stamp:
    """The files' (inode, size, mtime, ctime), in the order given; OSError if one is missing."""
    return [[st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns] for st in (p.stat() for p in paths)]


def remembered(record: Path, key: str, current: Stamp) -> bool:
    """True when `record` says files with this stamp passed the check named by `key`."""
    try:
        return json.loads(record.read_text(encoding="utf-8")) == {"key": key, "stat": current}
    except (OSError, ValueError):
        return False


def remember(record: Path, key: str, current: Stamp) -> None:
    """Write the record atomically; a read-only folder just means hashing again next time."""
    if any(time.time_ns() - ctime < RACY_NS for *_, ctime in current):
        return
    try:
        tmp = record.with_name(f".{record.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"key": key, "stat": current}), encoding="utf-8")
        os.replace(tmp, record)
    except OSError:
        pass

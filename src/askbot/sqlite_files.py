"""The one way askbot opens its SQLite files (feedback votes, the question log): WAL, durable
commits (synchronous=FULL), usable from several threads, failures as one AskbotError line."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from .errors import AskbotError


def open_database(path: Path, schema: str, what: str, migrate: Callable[[sqlite3.Connection], None] | None = None) -> sqlite3.Connection:
    """`path` opened (created with `schema` if new, then `migrate`d); `what` names it in errors."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        with db:
            db.executescript(schema)
            if migrate is not None:
                migrate(db)
        return db
    except (OSError, sqlite3.Error) as exc:
        raise AskbotError(f"cannot open {what} {path}: {exc}") from None

"""The PostgreSQL connection: a pool, faults turned into one clear line, the password never shown.

ASKBOT_DATABASE_URL is a libpq URL, so sslmode, sslrootcert, connect_timeout, application_name
and every other libpq setting pass through unchanged. What askbot ever prints about it is
`describe(url)`: user, host, port and database, never the password.

Faults: unreachable at start is `DatabaseUnreachable` naming host and port (exit 1). Lost while
running, a question raises `DatabaseUnreachable` too (the Discord bot turns it into a polite
reply); later questions retry, at most once per backoff period (1 s doubling to 30 s), so a dead
database costs each question a fast failure, not a connect timeout, and answers resume by
themselves when it is back. Every query is parameterised; only DDL names built from validated
collection names are composed, through psycopg.sql (quoted identifiers and literals).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import AskbotError
from .settings import redacted_url

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
CONNECT_TIMEOUT = 5  # seconds, unless the URL sets connect_timeout
POOL_SIZE = 8


class DatabaseUnreachable(AskbotError):
    """The database cannot be reached (or was lost); the message names host and port only."""


def describe(url: str) -> str:
    """`user@host:port/database`, from the URL and libpq's defaults; never the password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:  # psycopg.ProgrammingError on a malformed URL
        return redacted_url(url)
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    user = parts.get("user") or "(default user)"
    return f"{user}@{host}:{port}/{parts.get('dbname') or user}"


def scrub(message: str, url: str) -> str:
    """An error message with the URL's password removed, should a driver ever echo it."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        password = conninfo_to_dict(url).get("password")
    except Exception:
        password = None
    message = message.replace(url, redacted_url(url))
    return message.replace(password, "***") if password else message


def reason(error: Exception, url: str) -> str:
    """libpq's reason, without the "connection to server at ... failed:" it wraps it in."""
    lines = str(error).strip().splitlines()
    reason = lines[0].rsplit("failed: ", 1)[-1].strip() if lines else type(error).__name__
    return scrub(reason, url)


def _configure(conn) -> None:
    """Each new connection: pgvector's types (once the extension exists)."""
    import psycopg
    from pgvector.psycopg import register_vector

    try:
        register_vector(conn)
    except psycopg.ProgrammingError:  # no vector type yet: a first build creates it
        pass
    conn.commit()


class Database:
    """A connection pool to one database, opened at once (unreachable: DatabaseUnreachable)."""

    def __init__(self, url: str, pool_size: int = POOL_SIZE):
        import psycopg
        from psycopg_pool import ConnectionPool

        self.url = url
        self.where = describe(url)
        self._backoff = 0.0
        self._retry_at = 0.0
        self._lock = threading.Lock()
        try:  # one direct connection first: its error says why (refused, DNS, auth, TLS)
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT).close()
        except psycopg.Error as error:
            raise DatabaseUnreachable(f"cannot reach the database {self.where}: {reason(error, url)}") from None
        self._pool = ConnectionPool(
            url,
            kwargs={"connect_timeout": CONNECT_TIMEOUT},
            min_size=1,
            max_size=pool_size,
            configure=_configure,
            check=ConnectionPool.check_connection,
            timeout=CONNECT_TIMEOUT,
            open=True,
        )

    def __repr__(self) -> str:
        return f"Database({self.where})"

    @contextmanager
    def connection(self) -> Iterator[object]:
        """A pooled connection; a lost database becomes DatabaseUnreachable, retried with backoff."""
        import psycopg
        from psycopg_pool import PoolTimeout

        with self._lock:
            if time.monotonic() < self._retry_at:
                raise DatabaseUnreachable(f"the database {self.where} is unreachable (retrying in a moment)")
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as error:
            self._failed()
            raise DatabaseUnreachable(f"the database {self.where} is unreachable: {reason(error, self.url)}") from None
        self._recovered()

    def connect(self):
        """A connection of its own (the build's: it holds the advisory lock for its whole life)."""
        import psycopg

        try:
            conn = psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT, autocommit=True)
        except psycopg.Error as error:
            raise DatabaseUnreachable(f"cannot reach the database {self.where}: {reason(error, self.url)}") from None
        _configure(conn)
        return conn

    def close(self) -> None:
        self._pool.close()

    def _failed(self) -> None:
        with self._lock:
            self._backoff = min(BACKOFF_MAX, self._backoff * 2 or BACKOFF_FIRST)
            self._retry_at = time.monotonic() + self._backoff

    def _recovered(self) -> None:
        if self._backoff:
            with self._lock:
                self._backoff, self._retry_at = 0.0, 0.0

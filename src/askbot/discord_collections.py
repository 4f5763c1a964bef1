"""One bot, many servers: which collection answers where, and each collection's engine.

ASKBOT_DISCORD_COLLECTIONS names a TOML file:

    default = "default"          # every server and channel not listed below
    [guilds]
    "123456789012345678" = "acme"
    [channels]
    "234567890123456789" = "acme-internal"   # a channel (and its threads) overrides its server

A channel's mapping wins over its server's; a thread follows its parent channel. Engines are
opened on the first question of their collection (`Settings.for_collection`), then kept.
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .engine import Engine
from .errors import UsageError
from .settings import DEFAULT_COLLECTION, Settings, collection_name


@dataclass(frozen=True)
class CollectionMap:
    default: str = DEFAULT_COLLECTION
    guilds: Mapping[int, str] = field(default_factory=dict)
    channels: Mapping[int, str] = field(default_factory=dict)

    def collection_for(self, guild_id: int | None, channel_id: int | None, parent_id: int | None = None) -> str:
        for channel in (channel_id, parent_id):
            if channel in self.channels:
                return self.channels[channel]
        return self.guilds.get(guild_id, self.default) if guild_id is not None else self.default

    @classmethod
    def load(cls, path: Path | None, default: str = DEFAULT_COLLECTION) -> "CollectionMap":
        """The mapping in `path` (None: everything answers from `default`); the file's own
        `default` key wins over the one given (askbot discord --collection)."""
        if path is None:
            return cls(default=default)
        where = f"ASKBOT_DISCORD_COLLECTIONS ({path})"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise UsageError(f"cannot read {where}: {error.strerror or error}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise UsageError(f"{where} is not valid TOML: {error}") from None
        unknown = set(data) - {"default", "guilds", "channels"}
        if unknown:
            raise UsageError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (expected default, [guilds], [channels])")
        return cls(
            default=_name(data.get("default", default), where),
            guilds=_ids_to_names(data.get("guilds", {}), f"{where} [guilds]"),
            channels=_ids_to_names(data.get("channels", {}), f"{where} [channels]"),
        )


def _ids_to_names(table: object, where: str) -> dict[int, str]:
    if not isinstance(table, dict):
        raise UsageError(f"{where} must be a table of \"id\" = \"collection\"")
    mapping = {}
    for key, value in table.items():
        if not key.isdigit():
            raise UsageError(f"{where}: {key!r} is not a numeric Discord id")
        mapping[int(key)] = _name(value, where)
    return mapping


def _name(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{where}: collection names are strings, got {value!r}")
    try:
        return collection_name(value)
    except UsageError as error:
        raise UsageError(f"{where}: {error}") from None


class Engines:
    """The engine of each collection, opened once on first use. Thread-safe: opening one
    collection (which may build its index) does not hold up questions to the others."""

    def __init__(self, deployment: Settings, open_engine: Callable[[Settings], Engine]):
        self.deployment = deployment
        self._open = open_engine
        self._engines: dict[str, Engine] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, collection: str) -> Engine:
        with self._guard:
            engine = self._engines.get(collection)
            lock = self._locks.setdefault(collection, threading.Lock())
        if engine is not None:
            return engine
        with lock:
            if collection not in self._engines:
                self._engines[collection] = self._open(self.deployment.for_collection(collection))
            return self._engines[collection]

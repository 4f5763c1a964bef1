"""Where a Discord question was asked: the key its conversation and its collection hang on."""

from __future__ import annotations

from dataclasses import dataclass

import discord


@dataclass(frozen=True)
class Origin:
    """Who asked and where: the key a per-thread or per-user conversation would hang on."""

    user_id: int
    channel_id: int  # the thread's id inside a thread
    parent_id: int | None  # the channel a thread belongs to
    guild_id: int | None  # None in DMs

    @classmethod
    def of(cls, user: discord.abc.User, channel: object, guild: discord.Guild | None) -> "Origin":
        return cls(user.id, getattr(channel, "id", 0), getattr(channel, "parent_id", None), guild and guild.id)


def conversation_key(origin: Origin, mode: str) -> tuple | None:
    """Which conversation a question belongs to (None: answered on its own)."""
    if mode == "off":
        return None
    if mode == "thread" and origin.parent_id is not None:
        return ("thread", origin.channel_id)
    return ("user", origin.channel_id, origin.user_id)

"""Forum channels: a new post in a forum listed in ASKBOT_DISCORD_FORUMS is answered in its thread.

The question is the post's title and its first (starter) message together. The answer is the
usual reply with sources and buttons, and it opens the thread's conversation, so a later
message in the thread that mentions askbot follows up on it. When the documents don't answer,
askbot stays silent (ASKBOT_DISCORD_FORUM_SILENT_ON_ABSTAIN, the default) or says so once,
briefly. An answered post gets the forum tag named in ASKBOT_DISCORD_FORUM_TAG, if the forum
has one (admins create tags; askbot only applies them).

Reading a post takes the privileged Message Content intent: the bot asks for it only when
forums are configured (see discord_bot.FORUM_INTENTS).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord

from . import discord_render as render
from .discord_origin import Origin

if TYPE_CHECKING:
    from .discord_bot import AskBot

log = logging.getLogger("askbot.discord")

STARTER_WAIT_SECONDS = 5  # Discord sends the starter message just after the thread
BRIEF_ABSTAIN = "I couldn't find this in the documents; a person will have to answer this one."


def forum_question(title: str, body: str, limit: int) -> str:
    """Title and first message as one question, cut to `limit` characters at a word."""
    title, body = " ".join(title.split()), " ".join(body.split())
    if not body or not title or body.casefold().startswith(title.casefold()):
        joined = body or title  # a body that repeats the title is the whole question
    else:
        joined = f"{title}{'' if title[-1] in '.?!:' else '.'} {body}"
    return render.fit(joined, limit)


class ForumResponder:
    def __init__(self, bot: "AskBot"):
        self.bot = bot
        self.forums = set(bot.settings.discord_forums)
        self._tag_warned = False

    def is_post(self, message: discord.Message) -> bool:
        """A forum post's starter message (same id as its thread): answered by on_thread_create."""
        return message.id == message.channel.id and getattr(message.channel, "parent_id", None) in self.forums

    async def on_thread_create(self, thread: discord.Thread) -> None:
        if thread.parent_id not in self.forums:
            return
        starter = await self._starter_message(thread)
        if starter is None or starter.author.bot:
            return
        question = forum_question(thread.name, starter.content, self.bot.settings.max_question_chars)
        origin = Origin(starter.author.id, thread.id, thread.parent_id, thread.guild.id)
        response = await self.bot.answer(question, origin)
        answered = response.answer is not None and response.answer.answered
        try:
            if answered:
                await thread.send(content=response.reply.content, embed=response.reply.embed, view=response.view)
                await self._tag(thread)
            elif response.answer is None or not self.bot.settings.discord_forum_silent_on_abstain:
                await thread.send(content=response.reply.content if response.answer is None else BRIEF_ABSTAIN)
        except discord.Forbidden:
            log.warning("no permission to answer in forum post %s: see the README's invite permissions", thread.id)

    async def _starter_message(self, thread: discord.Thread) -> discord.Message | None:
        """The post's first message: from the cache, as it arrives, or from the API."""
        if thread.starter_message is not None:
            return thread.starter_message
        try:
            return await self.bot.wait_for("message", check=lambda m: m.id == thread.id, timeout=STARTER_WAIT_SECONDS)
        except asyncio.TimeoutError:
            pass
        try:
            return await thread.fetch_message(thread.id)
        except discord.HTTPException:
            log.warning("forum post %s: its first message could not be read", thread.id)
            return None

    async def _tag(self, thread: discord.Thread) -> None:
        name = self.bot.settings.discord_forum_tag
        forum = thread.parent
        if not name or not isinstance(forum, discord.ForumChannel):
            return
        tag = discord.utils.find(lambda t: t.name.casefold() == name.casefold(), forum.available_tags)
        if tag is None or tag in thread.applied_tags:
            return
        try:
            await thread.add_tags(tag, reason="askbot answered this post")
        except discord.HTTPException as error:
            if not self._tag_warned:  # a permission or a full tag list: once is enough
                log.warning("could not tag forum post %s with %r: %s", thread.id, name, error)
                self._tag_warned = True

"""The Discord surface: /ask, mentions and DMs answered from the engine, with feedback buttons.

The client wires up the community features, each in a module of its own: forum posts
(discord_forums.py), Apps → "Ask askbot" (discord_context.py), /docs (discord_docs.py) and
/askbot report (discord_report.py). Each server or channel answers from its own collection
(discord_collections.py); every question is logged for the report (questionlog.py).

Follow-ups ("When will it arrive?") lean on the conversation they belong to: by default one per
thread, shared by everyone in it, and one per user in a channel or DM (ASKBOT_DISCORD_CONVERSATIONS
= thread | user | off), forgotten after ASKBOT_DISCORD_CONVERSATION_MINUTES without a question.

discord.py runs the connection. Every question goes through a `Batcher` to one worker thread,
so the event loop only waits (heartbeats keep flowing while the model works) and questions
that arrive together are encoded together. Replies are built by discord_render.py; votes are
stored by feedback.py before they are acknowledged. No send can ping anyone: the client's
allowed_mentions is "none", which discord.py applies to every message, reply and interaction
response.

    askbot discord                                   # run(Settings.from_env())
    askbot discord --shard-count 4 --shard-ids 0,1   # this process runs shards 0 and 1 of 4
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import signal
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import wraps

import aiohttp
import discord
import yarl
from discord import app_commands

from . import discord_render as render
from .answer import Answer
from .batching import Batcher
from .conversation import Conversation, Conversations
from .cooldown import Cooldown
from .discord_collections import CollectionMap, Engines
from .discord_context import ask_context_menu
from .discord_docs import DocsManager, docs_group
from .discord_forums import ForumResponder
from .discord_origin import Origin, conversation_key
from .discord_report import report_group
from .engine import Engine
from .errors import AskbotError, UsageError
from .feedback import AnswerRecord, Feedback, Vote, open_feedback
from .questionlog import FILE_NAME as LOG_FILE
from .questionlog import LoggedQuestion, QuestionLog, SqliteQuestionLog, retention_cutoff, stamp, utc_now
from .settings import DEFAULT_COLLECTION, Settings

log = logging.getLogger("askbot.discord")

NO_PINGS = discord.AllowedMentions.none()
# Only what the bot uses: servers and channels, and messages in them and in DMs. Message
# content is not needed: Discord delivers the content of messages that mention the bot and of DMs.
INTENTS = discord.Intents(guilds=True, guild_messages=True, dm_messages=True)
# Forum posts are not addressed to the bot: reading them takes the privileged Message Content intent.
FORUM_INTENTS = discord.Intents(guilds=True, guild_messages=True, dm_messages=True, message_content=True)
LOG_PURGE_SECONDS = 3600  # how often old questions are deleted from the log, at most
RECENT_ANSWERS = 2000  # answers whose buttons still work (older ones ask the user to ask again)
LOGGERS = {"askbot": logging.INFO, "discord": logging.WARNING}
DRAIN_SECONDS = 10  # on shutdown, how long questions being answered get to finish

SORRY = "Sorry, something went wrong while answering that. The error has been logged."
EXPIRED = "That answer is too old for its buttons now (or I restarted since): please ask again."
NO_DMS = "I don't answer direct messages here: ask me in a server channel."
NOT_ADMIN = "Only members with the Manage Server permission can rebuild the index."
FORUM_INTENT_REFUSED = (
    "Discord refused the Message Content intent that ASKBOT_DISCORD_FORUMS needs: switch it on in the "
    "developer portal (Bot page, Privileged Gateway Intents), or unset ASKBOT_DISCORD_FORUMS"
)
INTENT_NOTE = (
    "forum channels are configured: asking Discord for the privileged Message Content intent, to read "
    "forum posts (switch it on in the developer portal, Bot page; free below 100 servers, Discord's "
    "verification above)"
)


@dataclass(frozen=True)
class Asked:
    """An answer given, kept so its buttons can show more passages and record votes."""

    answer: Answer
    record: AnswerRecord

    @property
    def collection(self) -> str:
        return self.record.collection


@dataclass(frozen=True)
class Response:
    """One question's outcome: the reply to send, its buttons, and the answer (None when
    answering failed)."""

    reply: render.Reply
    view: discord.ui.View | None
    answer: Answer | None


class RecentAnswers:
    """The last `capacity` answers by id (least recently used ones are forgotten)."""

    def __init__(self, capacity: int = RECENT_ANSWERS):
        self._capacity = capacity
        self._items: OrderedDict[str, Asked] = OrderedDict()

    def add(self, answer: Answer, collection: str = DEFAULT_COLLECTION) -> str:
        answer_id = secrets.token_hex(6)
        self._items[answer_id] = Asked(answer, AnswerRecord.of(answer_id, answer, collection))
        if len(self._items) > self._capacity:
            self._items.popitem(last=False)
        return answer_id

    def get(self, answer_id: str) -> Asked | None:
        if answer_id in self._items:
            self._items.move_to_end(answer_id)
        return self._items.get(answer_id)


class AnswerButton(discord.ui.DynamicItem[discord.ui.Button], template=r"askbot:(?P<action>more|up|down):(?P<id>[0-9a-f]{12})"):
    """The buttons under an answer. The custom id carries the action and the answer id, so the
    buttons keep working without a view object kept per message."""

    STYLE = {
        "more": ("More passages", None, discord.ButtonStyle.secondary),
        "up": (None, "👍", discord.ButtonStyle.secondary),
        "down": (None, "👎", discord.ButtonStyle.secondary),
    }

    def __init__(self, action: str, answer_id: str):
        label, emoji, style = self.STYLE[action]
        super().__init__(discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=f"askbot:{action}:{answer_id}"))
        self.action = action
        self.answer_id = answer_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item, match: re.Match[str]) -> "AnswerButton":
        return cls(match["action"], match["id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: AskBot = interaction.client  # type: ignore[assignment]
        await bot.handle_button(interaction, self.action, self.answer_id)


def answer_view(answer_id: str, answer: Answer) -> discord.ui.View | None:
    view = discord.ui.View(timeout=None)
    if len(answer.passages) > 1:
        view.add_item(AnswerButton("more", answer_id))
    if answer.answered:
        view.add_item(AnswerButton("up", answer_id))
        view.add_item(AnswerButton("down", answer_id))
    return view if view.children else None


def in_flight(handler: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Marks a bot handler as in flight while it runs, so shutdown waits for its reply."""

    @wraps(handler)
    async def run(bot: "AskBot", *args: object) -> None:
        async with bot.busy():
            await handler(bot, *args)

    return run


# -- slash commands (module level: the tree calls them with the interaction) ------------------


@app_commands.command(name="ask", description="Ask a question about the documents")
@app_commands.describe(question="Your question, e.g. What chip powers the OnePlus 6?")
async def ask_command(interaction: discord.Interaction, question: str) -> None:
    await interaction.client.handle_ask(interaction, question)  # type: ignore[attr-defined]


@app_commands.command(name="reindex", description="Rebuild the index from the documents folder")
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
async def reindex_command(interaction: discord.Interaction) -> None:
    await interaction.client.handle_reindex(interaction)  # type: ignore[attr-defined]


class AskBot(discord.Client):
    def __init__(self, settings: Settings, open_engine: Callable[[Settings], Engine],
                 default_collection: str = DEFAULT_COLLECTION, **client_options):  # fmt: skip
        """settings: the deployment's (collection "default"); each collection's engine is opened
        with open_engine(settings.for_collection(name)) on its first question."""
        # askbot has no voice: discord.py's warnings about missing voice libraries are noise.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        intents = FORUM_INTENTS if settings.discord_forums else INTENTS
        super().__init__(intents=intents, allowed_mentions=NO_PINGS, **client_options)
        point_discord_at(settings.discord_api_base, settings.discord_gateway_url)
        self.settings = settings
        self.collections = CollectionMap.load(settings.discord_collections, default_collection)
        self.engines = Engines(settings, open_engine)
        self.tree = app_commands.CommandTree(self)
        self._add_commands()
        self.tree.on_error = self._on_command_error
        self.add_dynamic_items(AnswerButton)
        self.answers = RecentAnswers()
        self.cooldown = Cooldown(settings.discord_cooldown_seconds)
        self.forums = ForumResponder(self)
        self.docs = DocsManager(self)
        self.feedback: Feedback | None = None
        self.question_log: QuestionLog | None = None
        self.batcher: Batcher[tuple[Engine, str, Conversation | None], Answer] | None = None
        self._conversations: dict[str, Conversations[tuple]] = {}
        self._rebuilding: Counter[str] = Counter()  # rebuilds running, per collection
        self._reload_warned = False
        self._purged_at = 0.0
        self._in_flight: set[asyncio.Task] = set()

    @asynccontextmanager
    async def busy(self) -> AsyncIterator[None]:
        """The current task is answering someone: shutdown waits (briefly) for it to finish."""
        task = asyncio.current_task()
        self._in_flight.add(task)
        try:
            yield
        finally:
            self._in_flight.discard(task)

    def _add_commands(self) -> None:
        for command in (ask_command, reindex_command, ask_context_menu, docs_group, report_group):
            self.tree.add_command(command)

    # -- life cycle --------------------------------------------------------------------------

    async def setup_hook(self) -> None:
        """After login, before the gateway: load the index (building it if needed), sync commands."""
        engine = await asyncio.to_thread(self.engines.get, self.collections.default)
        # The first question loads the model: answer one now, so no user waits for it.
        await asyncio.to_thread(engine.ask, "warm-up")
        self.feedback = await asyncio.to_thread(open_feedback, self.settings)
        self.question_log = await asyncio.to_thread(SqliteQuestionLog, self.settings.data_dir / LOG_FILE)
        await self._purge_old_questions()
        self.batcher = Batcher(self._answer_batch)
        if self.settings.discord_forums:
            log.info(INTENT_NOTE)
        guild = discord.Object(self.settings.discord_guild_id) if self.settings.discord_guild_id else None
        if guild:
            self.tree.copy_global_to(guild=guild)
        synced = await self.tree.sync(guild=guild)
        where = f"server {guild.id}" if guild else "all servers (global)"
        log.info("synced %s to %s", ", ".join(f"/{c.name}" for c in synced), where)

    async def on_ready(self) -> None:
        shards = ""
        if isinstance(self, discord.AutoShardedClient):
            shards = f" (shards {', '.join(map(str, sorted(self.shards)))} of {self.shard_count})"
        log.info("connected as %s to %d server(s)%s: answering /ask and mentions", self.user, len(self.guilds), shards)

    async def close(self) -> None:
        """Let the questions being answered finish (briefly), then disconnect."""
        busy = self._in_flight - {asyncio.current_task()}
        if busy:
            await asyncio.wait(busy, timeout=DRAIN_SECONDS)
        await super().close()
        batcher, self.batcher = self.batcher, None  # taken first: close may be called twice
        stores, self.feedback, self.question_log = [self.feedback, self.question_log], None, None
        if batcher is not None:
            await batcher.close()
        for store in stores:
            if store is not None:
                await asyncio.to_thread(store.close)

    # -- questions ---------------------------------------------------------------------------

    @in_flight
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.author == self.user or self.forums.is_post(message):
            return
        question = self._addressed_question(message)
        if question is None or not self._channel_allowed(message.channel):
            return
        origin = Origin.of(message.author, message.channel, message.guild)
        try:
            refusal = self.refusal(origin, question, quiet_repeats=True)
            if refusal is not None:
                if refusal:
                    await self._reply(message, render.Reply(content=refusal))
                return
            async with message.channel.typing():
                response = await self.answer(question, origin)
            await self._reply(message, response.reply, response.view)
        except discord.Forbidden:  # a server setting, not a bug: one line for the operator
            log.warning("no permission to answer in channel %s: see the README's invite permissions", message.channel.id)

    @in_flight
    async def on_thread_create(self, thread: discord.Thread) -> None:
        await self.forums.on_thread_create(thread)

    @staticmethod
    async def _reply(message: discord.Message, reply: render.Reply, view: discord.ui.View | None = None) -> None:
        """Reply to a message; if it was deleted meanwhile, just post in its channel."""
        reference = message.to_reference(fail_if_not_exists=False)
        await message.channel.send(content=reply.content, embed=reply.embed, view=view, reference=reference, mention_author=False)

    def _addressed_question(self, message: discord.Message) -> str | None:
        """The question in a message meant for the bot (a DM, or a mention), else None."""
        if message.guild is None:
            return message.content.strip() if self.settings.discord_dms else None
        if not any(user.id == self.user.id for user in message.mentions):
            return None
        return re.sub(rf"<@!?{self.user.id}>", " ", message.content).strip()

    @in_flight
    async def handle_ask(self, interaction: discord.Interaction, question: str) -> None:
        origin = Origin.of(interaction.user, interaction.channel, interaction.guild)
        refusal = self.interaction_refusal(interaction, origin, question.strip())
        if refusal is not None:
            await interaction.response.send_message(refusal, ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        response = await self.answer(question.strip(), origin)
        await interaction.edit_original_response(content=response.reply.content, embed=response.reply.embed, view=response.view)

    def interaction_refusal(self, interaction: discord.Interaction, origin: Origin, question: str) -> str | None:
        """Why a question asked through a command is not answered (None: answer it)."""
        if interaction.guild is None and not self.settings.discord_dms:
            return NO_DMS
        if not self._channel_allowed(interaction.channel):
            return self._allowlist_note()
        return self.refusal(origin, question, quiet_repeats=False)

    def refusal(self, origin: Origin, question: str, quiet_repeats: bool) -> str | None:
        """Why this question is not answered: a note, "" to stay silent, or None to answer it."""
        if not question:
            return render.note(f"Ask me a question about the documents, e.g. @{self.user.display_name} What chip powers the OnePlus 6?")
        limit = self.settings.discord_max_question_chars
        if len(question) > limit:
            return render.note(f"That question is {len(question):,} characters long; please keep it under {limit:,}.")
        verdict = self.cooldown.check(origin.user_id)
        if verdict.allowed:
            return None
        if quiet_repeats and not verdict.first_refusal:
            return ""
        wait = max(1, round(verdict.retry_after))
        return f"One question every {self.cooldown.seconds:g} seconds, please: try again in {wait} s."

    def _channel_allowed(self, channel: object) -> bool:
        allowed = self.settings.discord_channels
        if not allowed or isinstance(channel, discord.DMChannel):
            return True
        return bool({getattr(channel, "id", None), getattr(channel, "parent_id", None)} & set(allowed))

    def _allowlist_note(self) -> str:
        return render.note("I only answer in " + ", ".join(f"<#{c}>" for c in self.settings.discord_channels) + ".")

    def collection_of(self, origin: Origin) -> str:
        return self.collections.collection_for(origin.guild_id, origin.channel_id, origin.parent_id)

    async def answer(self, question: str, origin: Origin) -> Response:
        """Answer one question from the collection of the place it was asked (never raises),
        and log it. `origin` also decides the conversation it continues (see conversation_key)."""
        collection = self.collection_of(origin)
        try:
            engine = await asyncio.to_thread(self.engines.get, collection)
            key = conversation_key(origin, self.settings.discord_conversations)
            conversation = self._conversations_of(collection, engine).get(key) if key is not None else None
            answer = await self.batcher.submit((engine, question, conversation))
        except AskbotError as error:
            return Response(render.Reply(content=render.note(str(error))), None, None)
        except Exception:
            log.exception("answering a question failed")
            return Response(render.Reply(content=SORRY), None, None)
        answer_id = self.answers.add(answer, collection)
        await self._log_question(origin, collection, answer, answer_id)
        return Response(render.answer_reply(answer), answer_view(answer_id, answer), answer)

    def _conversations_of(self, collection: str, engine: Engine) -> Conversations[tuple]:
        if collection not in self._conversations:
            self._conversations[collection] = Conversations(engine.conversation, self.settings.discord_conversation_minutes * 60)
        return self._conversations[collection]

    async def _log_question(self, origin: Origin, collection: str, answer: Answer, answer_id: str) -> None:
        top = answer.passages[0].source if answer.passages else None
        entry = LoggedQuestion(stamp(utc_now()), origin.guild_id, origin.channel_id, collection, answer.question,
                               answer.answered, round(answer.confidence, 4), top, answer_id,
                               self.feedback.user_hash(origin.user_id))
        try:
            await asyncio.to_thread(self.question_log.record, entry)
            await self._purge_old_questions()
        except AskbotError as error:  # the answer matters more than its log line
            log.warning("could not log a question: %s", error)

    async def _purge_old_questions(self) -> None:
        if time.monotonic() - self._purged_at < LOG_PURGE_SECONDS and self._purged_at:
            return
        self._purged_at = time.monotonic()
        deleted = await asyncio.to_thread(self.question_log.delete_older_than, retention_cutoff(self.settings.discord_log_days))
        if deleted:
            log.info("deleted %d logged question(s) older than %d days", deleted, self.settings.discord_log_days)

    def _answer_batch(self, items: list[tuple[Engine, str, Conversation | None]]) -> list[Answer | Exception]:
        """In the worker thread: answer a batch, collection by collection (see _answer_engine_batch)."""
        results: list[Answer | Exception | None] = [None] * len(items)
        engines = {id(engine): engine for engine, _, _ in items}
        for engine in engines.values():
            positions = [i for i, item in enumerate(items) if item[0] is engine]
            answers = self._answer_engine_batch(engine, [items[i][1:] for i in positions])
            for i, answer in zip(positions, answers):
                results[i] = answer
        return results

    def _answer_engine_batch(self, engine: Engine, items: list[tuple[str, Conversation | None]]) -> list[Answer | Exception]:
        """Pick up a newer index, then answer. Questions without context (alone, or opening a
        conversation) share one encode; follow-ups go one by one, in order, through their
        conversation."""
        self._reload_quietly(engine)
        results: list[Answer | Exception | None] = [None] * len(items)
        opening = [i for i, (_, chat) in enumerate(items) if chat is None or not chat.turns]
        for i, answer in zip(opening, self._ask_many(engine, [items[i][0] for i in opening])):
            results[i] = answer
            chat = items[i][1]
            if chat is not None and isinstance(answer, Answer):
                chat.remember(answer)
        for i, (question, chat) in enumerate(items):
            if results[i] is None:
                results[i] = self._answer_one(engine, question, chat)
        return results

    def _ask_many(self, engine: Engine, questions: list[str]) -> list[Answer | Exception]:
        if not questions:
            return []
        try:
            return engine.ask_many(questions, self.settings.top_k)
        except AskbotError:  # one bad question must not sink the rest
            return [self._answer_one(engine, q) for q in questions]

    def _answer_one(self, engine: Engine, question: str, conversation: Conversation | None = None) -> Answer | Exception:
        try:
            return (conversation or engine).ask(question, self.settings.top_k)
        except AskbotError as error:
            return error

    def _reload_quietly(self, engine: Engine) -> None:
        """Notice an index rebuilt by `askbot index build`; a broken one leaves the old serving."""
        try:
            if engine.reload_if_changed():
                log.info("loaded the index rebuilt on disk (collection %s)", engine.settings.collection)
            self._reload_warned = False
        except AskbotError as error:
            if not self._reload_warned:
                log.warning("kept the current index: %s", error)
                self._reload_warned = True

    # -- buttons -----------------------------------------------------------------------------

    @in_flight
    async def handle_button(self, interaction: discord.Interaction, action: str, answer_id: str) -> None:
        asked = self.answers.get(answer_id)
        here = self.collection_of(Origin.of(interaction.user, interaction.channel, interaction.guild))
        if asked is None or asked.collection != here:  # another server's answer is never shown here
            await interaction.response.send_message(EXPIRED, ephemeral=True)
        elif action == "more":
            embed = render.passages_embed(asked.answer.passages[1:], first_number=2)
            await interaction.response.send_message(embed=embed, ephemeral=True)
        else:
            await self._vote(interaction, asked, "up" if action == "up" else "down")

    async def _vote(self, interaction: discord.Interaction, asked: Asked, vote: Vote) -> None:
        tally = await asyncio.to_thread(self.feedback.vote, asked.record, interaction.user.id, vote)
        # Only now, with the vote on disk, is it acknowledged.
        thumb = "👍" if vote == "up" else "👎"
        text = f"Thanks, your {thumb} is recorded (👍 {tally.up} · 👎 {tally.down}). Click the other button to change it."
        await interaction.response.send_message(text, ephemeral=True)

    # -- /reindex ----------------------------------------------------------------------------

    @staticmethod
    def is_manager(interaction: discord.Interaction) -> bool:
        return interaction.guild is not None and interaction.permissions.manage_guild

    def collection_of_interaction(self, interaction: discord.Interaction) -> str:
        return self.collection_of(Origin.of(interaction.user, interaction.channel, interaction.guild))

    async def rebuild(self, collection: str) -> str:
        """Bring a collection's index up to date in a thread of its own (questions keep being
        answered from the old index meanwhile; rebuilds of one engine queue up); what changed,
        in one line."""
        self._rebuilding[collection] += 1
        try:
            engine = await asyncio.to_thread(self.engines.get, collection)
            report = await asyncio.to_thread(engine.rebuild)
            return f"Index {'rebuilt' if report.wrote else 'already up to date'}: {report.summary()}"
        except AskbotError as error:
            return render.note(f"The rebuild failed, the old index is still in use: {error}")
        finally:
            self._rebuilding[collection] -= 1

    @in_flight
    async def handle_reindex(self, interaction: discord.Interaction) -> None:
        if not self.is_manager(interaction):
            await interaction.response.send_message(NOT_ADMIN, ephemeral=True)
            return
        collection = self.collection_of_interaction(interaction)
        if self._rebuilding[collection]:
            await interaction.response.send_message("A rebuild is already running.", ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        text = await self.rebuild(collection)
        log.info("/reindex by %s: %s", interaction.user.id, text)
        await interaction.edit_original_response(content=text)

    async def _on_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error("/%s failed", interaction.command.name if interaction.command else "?", exc_info=error)
        try:
            if interaction.response.is_done():
                await interaction.edit_original_response(content=SORRY)
            else:
                await interaction.response.send_message(SORRY, ephemeral=True)
        except discord.HTTPException:
            pass  # the interaction expired; the log has the error


class ShardedAskBot(AskBot, discord.AutoShardedClient):
    """AskBot running some shards (gateway connections) of the bot in this process; other
    processes, on this machine or others, run the rest."""


def make_bot(settings: Settings, open_engine: Callable[[Settings], Engine], **options) -> AskBot:
    """The client for these settings: sharded when a shard count is set."""
    check_shards(settings)
    count, ids = settings.discord_shard_count, settings.discord_shard_ids
    if count is None:
        return AskBot(settings, open_engine, **options)
    return ShardedAskBot(settings, open_engine, shard_count=count, shard_ids=list(ids) or None, **options)


def check_shards(settings: Settings) -> None:
    count, ids = settings.discord_shard_count, settings.discord_shard_ids
    if count is None and ids:
        raise UsageError("--shard-ids needs --shard-count (the total number of shards of the bot)")
    if count is not None and (any(i < 0 or i >= count for i in ids) or len(set(ids)) != len(ids)):
        raise UsageError(f"shard ids must be distinct numbers from 0 to {count - 1}, got {','.join(map(str, ids))}")


# -- running ---------------------------------------------------------------------------------


def point_discord_at(api_base: str, gateway_url: str) -> None:
    """Route discord.py's REST and gateway traffic (a proxy, or a fake Discord in tests).

    discord.py reads these two class attributes for every request and every (re)connect.
    """
    discord.http.Route.BASE = api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class RedactToken(logging.Filter):
    """Belt and braces: replace the token in any log record that would contain it."""

    def __init__(self, token: str):
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._token and self._token in message:
            record.msg, record.args = message.replace(self._token, "[token hidden]"), None
        return True


def check_token(token: str) -> str:
    if not token:
        raise UsageError("DISCORD_TOKEN is not set: put the bot token in .env or the environment (see README)")
    if any(c.isspace() for c in token):
        raise UsageError("DISCORD_TOKEN must be the bare bot token: no spaces, no 'Bot ' prefix")
    return token


def run(settings: Settings, open_engine: Callable[[Settings], Engine] | None = None,
        default_collection: str = DEFAULT_COLLECTION, **client_options) -> None:  # fmt: skip
    """`askbot discord`: log in, load the index, connect, answer until SIGINT/SIGTERM.

    settings: the deployment's; default_collection answers where ASKBOT_DISCORD_COLLECTIONS
    names no collection."""
    token = check_token(settings.discord_token)
    opener = open_engine or Engine.open
    bot_options = {"default_collection": default_collection, **client_options}
    check_shards(settings)  # settings errors before anything connects
    CollectionMap.load(settings.discord_collections, default_collection)
    handler = _log_to_stderr(token)
    try:
        asyncio.run(_serve(settings, token, opener, bot_options))
    except discord.LoginFailure:
        raise UsageError("Discord refused DISCORD_TOKEN: copy the token again from the developer portal (Bot page)") from None
    except discord.PrivilegedIntentsRequired:
        if settings.discord_forums:
            raise UsageError(FORUM_INTENT_REFUSED) from None
        raise UsageError("Discord refused the requested intents: see the README's portal setup") from None
    except discord.ConnectionClosed as closed:
        if closed.code == 4004:
            raise UsageError("Discord refused DISCORD_TOKEN at the gateway: check the token") from None
        raise AskbotError(f"the Discord gateway closed the connection (code {closed.code})") from None
    except (aiohttp.ClientError, discord.GatewayNotFound, discord.HTTPException) as error:
        raise AskbotError(f"cannot reach Discord at {settings.discord_api_base}: {_reason(error)}") from None
    finally:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(handler)


async def _serve(settings: Settings, token: str, opener: Callable[[Settings], Engine], client_options: dict) -> None:
    bot = make_bot(settings, opener, **client_options)
    _close_on_signals(bot)
    async with bot:
        try:
            await bot.login(token)  # checks the token before the slow part (loading the index)
            await bot.connect(reconnect=True)
        except Exception:
            if not bot.is_closed():
                raise
            # a signal closed the bot while it was starting: nothing went wrong
    log.info("disconnected from Discord")


def _close_on_signals(bot: AskBot) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    loop = asyncio.get_running_loop()
    closing: set[asyncio.Task] = set()  # keeps the task alive until it is done

    def close() -> None:
        task = loop.create_task(bot.close())
        closing.add(task)
        task.add_done_callback(closing.discard)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, close)


def _log_to_stderr(token: str) -> logging.Handler:
    """askbot's own log at INFO, discord.py's at WARNING, on stderr, with the token redacted."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("askbot: %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactToken(token))
    for name, level in LOGGERS.items():
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(level)
    return handler


def _reason(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__

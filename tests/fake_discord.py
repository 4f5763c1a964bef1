"""A small fake Discord on 127.0.0.1, for testing askbot with the real, unmodified discord.py.

REST under /api/v10 (aiohttp) and a gateway websocket that speaks Discord's protocol: HELLO,
IDENTIFY → READY + GUILD_CREATE, heartbeats and acks, server-requested heartbeats, RESUME with
replay of the events missed while disconnected, INVALID_SESSION, and zlib-stream compression
when the client asks for it. Every REST request is recorded for tests to assert on.

Also what community features need: two servers (guilds), a forum channel (type 15) whose new
posts arrive as THREAD_CREATE then the starter message, message-command interactions (Apps →
"Ask askbot"), slash-command attachments served from the fake's own CDN URL, 429 rate limits
with retry_after, shards (IDENTIFY with shard=[id, count]; each shard hears only its guilds),
and the Message Content intent: without it, message text is blanked as Discord does.

The fake runs in its own thread with its own event loop; its methods are called from the test
thread and are thread-safe. `BotRunner` runs askbot's bot the same way, in a thread of its own,
so a test drives both with plain blocking calls.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aiohttp import WSMsgType, web

API = "/api/v10"
TOKEN = "fake.discord-token.for-tests-0123456789abcdef"
APP_ID = 1000
GUILD = 2000
GUILD2 = (1 << 22) + 2000  # on shard 1 of 2; GUILD is on shard 0: (id >> 22) % shard_count
GENERAL, RANDOM, THREAD, FORUM, DM = 3000, 3001, 3002, 3003, 3999
LOBBY = 3100  # GUILD2's only text channel
ANSWERED_TAG = 3900  # the forum's "answered" tag
CHANNEL_GUILD = {GENERAL: GUILD, RANDOM: GUILD, THREAD: GUILD, FORUM: GUILD, LOBBY: GUILD2}
MANAGE_GUILD = 1 << 5
MESSAGE_CONTENT = 1 << 15

BOT = {"id": str(APP_ID), "username": "askbot", "discriminator": "0", "global_name": "askbot", "avatar": None, "bot": True}
ALICE = {"id": "10", "username": "alice", "discriminator": "0", "global_name": "Alice", "avatar": None}
BOB = {"id": "11", "username": "bob", "discriminator": "0", "global_name": "Bob", "avatar": None}
CAROL = {"id": "12", "username": "carol", "discriminator": "0", "global_name": "Carol (admin)", "avatar": None}
OTHER_BOT = {"id": "13", "username": "otherbot", "discriminator": "0", "global_name": None, "avatar": None, "bot": True}
USERS = {u["id"]: u for u in (BOT, ALICE, BOB, CAROL, OTHER_BOT)}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass(frozen=True)
class Request:
    """One REST request as the fake received it."""

    method: str
    path: str  # after /api/v10
    query: dict[str, str]
    body: Any  # the JSON body (or a multipart body's payload_json), or None
    authorization: str | None

    def is_(self, method: str, pattern: str) -> bool:
        return self.method == method and re.fullmatch(pattern, self.path) is not None


@dataclass
class GatewayEvent:
    """What happened on the gateway: identify, resume, heartbeat, closed (with code), ..."""

    kind: str
    data: Any = None
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Session:
    id: str
    shard: tuple[int, int]  # (shard id, shard count); (0, 1) for a client that does not shard
    intents: int
    seq: int = 0
    frames: list[dict] = field(default_factory=list)  # every dispatch, for replay on RESUME
    connection: "_Connection | None" = None

    def hears(self, guild_id: int | None) -> bool:
        """Whether this shard receives a guild's events (DMs go to shard 0)."""
        shard, count = self.shard
        return (0 if guild_id is None else (guild_id >> 22) % count) == shard


class _Connection:
    def __init__(self, ws: web.WebSocketResponse, compress: bool):
        self.ws = ws
        self.session: _Session | None = None  # set once IDENTIFY or RESUME succeeded
        self._zlib = zlib.compressobj() if compress else None

    async def send(self, payload: dict) -> None:
        text = json.dumps(payload)
        if self._zlib is None:
            await self.ws.send_str(text)
        else:
            await self.ws.send_bytes(self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH))


@dataclass
class _RateLimit:
    """The next `times` requests matching `method` and `pattern` are answered 429."""

    method: str
    pattern: str
    times: int
    retry_after: float


class FakeDiscord:
    def __init__(self, token: str = TOKEN, heartbeat_ms: int = 41250):
        self.token = token
        self.heartbeat_ms = heartbeat_ms
        self.message_content_allowed = True  # the portal's Message Content switch
        self.requests: list[Request] = []
        self.unhandled: list[str] = []  # "METHOD /path" of requests no route matched
        self.gateway: list[GatewayEvent] = []
        self.messages: dict[str, dict] = {}  # every message the bot created, by id
        self.posted: dict[str, dict] = {}  # every message a user posted, by id
        self.threads: dict[int, dict] = {}  # forum posts (threads) created, by id
        self.commands: dict[str, list[dict]] = {}  # "global" or a guild id → synced commands
        self.files: dict[str, bytes] = {}  # the CDN: attachment path → bytes
        self.rate_limited: list[Request] = []  # requests answered 429
        self._rate_limits: list[_RateLimit] = []
        self._originals: dict[str, str] = {}  # interaction token → its response message id
        self._ids = itertools.count(1_100_000_000_000_000_000)
        self._changed = threading.Condition()
        self._current: dict[int, _Session] = {}  # shard id → its live session
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- running -----------------------------------------------------------------------------

    def __enter__(self) -> "FakeDiscord":
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name="fake-discord", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake Discord did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base}{API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def _run(self, started: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{path:.*}", self._cdn)
        app.router.add_route("*", API + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        started.set()
        self._loop.run_forever()
        self._loop.close()

    async def _shutdown(self) -> None:
        for session in list(self._current.values()):
            if session.connection is not None and not session.connection.ws.closed:
                await session.connection.ws.close(code=1001)
        await self._runner.cleanup()

    def _call(self, coro, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _record(self, item: Request | GatewayEvent) -> None:
        with self._changed:
            (self.requests if isinstance(item, Request) else self.gateway).append(item)
            self._changed.notify_all()

    # -- what tests do -----------------------------------------------------------------------

    def send_message(self, content: str, author: dict = ALICE, channel: int = GENERAL) -> dict:
        """A user posts a message; `<@id>` in the content mentions that user."""
        message = self._user_message(channel, author, content)
        self._call(self._dispatch("MESSAGE_CREATE", message, self._guild_of(channel)))
        return message

    def post_in_forum(self, title: str, content: str, author: dict = ALICE, forum: int = FORUM,
                      starter_on_gateway: bool = True) -> tuple[dict, dict]:  # fmt: skip
        """A user opens a forum post: THREAD_CREATE, then its starter message (same id), as Discord
        sends them (starter_on_gateway=False: the message event is lost, only REST has it).
        Returns (thread, starter message)."""
        thread_id = next(self._ids)
        thread = _thread(thread_id, forum, title, author)
        self.threads[thread_id] = thread
        starter = self._user_message(thread_id, author, content, message_id=str(thread_id))
        guild = self._guild_of(forum)
        self._call(self._dispatch("THREAD_CREATE", {**thread, "newly_created": True, "member": _thread_member(thread_id, author)}, guild))
        if starter_on_gateway:
            self._call(self._dispatch("MESSAGE_CREATE", starter, guild))
        return thread, starter

    def slash(self, name: str, options: dict[str, str] | None = None, user: dict = ALICE, channel: int = GENERAL,
              permissions: int = 0, attachments: dict[str, tuple[str, bytes]] | None = None) -> dict:
        """A user runs a slash command ("docs add" for a subcommand); returns the interaction.

        attachments: option name → (file name, bytes), served from the fake's CDN.
        """
        top, *sub = name.split()
        command = self._command(top, channel)
        options_payload = [{"name": k, "type": 3, "value": v} for k, v in (options or {}).items()]
        resolved: dict[str, dict] = {}
        for option, (filename, data) in (attachments or {}).items():
            attachment = self._upload(channel, filename, data)
            resolved[attachment["id"]] = attachment
            options_payload.append({"name": option, "type": 11, "value": attachment["id"]})
        for level in reversed(sub):
            options_payload = [{"name": level, "type": 1, "options": options_payload}]
        data = {"id": command["id"], "name": top, "type": 1, "options": options_payload}
        if resolved:
            data["resolved"] = {"attachments": resolved}
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        return self._interact(2, data, user, channel, permissions)

    def context_menu(self, name: str, target: dict, user: dict = BOB, permissions: int = 0) -> dict:
        """A user picks Apps → `name` on the message `target` (a message command, type 3)."""
        channel = int(target["channel_id"])
        command = self._command(name, channel)
        data = {"id": command["id"], "name": name, "type": 3, "target_id": target["id"],
                "resolved": {"messages": {target["id"]: target}}}
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        return self._interact(2, data, user, channel, permissions)

    def click(self, message: dict, custom_id: str, user: dict = ALICE) -> dict:
        """A user clicks a button under one of the bot's messages."""
        assert any(b.get("custom_id") == custom_id for row in message["components"] for b in row["components"])
        channel = int(message["channel_id"])
        return self._interact(3, {"custom_id": custom_id, "component_type": 2}, user, channel, 0, message)

    def rate_limit(self, method: str, pattern: str, times: int = 1, retry_after: float = 0.3) -> None:
        """Answer the next `times` requests matching (method, path pattern) with 429."""
        with self._changed:
            self._rate_limits.append(_RateLimit(method, pattern, times, retry_after))

    def disconnect(self, code: int = 4000, forget_session: bool = False, shard: int = 0) -> None:
        """Close a shard's gateway socket from Discord's side (optionally invalidating the session)."""
        self._call(self._disconnect(code, forget_session, shard))

    def request_heartbeat(self, shard: int = 0) -> None:
        """Send op 1: the client must answer with a heartbeat at once."""
        self._call(self._current[shard].connection.send({"op": 1, "d": None}))

    # -- waiting -----------------------------------------------------------------------------

    def mark(self) -> int:
        """A position in the request log: wait_request(since=mark) only looks after it."""
        with self._changed:
            return len(self.requests)

    def wait_request(self, predicate: Callable[[Request], bool], since: int = 0, timeout: float = 30) -> Request:
        found = self.wait_requests(predicate, 1, since, timeout)
        return found[0]

    def wait_requests(self, predicate: Callable[[Request], bool], count: int, since: int = 0, timeout: float = 30) -> list[Request]:
        def matching() -> list[Request]:
            return [r for r in self.requests[since:] if predicate(r)]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout):
                raise AssertionError(f"waited {timeout} s for {count} matching request(s); got {len(matching())}")
            return matching()

    def wait_gateway(self, kind: str, count: int = 1, timeout: float = 30) -> list[GatewayEvent]:
        with self._changed:
            ok = self._changed.wait_for(lambda: sum(e.kind == kind for e in self.gateway) >= count, timeout)
            if not ok:
                raise AssertionError(f"waited {timeout} s for {count} gateway {kind!r}")
            return [e for e in self.gateway if e.kind == kind]

    def wait_reply(self, to: dict, timeout: float = 30) -> dict:
        """The bot's message replying to the user message `to`."""
        def reply() -> dict | None:
            return next((m for m in self.messages.values() if str(m.get("message_reference", {}).get("message_id")) == to["id"]), None)

        with self._changed:
            if not self._changed.wait_for(lambda: reply() is not None, timeout):
                raise AssertionError(f"no reply to {to['content']!r} within {timeout} s")
            return reply()

    def wait_messages(self, channel: int, count: int = 1, timeout: float = 30) -> list[dict]:
        """The bot's first `count` messages in a channel (or thread)."""
        def found() -> list[dict]:
            return [m for m in self.messages.values() if m["channel_id"] == str(channel)]

        with self._changed:
            if not self._changed.wait_for(lambda: len(found()) >= count, timeout):
                raise AssertionError(f"waited {timeout} s for {count} bot message(s) in {channel}; got {len(found())}")
            return found()

    def wait_response(self, interaction: dict, timeout: float = 30) -> Request:
        """The bot's first response (callback) to an interaction."""
        return self.wait_request(lambda r: r.is_("POST", rf"/interactions/{interaction['id']}/[^/]+/callback"), timeout=timeout)

    def wait_edit(self, interaction: dict, timeout: float = 30) -> Request:
        """The bot's edit of an interaction's original response (after a defer)."""
        token = re.escape(interaction["token"])
        return self.wait_request(lambda r: r.is_("PATCH", rf"/webhooks/\d+/{token}/messages/@original"), timeout=timeout)

    def sent(self, since: int = 0) -> list[Request]:
        """Every request that carries message content: messages, interaction responses, edits."""
        return [r for r in self.requests[since:] if isinstance(r.body, dict) and _carries_message(r)]

    # -- gateway -----------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        connection = _Connection(ws, compress=request.query.get("compress") == "zlib-stream")
        self._record(GatewayEvent("connect", dict(request.query)))
        await connection.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_ms}})
        async for frame in ws:
            if frame.type == WSMsgType.TEXT:
                await self._on_frame(connection, json.loads(frame.data))
        self._record(GatewayEvent("closed", ws.close_code))
        return ws

    async def _on_frame(self, connection: _Connection, frame: dict) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == 1:
            self._record(GatewayEvent("heartbeat", data))
            await connection.send({"op": 11})
        elif op == 2:
            await self._identify(connection, data)
        elif op == 6:
            await self._resume(connection, data)
        else:
            self._record(GatewayEvent(f"op{op}", data))

    async def _identify(self, connection: _Connection, data: dict) -> None:
        self._record(GatewayEvent("identify", {k: v for k, v in data.items() if k != "token"}))
        if data.get("token") != self.token:
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return
        if data.get("intents", 0) & MESSAGE_CONTENT and not self.message_content_allowed:
            await connection.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        shard = tuple(data.get("shard") or (0, 1))
        session = _Session(id=f"session-{next(self._ids)}", shard=shard, intents=data.get("intents", 0), connection=connection)
        self._current[shard[0]] = session
        connection.session = session
        guilds = [g for g in (GUILD, GUILD2) if session.hears(g)]
        ready = {
            "v": 10, "user": {**BOT, "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(g), "unavailable": True} for g in guilds], "session_id": session.id,
            "resume_gateway_url": self.gateway_url, "application": {"id": str(APP_ID), "flags": 0},
            "private_channels": [], "relationships": [], "shard": list(shard),
        }
        await self._send_to(session, "READY", ready)
        for guild in guilds:
            await self._send_to(session, "GUILD_CREATE", _guild(guild, list(self.threads.values())))

    async def _resume(self, connection: _Connection, data: dict) -> None:
        self._record(GatewayEvent("resume", {k: v for k, v in data.items() if k != "token"}))
        session = next((s for s in self._current.values() if s.id == data.get("session_id")), None)
        if data.get("token") != self.token or session is None:
            await connection.send({"op": 9, "d": False})
            return
        connection.session = session
        session.connection = connection
        for frame in session.frames:
            if frame["s"] > (data.get("seq") or 0):
                await connection.send(frame)
        await self._send_to(session, "RESUMED", {})

    async def _dispatch(self, event: str, data: dict, guild_id: int | None) -> None:
        """Send an event to the shard that hears its guild (none listening: it is lost)."""
        for session in list(self._current.values()):
            if session.hears(guild_id):
                await self._send_to(session, event, data)

    async def _send_to(self, session: _Session, event: str, data: dict) -> None:
        if event == "MESSAGE_CREATE":
            data = self._as_seen(data, session.intents)
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.frames.append(frame)
        connection = session.connection
        if connection is not None and connection.session is session and not connection.ws.closed:
            await connection.send(frame)

    @staticmethod
    def _as_seen(message: dict, intents: int) -> dict:
        """A message as a bot sees it: without the Message Content intent, Discord blanks the
        text of messages that neither mention the bot nor are DMs (nor the bot's own)."""
        exempt = (intents & MESSAGE_CONTENT or "guild_id" not in message or message["author"]["id"] == BOT["id"]
                  or any(u["id"] == BOT["id"] for u in message["mentions"]))
        return message if exempt else {**message, "content": "", "embeds": [], "attachments": [], "components": []}

    async def _disconnect(self, code: int, forget_session: bool, shard: int) -> None:
        session = self._current[shard]
        if forget_session:
            del self._current[shard]
        await session.connection.ws.close(code=code)

    # -- REST --------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body = await _body(request)
        recorded = Request(request.method, path, dict(request.query), body, request.headers.get("Authorization"))
        self._record(recorded)
        if not path.startswith(("/interactions/", "/webhooks/")) and recorded.authorization != f"Bot {self.token}":
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        if (limited := self._take_rate_limit(recorded)) is not None:
            return limited
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, path)
            if request.method == method and match:
                return await handler(recorded, *match.groups())
        self.unhandled.append(f"{request.method} {path}")
        return _json({"message": "404: Not Found", "code": 0}, 404)

    def _take_rate_limit(self, request: Request) -> web.Response | None:
        with self._changed:
            limit = next((r for r in self._rate_limits if r.times > 0 and request.is_(r.method, r.pattern)), None)
            if limit is None:
                return None
            limit.times -= 1
            self.rate_limited.append(request)
        body = {"message": "You are being rate limited.", "retry_after": limit.retry_after, "global": False}
        # discord.py retries a 429 only when it came through Discord's proxy (the Via header).
        headers = {"Via": "1.1 google", "X-RateLimit-Scope": "user", "Retry-After": str(limit.retry_after)}
        return web.Response(body=json.dumps(body).encode(), status=429, headers={"Content-Type": "application/json", **headers})

    def _routes(self):
        return [
            ("GET", r"/users/@me", self._me),
            ("GET", r"/gateway", self._gateway_info),
            ("GET", r"/gateway/bot", self._gateway_info),
            ("GET", r"/oauth2/applications/@me", self._application),
            ("PUT", r"/applications/\d+/commands", self._sync_global),
            ("PUT", r"/applications/\d+/guilds/(\d+)/commands", self._sync_guild),
            ("POST", r"/channels/(\d+)/messages", self._create_message),
            ("GET", r"/channels/(\d+)/messages/(\d+)", self._get_message),
            ("PATCH", r"/channels/(\d+)", self._edit_thread),
            ("POST", r"/channels/(\d+)/typing", self._typing),
            ("POST", r"/interactions/(\d+)/([^/]+)/callback", self._callback),
            ("PATCH", r"/webhooks/\d+/([^/]+)/messages/@original", self._edit_original),
            ("POST", r"/webhooks/\d+/([^/]+)", self._followup),
        ]

    async def _me(self, request: Request) -> web.Response:
        return _json({**BOT, "verified": True, "mfa_enabled": False, "flags": 0})

    async def _gateway_info(self, request: Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _json({"url": self.gateway_url, "shards": 2, "session_start_limit": limit})

    async def _application(self, request: Request) -> web.Response:
        return _json({
            "id": str(APP_ID), "name": "askbot", "description": "", "icon": None, "bot_public": False,
            "bot_require_code_grant": False, "owner": CAROL, "verify_key": "00" * 32, "flags": 0,
            "team": None, "rpc_origins": [], "summary": "",
        })

    async def _sync_global(self, request: Request) -> web.Response:
        return _json(self._store_commands("global", request.body))

    async def _sync_guild(self, request: Request, guild_id: str) -> web.Response:
        return _json(self._store_commands(guild_id, request.body))

    def _store_commands(self, scope: str, commands: list[dict]) -> list[dict]:
        # Discord answers "description": "" for context-menu commands, which send none.
        stored = [{"description": "", **c, "id": str(next(self._ids)), "application_id": str(APP_ID), "version": "1"} for c in commands]
        if scope != "global":
            stored = [{**c, "guild_id": scope} for c in stored]
        self.commands[scope] = stored
        return stored

    async def _create_message(self, request: Request, channel_id: str) -> web.Response:
        message = self._bot_message(int(channel_id), request.body)
        await self._dispatch("MESSAGE_CREATE", message, self._guild_of(int(channel_id)))  # Discord echoes the bot's own
        return _json(message)

    async def _get_message(self, request: Request, channel_id: str, message_id: str) -> web.Response:
        message = self.posted.get(message_id) or self.messages.get(message_id)
        if message is None or message["channel_id"] != channel_id:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        with_content = any(s.intents & MESSAGE_CONTENT for s in self._current.values())
        return _json(self._as_seen(message, MESSAGE_CONTENT if with_content else 0))

    async def _edit_thread(self, request: Request, channel_id: str) -> web.Response:
        thread = self.threads.get(int(channel_id))
        if thread is None:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        tags = request.body.get("applied_tags")
        if tags is not None:
            thread["applied_tags"] = [str(t) for t in tags]
        await self._dispatch("THREAD_UPDATE", thread, self._guild_of(int(channel_id)))
        return _json(thread)

    async def _typing(self, request: Request, channel_id: str) -> web.Response:
        return web.Response(status=204)

    async def _callback(self, request: Request, interaction_id: str, token: str) -> web.Response:
        kind = request.body["type"]
        data = request.body.get("data") or {}
        message = None
        if kind in (4, 5):  # a message, or "thinking…" until the response is edited
            message = self._bot_message(self._channel_of(token), data)
            self._originals[token] = message["id"]
        flags = data.get("flags", 0)
        interaction = {
            "id": interaction_id, "type": 2, "response_message_id": message and message["id"],
            "response_message_loading": kind == 5, "response_message_ephemeral": bool(flags & 64),
        }
        return _json({"interaction": interaction, "resource": {"type": kind, **({"message": message} if message else {})}})

    async def _edit_original(self, request: Request, token: str) -> web.Response:
        message = self.messages[self._originals[token]]
        message.update({k: v for k, v in request.body.items() if k in ("content", "embeds", "components")})
        message["edited_timestamp"] = _now()
        return _json(message)

    async def _followup(self, request: Request, token: str) -> web.Response:
        return _json(self._bot_message(self._channel_of(token), request.body))

    async def _cdn(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["path"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, headers={"Content-Type": "application/octet-stream"})

    # -- payloads ----------------------------------------------------------------------------

    def _guild_of(self, channel: int) -> int | None:
        if channel in self.threads:
            channel = int(self.threads[channel]["parent_id"])
        return CHANNEL_GUILD.get(channel)

    def _command(self, name: str, channel: int) -> dict:
        guild = self._guild_of(channel)
        scope = str(guild) if guild is not None and str(guild) in self.commands else "global"
        return next(c for c in self.commands[scope] if c["name"] == name)

    def _upload(self, channel: int, filename: str, data: bytes) -> dict:
        attachment_id = str(next(self._ids))
        path = f"{channel}/{attachment_id}/{filename.replace('/', '%2F')}"
        self.files[path] = data
        url = f"{self.base}/attachments/{path}"
        return {"id": attachment_id, "filename": filename, "size": len(data), "url": url, "proxy_url": url,
                "content_type": "text/plain; charset=utf-8"}

    def _interact(self, kind: int, data: dict, user: dict, channel: int, permissions: int, message: dict | None = None) -> dict:
        interaction_id = str(next(self._ids))
        token = f"interaction-token-{interaction_id}-c{channel}"
        guild = self._guild_of(channel)
        payload = {
            "id": interaction_id, "application_id": str(APP_ID), "type": kind, "data": data, "token": token,
            "version": 1, "channel_id": str(channel), "channel": self._channel(channel), "locale": "en-US",
            "app_permissions": str((1 << 41) - 1), "entitlements": [], "attachment_size_limit": 8 << 20,
            "context": 1 if guild is None else 0,
            "authorizing_integration_owners": {"0": str(guild)} if guild is not None else {"1": user["id"]},
        }
        if guild is None:
            payload["user"] = user
        else:
            payload.update(guild_id=str(guild), guild_locale="en-US", member=_member(user, permissions))
        if message is not None:
            payload["message"] = message
        self._call(self._dispatch("INTERACTION_CREATE", payload, guild))
        return payload

    def _channel(self, channel: int) -> dict:
        return self.threads[channel] if channel in self.threads else _channel(channel)

    def _message(self, channel: int, author: dict, content: str, message_id: str | None = None) -> dict:
        message = {
            "id": message_id or str(next(self._ids)), "channel_id": str(channel), "author": author, "content": content,
            "timestamp": _now(), "edited_timestamp": None, "tts": False, "mention_everyone": False,
            "mentions": [], "mention_roles": [], "attachments": [], "embeds": [], "components": [],
            "pinned": False, "type": 0, "flags": 0,
        }
        guild = self._guild_of(channel)
        if guild is not None:
            message.update(guild_id=str(guild), member=_member(author, 0, with_user=False))
        return message

    def _user_message(self, channel: int, author: dict, content: str, message_id: str | None = None) -> dict:
        message = self._message(channel, author, content, message_id)
        message["mentions"] = [USERS[i] for i in re.findall(r"<@!?(\d+)>", content) if i in USERS]
        message["mention_everyone"] = "@everyone" in content
        self.posted[message["id"]] = message
        return message

    def _bot_message(self, channel: int, body: dict) -> dict:
        message = self._message(channel, BOT, body.get("content") or "")
        message.update(embeds=body.get("embeds") or [], components=body.get("components") or [], flags=body.get("flags", 0))
        if body.get("message_reference"):
            message.update(type=19, message_reference=body["message_reference"])
        with self._changed:
            self.messages[message["id"]] = message
            self._changed.notify_all()
        return message

    @staticmethod
    def _channel_of(token: str) -> int:
        return int(token.rsplit("-c", 1)[1])


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py only parses JSON when the Content-Type is exactly application/json (no charset).
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


async def _body(request: web.Request) -> Any:
    if request.content_type == "application/json":
        return await request.json()
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        return json.loads(form["payload_json"]) if "payload_json" in form else None
    return None


def _carries_message(request: Request) -> bool:
    body = request.body
    if request.is_("POST", r"/interactions/\d+/[^/]+/callback"):
        return body.get("type") in (4, 7) and bool(body.get("data"))
    return request.method in ("POST", "PATCH") and any(k in body for k in ("content", "embeds", "components"))


def _member(user: dict, permissions: int, with_user: bool = True) -> dict:
    member = {"roles": [], "joined_at": _now(), "deaf": False, "mute": False, "flags": 0, "nick": None,
              "avatar": None, "premium_since": None, "pending": False, "permissions": str(permissions)}
    if with_user:
        member["user"] = user
    return member


def _thread(thread_id: int, parent: int, name: str, owner: dict) -> dict:
    return {"id": str(thread_id), "guild_id": str(CHANNEL_GUILD[parent]), "parent_id": str(parent), "owner_id": owner["id"],
            "name": name, "type": 11, "last_message_id": None, "message_count": 0, "member_count": 1,
            "rate_limit_per_user": 0, "flags": 0, "applied_tags": [], "total_message_sent": 0,
            "thread_metadata": {"archived": False, "auto_archive_duration": 1440, "archive_timestamp": _now(),
                                "locked": False}}


def _thread_member(thread_id: int, user: dict) -> dict:
    return {"id": str(thread_id), "user_id": user["id"], "join_timestamp": _now(), "flags": 0}


def _channel(channel: int) -> dict:
    if channel == DM:
        return {"id": str(DM), "type": 1, "recipients": [ALICE], "last_message_id": None}
    if channel == THREAD:
        return {**_thread(THREAD, GENERAL, "follow-ups", ALICE), "applied_tags": []}
    if channel == FORUM:
        tag = {"id": str(ANSWERED_TAG), "name": "answered", "moderated": False, "emoji_id": None, "emoji_name": None}
        return {"id": str(FORUM), "guild_id": str(GUILD), "type": 15, "name": "help", "position": 3,
                "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None, "flags": 0,
                "rate_limit_per_user": 0, "last_message_id": None, "available_tags": [tag],
                "default_reaction_emoji": None, "default_sort_order": None, "default_forum_layout": 0,
                "default_thread_rate_limit_per_user": 0}
    name = {GENERAL: "general", RANDOM: "random", LOBBY: "lobby"}[channel]
    return {"id": str(channel), "guild_id": str(CHANNEL_GUILD[channel]), "type": 0, "name": name,
            "position": channel % 100, "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
            "rate_limit_per_user": 0, "last_message_id": None}


def _guild(guild: int, threads: list[dict]) -> dict:
    everyone = {"id": str(guild), "name": "@everyone", "permissions": str(0x4000_0000_0000 | 0x0800 | 0x4000),
                "position": 0, "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}
    channels = [c for c, g in CHANNEL_GUILD.items() if g == guild and c != THREAD]
    active = [t for t in threads if t["guild_id"] == str(guild)] + ([_channel(THREAD)] if guild == GUILD else [])
    name = "askbot test server" if guild == GUILD else "second server"
    return {
        "id": str(guild), "name": name, "icon": None, "description": None, "owner_id": CAROL["id"],
        "unavailable": False, "large": False, "member_count": 4, "joined_at": _now(), "features": [],
        "roles": [everyone], "emojis": [], "stickers": [], "members": [], "voice_states": [], "presences": [],
        "channels": [_channel(c) for c in channels], "threads": active,
        "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
        "premium_tier": 0, "preferred_locale": "en-US", "verification_level": 0, "mfa_level": 0,
        "default_message_notifications": 0, "explicit_content_filter": 0, "nsfw_level": 0,
        "system_channel_flags": 0, "afk_timeout": 300,
    }


# -- running the bot against the fake --------------------------------------------------------


class ErrorLog(logging.Handler):
    """Collects what must fail a test: errors logged by discord.py, asyncio or askbot (errors
    inside event handlers are only logged), warnings that the event loop was blocked, and any
    record that contains the token."""

    LOGGERS = ("discord", "asyncio", "askbot")

    def __init__(self, token: str):
        super().__init__(logging.DEBUG)
        self.token = token
        self.problems: list[str] = []
        self.records = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        text = self.format(record)  # the message, and the traceback when there is one
        if self.token in text:
            self.problems.append(f"token in a log record from {record.name}")
        elif record.levelno >= logging.ERROR or "blocked" in text:
            self.problems.append(f"{record.levelname} {record.name}: {text}")

    def __enter__(self) -> "ErrorLog":
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self)
            logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)


class BotRunner:
    """askbot's bot (a real discord.py client) running in its own thread and event loop."""

    def __init__(self, make_bot: Callable[[], Any], token: str = TOKEN):
        self._make_bot = make_bot
        self._token = token
        self.bot = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def __enter__(self) -> "BotRunner":
        self._thread = threading.Thread(target=self._run, name="askbot-discord", daemon=True)
        self._thread.start()
        if not self._ready.wait(60) or self.error is not None:
            raise AssertionError(f"the bot did not become ready: {self.error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None and self.loop.is_running():
            # The bot's own `async with` finishes closing once the connection is down.
            asyncio.run_coroutine_threadsafe(self.bot.close(), self.loop)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the bot did not stop"

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported to the test through self.error
            self.error = error
            self._ready.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.bot = self._make_bot()

        async def ready() -> None:
            await self.bot.wait_until_ready()
            self._ready.set()

        async with self.bot:
            waiter = asyncio.create_task(ready())
            # reconnect=False: a broken test fails instead of retrying. RESUME and re-IDENTIFY
            # after the gateway closes a socket still happen (discord.py handles those itself).
            await self.bot.start(self._token, reconnect=False)
            waiter.cancel()

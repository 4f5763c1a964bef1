"""A small fake Discord on 127.0.0.1, for testing askbot with the real, unmodified discord.py.

REST under /api/v10 (aiohttp) and a gateway websocket that speaks Discord's protocol: HELLO,
IDENTIFY → READY + GUILD_CREATE, heartbeats and acks, server-requested heartbeats, RESUME with
replay of the events missed while disconnected, INVALID_SESSION, and zlib-stream compression
when the client asks for it. Every REST request is recorded for tests to assert on.

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
GENERAL, RANDOM, THREAD, DM = 3000, 3001, 3002, 3999
MANAGE_GUILD = 1 << 5

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
    seq: int = 0
    frames: list[dict] = field(default_factory=list)  # every dispatch, for replay on RESUME


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


class FakeDiscord:
    def __init__(self, token: str = TOKEN, heartbeat_ms: int = 41250):
        self.token = token
        self.heartbeat_ms = heartbeat_ms
        self.requests: list[Request] = []
        self.unhandled: list[str] = []  # "METHOD /path" of requests no route matched
        self.gateway: list[GatewayEvent] = []
        self.messages: dict[str, dict] = {}  # every message the bot created, by id
        self.commands: dict[str, list[dict]] = {}  # "global" or a guild id → synced commands
        self._originals: dict[str, str] = {}  # interaction token → its response message id
        self._ids = itertools.count(1_100_000_000_000_000_000)
        self._changed = threading.Condition()
        self._session: _Session | None = None
        self._connection: _Connection | None = None
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
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def _run(self, started: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
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
        if self._connection is not None and not self._connection.ws.closed:
            await self._connection.ws.close(code=1001)
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
        mentioned = [USERS[i] for i in re.findall(r"<@!?(\d+)>", content) if i in USERS]
        message = self._message(channel, author, content, mentions=mentioned)
        message["mention_everyone"] = "@everyone" in content
        self._call(self._dispatch("MESSAGE_CREATE", message))
        return message

    def slash(self, name: str, options: dict[str, str] | None = None, user: dict = ALICE, channel: int = GENERAL,
              permissions: int = 0) -> dict:
        """A user runs a slash command; returns the interaction (its token names the response)."""
        scope = "global" if channel == DM or str(GUILD) not in self.commands else str(GUILD)
        command = next(c for c in self.commands[scope] if c["name"] == name)
        data = {"id": command["id"], "name": name, "type": 1,
                "options": [{"name": k, "type": 3, "value": v} for k, v in (options or {}).items()]}
        if scope != "global":
            data["guild_id"] = str(GUILD)
        return self._interact(2, data, user, channel, permissions)

    def click(self, message: dict, custom_id: str, user: dict = ALICE) -> dict:
        """A user clicks a button under one of the bot's messages."""
        assert any(b.get("custom_id") == custom_id for row in message["components"] for b in row["components"])
        channel = int(message["channel_id"])
        return self._interact(3, {"custom_id": custom_id, "component_type": 2}, user, channel, 0, message)

    def disconnect(self, code: int = 4000, forget_session: bool = False) -> None:
        """Close the gateway socket from Discord's side (optionally invalidating the session)."""
        self._call(self._disconnect(code, forget_session))

    def request_heartbeat(self) -> None:
        """Send op 1: the client must answer with a heartbeat at once."""
        self._call(self._connection.send({"op": 1, "d": None}))

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
        self._connection = connection
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
        self._session = _Session(id=f"session-{next(self._ids)}")
        connection.session = self._session
        ready = {
            "v": 10, "user": {**BOT, "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(GUILD), "unavailable": True}], "session_id": self._session.id,
            "resume_gateway_url": self.gateway_url, "application": {"id": str(APP_ID), "flags": 0},
            "private_channels": [], "relationships": [],
        }
        await self._dispatch("READY", ready)
        await self._dispatch("GUILD_CREATE", _guild())

    async def _resume(self, connection: _Connection, data: dict) -> None:
        self._record(GatewayEvent("resume", {k: v for k, v in data.items() if k != "token"}))
        session = self._session
        if data.get("token") != self.token or session is None or data.get("session_id") != session.id:
            await connection.send({"op": 9, "d": False})
            return
        connection.session = session
        for frame in session.frames:
            if frame["s"] > (data.get("seq") or 0):
                await connection.send(frame)
        await self._dispatch("RESUMED", {})

    async def _dispatch(self, event: str, data: dict) -> None:
        session = self._session
        if session is None:
            return
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.frames.append(frame)
        connection = self._connection
        if connection is not None and connection.session is session and not connection.ws.closed:
            await connection.send(frame)

    async def _disconnect(self, code: int, forget_session: bool) -> None:
        if forget_session:
            self._session = None
        await self._connection.ws.close(code=code)

    # -- REST --------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body = await _body(request)
        recorded = Request(request.method, path, dict(request.query), body, request.headers.get("Authorization"))
        self._record(recorded)
        if not path.startswith(("/interactions/", "/webhooks/")) and recorded.authorization != f"Bot {self.token}":
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, path)
            if request.method == method and match:
                return await handler(recorded, *match.groups())
        self.unhandled.append(f"{request.method} {path}")
        return _json({"message": "404: Not Found", "code": 0}, 404)

    def _routes(self):
        return [
            ("GET", r"/users/@me", self._me),
            ("GET", r"/oauth2/applications/@me", self._application),
            ("PUT", r"/applications/\d+/commands", self._sync_global),
            ("PUT", r"/applications/\d+/guilds/(\d+)/commands", self._sync_guild),
            ("POST", r"/channels/(\d+)/messages", self._create_message),
            ("POST", r"/channels/(\d+)/typing", self._typing),
            ("POST", r"/interactions/(\d+)/([^/]+)/callback", self._callback),
            ("PATCH", r"/webhooks/\d+/([^/]+)/messages/@original", self._edit_original),
            ("POST", r"/webhooks/\d+/([^/]+)", self._followup),
        ]

    async def _me(self, request: Request) -> web.Response:
        return _json({**BOT, "verified": True, "mfa_enabled": False, "flags": 0})

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
        stored = [{**c, "id": str(next(self._ids)), "application_id": str(APP_ID), "version": "1"} for c in commands]
        if scope != "global":
            stored = [{**c, "guild_id": scope} for c in stored]
        self.commands[scope] = stored
        return stored

    async def _create_message(self, request: Request, channel_id: str) -> web.Response:
        message = self._bot_message(int(channel_id), request.body)
        await self._dispatch("MESSAGE_CREATE", message)  # Discord echoes the bot's own messages
        return _json(message)

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

    # -- payloads ----------------------------------------------------------------------------

    def _interact(self, kind: int, data: dict, user: dict, channel: int, permissions: int, message: dict | None = None) -> dict:
        interaction_id = str(next(self._ids))
        token = f"interaction-token-{interaction_id}-c{channel}"
        payload = {
            "id": interaction_id, "application_id": str(APP_ID), "type": kind, "data": data, "token": token,
            "version": 1, "channel_id": str(channel), "channel": _channel(channel), "locale": "en-US",
            "app_permissions": str((1 << 41) - 1), "entitlements": [], "attachment_size_limit": 8 << 20,
            "context": 1 if channel == DM else 0,
            "authorizing_integration_owners": {"0": str(GUILD)} if channel != DM else {"1": user["id"]},
        }
        if channel == DM:
            payload["user"] = user
        else:
            payload.update(guild_id=str(GUILD), guild_locale="en-US", member=_member(user, permissions))
        if message is not None:
            payload["message"] = message
        self._call(self._dispatch("INTERACTION_CREATE", payload))
        return payload

    def _message(self, channel: int, author: dict, content: str, mentions: list[dict] | None = None) -> dict:
        message = {
            "id": str(next(self._ids)), "channel_id": str(channel), "author": author, "content": content,
            "timestamp": _now(), "edited_timestamp": None, "tts": False, "mention_everyone": False,
            "mentions": mentions or [], "mention_roles": [], "attachments": [], "embeds": [], "components": [],
            "pinned": False, "type": 0, "flags": 0,
        }
        if channel != DM:
            message.update(guild_id=str(GUILD), member=_member(author, 0, with_user=False))
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


def _channel(channel: int) -> dict:
    if channel == DM:
        return {"id": str(DM), "type": 1, "recipients": [ALICE], "last_message_id": None}
    if channel == THREAD:
        return {"id": str(THREAD), "guild_id": str(GUILD), "parent_id": str(GENERAL), "owner_id": ALICE["id"],
                "name": "follow-ups", "type": 11, "last_message_id": None, "message_count": 0, "member_count": 1,
                "rate_limit_per_user": 0, "flags": 0,
                "thread_metadata": {"archived": False, "auto_archive_duration": 1440, "archive_timestamp": _now(),
                                    "locked": False}}
    name = {GENERAL: "general", RANDOM: "random"}[channel]
    return {"id": str(channel), "guild_id": str(GUILD), "type": 0, "name": name, "position": channel - GENERAL,
            "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
            "rate_limit_per_user": 0, "last_message_id": None}


def _guild() -> dict:
    everyone = {"id": str(GUILD), "name": "@everyone", "permissions": str(0x4000_0000_0000 | 0x0800 | 0x4000),
                "position": 0, "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}
    return {
        "id": str(GUILD), "name": "askbot test server", "icon": None, "description": None, "owner_id": CAROL["id"],
        "unavailable": False, "large": False, "member_count": 4, "joined_at": _now(), "features": [],
        "roles": [everyone], "emojis": [], "stickers": [], "members": [], "voice_states": [], "presences": [],
        "channels": [_channel(GENERAL), _channel(RANDOM)], "threads": [_channel(THREAD)],
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
        if not self._ready.wait(60):
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

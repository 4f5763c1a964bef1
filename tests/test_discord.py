"""The Discord bot end to end: the real discord.py client against the fake Discord (fake_discord.py).

Every test runs the bot in-process on the shared seed engine. The `start_bot` fixture fails a
test when discord.py, asyncio or askbot logged an error or the token, and checks that every
message the bot sent pings no one and fits Discord's limits.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading

import pytest

from fake_discord import (
    ALICE, APP_ID, BOB, CAROL, DM, GENERAL, MANAGE_GUILD, OTHER_BOT, RANDOM, THREAD, TOKEN,
    BotRunner, ErrorLog, FakeDiscord, Request,
)

SEED_SOURCE = "OnePlus-eyes-US-carriers-after-Huawei-deal-falls-through.txt"
ZEPHYR = "The Zephyr 3 tablet is made by Quillfeather Labs, a small company based in Tallinn.\n"


def mention(text: str) -> str:
    return f"<@{APP_ID}> {text}"


def payload(request: Request) -> dict:
    """The message a request sends: the body, or an interaction response's data."""
    if "/interactions/" in request.path:
        return request.body.get("data") or {}
    return request.body


def buttons(message: dict) -> dict[str, str]:
    """custom id prefix ("more", "up", "down") → custom id, for the buttons under a message."""
    ids = [b["custom_id"] for row in message["components"] for b in row["components"]]
    return {i.split(":")[1]: i for i in ids}


def assert_no_pings_and_within_limits(request: Request) -> None:
    body = payload(request)
    assert body["allowed_mentions"] == {"parse": [], "replied_user": False} or body["allowed_mentions"] == {"parse": []}, body
    assert len(body.get("content") or "") <= 2000
    for embed in body.get("embeds") or []:
        fields = embed.get("fields", [])
        assert len(embed.get("title", "")) <= 256 and len(embed.get("description", "")) <= 4096
        assert len(fields) <= 25
        assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in fields)
        total = len(embed.get("title", "")) + len(embed.get("description", "")) + sum(len(f["name"]) + len(f["value"]) for f in fields)
        assert total <= 6000


@pytest.fixture
def fake():
    with FakeDiscord(heartbeat_ms=1000) as fake:
        yield fake


@pytest.fixture
def start_bot(fake, seed_engine, tmp_path):
    """start(engine=..., **settings) runs askbot's bot against the fake and returns it."""
    from askbot.discord_bot import make_bot

    runners = []
    with ErrorLog(TOKEN) as log:

        def start(engine=seed_engine, opener=None, **changes):
            settings = seed_engine.settings.with_overrides(
                data_dir=tmp_path / "data", discord_token=TOKEN, discord_api_base=fake.api_base,
                discord_gateway_url=fake.gateway_url, discord_cooldown_seconds=0.0,
            )
            settings = settings.with_overrides(**changes)
            runner = BotRunner(lambda: make_bot(settings, opener or (lambda _: engine), guild_ready_timeout=0.05))
            runners.append(runner.__enter__())
            return runner.bot

        yield start
        for runner in runners:
            runner.__exit__(None, None, None)
    assert not log.problems, log.problems
    assert log.records > 0, "the log capture saw nothing"
    for request in fake.sent():
        assert_no_pings_and_within_limits(request)
    assert not [r for r in fake.requests if TOKEN in json.dumps(r.body)], "the token is never sent as content"
    assert not fake.unhandled, f"requests the fake does not know: {fake.unhandled}"


@pytest.fixture
def own_engine(tmp_path, seed_index, docs_copy):
    """An engine on writable copies of the seed docs and index (for rebuild tests)."""
    from askbot.engine import Engine
    from askbot.settings import Settings

    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    engine = Engine.open(Settings(docs_dir=docs_copy, index_dir=index), auto_build=False, notify=lambda _: None)
    yield engine
    engine.close()


# -- connecting --------------------------------------------------------------------------------


def test_login_identify_and_command_sync(fake, start_bot):
    from askbot.discord_bot import INTENTS

    start_bot()
    assert fake.requests[0].is_("GET", "/users/@me")
    assert all(r.authorization == f"Bot {TOKEN}" for r in fake.requests if not r.path.startswith("/interactions"))
    commands = {c["name"]: c for c in fake.commands["global"]}
    assert commands["ask"]["options"][0]["name"] == "question"
    assert commands["reindex"]["default_member_permissions"] == MANAGE_GUILD
    assert commands["reindex"]["dm_permission"] is False
    assert commands["Ask askbot"]["type"] == 3, "a message context-menu command"
    for managers_only in ("docs", "askbot"):
        assert commands[managers_only]["default_member_permissions"] == MANAGE_GUILD
        assert commands[managers_only]["dm_permission"] is False
    connect, identify = fake.wait_gateway("connect")[0], fake.wait_gateway("identify")[0]
    assert connect.data["compress"] == "zlib-stream" and connect.data["v"] == "10"
    assert identify.data["intents"] == INTENTS.value
    assert not INTENTS.message_content, "no privileged intent is needed"


def test_guild_setting_syncs_commands_to_that_server(fake, start_bot):
    start_bot(discord_guild_id=2000)
    assert sorted(c["name"] for c in fake.commands["2000"]) == ["Ask askbot", "ask", "askbot", "docs", "reindex"]
    interaction = fake.slash("ask", {"question": "Who is the CEO of OnePlus?"})
    assert "Pete Lau" in fake.wait_edit(interaction).body["embeds"][0]["description"]


# -- answering -----------------------------------------------------------------------------------


def test_mention_gets_an_answer_embed_with_source_and_buttons(fake, start_bot):
    start_bot()
    mark = fake.mark()
    asked = fake.send_message(mention("What chip powers the OnePlus 6?"))
    reply = fake.wait_reply(asked)
    typing = fake.wait_request(lambda r: r.is_("POST", rf"/channels/{GENERAL}/typing"), since=mark)
    assert fake.requests.index(typing) < next(i for i, r in enumerate(fake.requests) if r.path.endswith("/messages") and i >= mark)
    embed = reply["embeds"][0]
    assert embed["title"] == "What chip powers the OnePlus 6?"
    assert "**Building on the grand success of the OnePlus 5T" in embed["description"]  # the sentence naming the phone comes with it
    assert "Snapdragon 845" in embed["description"].split("**")[1]
    source = next(f["value"] for f in embed["fields"] if f["name"] == "Source")
    assert "OnePlus eyes US carriers" in source and "2018-01-12" in source and SEED_SOURCE in source
    assert 0 < float(next(f["value"] for f in embed["fields"] if f["name"] == "Confidence")) <= 1
    assert set(buttons(reply)) == {"more", "up", "down"}
    request = next(r for r in fake.sent(mark) if r.body.get("message_reference"))
    assert request.body["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert request.body["message_reference"]["message_id"] == int(asked["id"])


def test_slash_ask_defers_then_edits_the_response(fake, start_bot):
    start_bot()
    interaction = fake.slash("ask", {"question": "Who is the CEO of OnePlus?"})
    deferred = fake.wait_response(interaction)
    edit = fake.wait_edit(interaction)
    assert deferred.body["type"] == 5 and deferred.query == {"with_response": "1"}
    assert fake.requests.index(deferred) < fake.requests.index(edit)
    assert "Pete Lau" in edit.body["embeds"][0]["description"]
    assert edit.body["allowed_mentions"] == {"parse": []}


def test_off_topic_question_gets_plain_not_found_with_closest_passage(fake, start_bot):
    start_bot()
    reply = fake.wait_reply(fake.send_message(mention("What is the capital of France?")))
    assert reply["content"].startswith("I couldn't find that in the documents.")
    assert "\n> " in reply["content"] and SEED_SOURCE in reply["content"]
    assert not reply["embeds"]
    assert set(buttons(reply)) == {"more"}, "no votes on a non-answer"


def test_direct_messages_are_answered_unless_turned_off(fake, start_bot):
    start_bot()
    reply = fake.wait_reply(fake.send_message("Who is the CEO of OnePlus?", channel=DM))
    assert "Pete Lau" in reply["embeds"][0]["description"]


def test_direct_messages_turned_off_get_a_polite_note(fake, start_bot):
    start_bot(discord_dms=False)
    interaction = fake.slash("ask", {"question": "Who is the CEO of OnePlus?"}, channel=DM)
    response = fake.wait_response(interaction).body
    assert response["data"]["flags"] == 64 and "direct messages" in response["data"]["content"]
    mark = fake.mark()
    fake.send_message("Who is the CEO of OnePlus?", channel=DM)
    fake.wait_reply(fake.send_message(mention("Who is the CEO of OnePlus?")))  # a later question is answered…
    assert not [r for r in fake.requests[mark:] if f"/channels/{DM}/" in r.path]  # …the DM never was


def test_bots_and_itself_are_ignored(fake, start_bot):
    start_bot()
    mark = fake.mark()
    fake.send_message(mention("What chip powers the OnePlus 6?"), author=OTHER_BOT)
    fake.send_message("@everyone no mention of the bot here")
    fake.wait_reply(fake.send_message(mention("Who is the CEO of OnePlus?")))
    replies = [r for r in fake.requests[mark:] if r.is_("POST", rf"/channels/{GENERAL}/messages")]
    assert len(replies) == 1, "only the human's mention is answered; the bot's echoed reply is ignored"


def test_empty_mention_gets_a_usage_hint(fake, start_bot):
    start_bot()
    reply = fake.wait_reply(fake.send_message(f"<@{APP_ID}>"))
    assert reply["content"].startswith("Ask me a question about the documents")


# -- buttons and feedback -----------------------------------------------------------------------------


def test_more_passages_are_shown_only_to_the_clicker(fake, start_bot):
    start_bot()
    reply = fake.wait_reply(fake.send_message(mention("What chip powers the OnePlus 6?")))
    response = fake.wait_response(fake.click(reply, buttons(reply)["more"], user=BOB)).body
    assert response["type"] == 4 and response["data"]["flags"] == 64
    fields = response["data"]["embeds"][0]["fields"]
    assert [f["name"][:2] for f in fields] == ["2.", "3."]  # top_k 3: the two passages after the first
    assert all(SEED_SOURCE in f["value"].replace("\\", "") for f in fields)


def test_votes_are_stored_one_per_user_and_changeable(fake, start_bot, tmp_path, cli):
    start_bot()
    reply = fake.wait_reply(fake.send_message(mention("What chip powers the OnePlus 6?")))
    ids = buttons(reply)
    for custom_id, user in [(ids["up"], ALICE), (ids["down"], ALICE), (ids["up"], BOB)]:
        ack = fake.wait_response(fake.click(reply, custom_id, user=user)).body
        assert ack["data"]["flags"] == 64 and "recorded" in ack["data"]["content"]
    assert "👍 1 · 👎 1" in ack["data"]["content"]

    with sqlite3.connect(tmp_path / "data" / "feedback.sqlite3") as db:
        votes = db.execute("SELECT user_hash, vote FROM votes").fetchall()
        question, answer, passages = db.execute("SELECT question, answer, passages FROM answers").fetchone()
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert sorted(v for _, v in votes) == [-1, 1]
    assert not {ALICE["id"], BOB["id"]} & {h for h, _ in votes}, "user ids are stored hashed"
    assert question == "What chip powers the OnePlus 6?" and "Snapdragon 845" in answer
    assert json.loads(passages)[0]["source"] == SEED_SOURCE

    result = cli("feedback", "export", "--data", str(tmp_path / "data"))
    assert result.exit_code == 0
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["question"] == question and record["votes"] == {"up": 1, "down": 1}
    assert record["answers"] == [], "a tie is not a confirmed gold answer"
    assert {"id", "question", "answers", "title"} <= set(record)


def test_buttons_of_a_forgotten_answer_ask_to_ask_again(fake, start_bot):
    bot = start_bot()
    reply = fake.wait_reply(fake.send_message(mention("What chip powers the OnePlus 6?")))
    bot.answers = type(bot.answers)()  # what a restart does to answers in memory
    response = fake.wait_response(fake.click(reply, buttons(reply)["up"])).body
    assert "ask again" in response["data"]["content"] and response["data"]["flags"] == 64


# -- limits --------------------------------------------------------------------------------------


def test_cooldown_answers_once_and_notes_once(fake, start_bot):
    start_bot(discord_cooldown_seconds=600)
    mark = fake.mark()
    first = fake.send_message(mention("What chip powers the OnePlus 6?"))
    fake.wait_reply(first)
    for _ in range(4):
        fake.send_message(mention("Who is the CEO of OnePlus?"))
    fake.wait_request(lambda r: r.path.endswith("/messages") and "One question every" in (r.body.get("content") or ""), since=mark)
    interaction = fake.slash("ask", {"question": "Who is the CEO of OnePlus?"})
    note = fake.wait_response(interaction).body["data"]
    assert note["flags"] == 64 and note["content"].startswith("One question every 600 seconds")
    fake.wait_reply(fake.send_message(mention("Who is the CEO of OnePlus?"), author=BOB))  # others unaffected
    replies = [r.body for r in fake.requests[mark:] if r.is_("POST", rf"/channels/{GENERAL}/messages")]
    notes = [b for b in replies if (b.get("content") or "").startswith("One question every")]
    assert len(replies) == 3 and len(notes) == 1, "one answer, one note for the burst, Bob's answer"


def test_channel_allowlist(fake, start_bot):
    start_bot(discord_channels=(GENERAL,))
    mark = fake.mark()
    fake.send_message(mention("Who is the CEO of OnePlus?"), channel=RANDOM)
    in_thread = fake.send_message(mention("Who is the CEO of OnePlus?"), channel=THREAD)
    assert "Pete Lau" in fake.wait_reply(in_thread)["embeds"][0]["description"]  # a thread of an allowed channel
    note = fake.wait_response(fake.slash("ask", {"question": "Who is the CEO of OnePlus?"}, channel=RANDOM)).body["data"]
    assert note["flags"] == 64 and f"<#{GENERAL}>" in note["content"]
    assert not [r for r in fake.requests[mark:] if f"/channels/{RANDOM}/" in r.path]


def test_too_long_question_gets_a_polite_note(fake, start_bot):
    start_bot(discord_max_question_chars=100)
    interaction = fake.slash("ask", {"question": "What chip powers the OnePlus 6? " * 10})
    note = fake.wait_response(interaction).body["data"]
    assert note["flags"] == 64 and "please keep it under 100" in note["content"]


@pytest.fixture(scope="module")
def hostile_engine(tmp_path_factory):
    """An index of one document full of pings, markdown and a title far over Discord's limits."""
    from askbot.engine import Engine
    from askbot.settings import Settings

    folder = tmp_path_factory.mktemp("hostile")
    (folder / "docs").mkdir()
    title = "@everyone " + "very long release notes title " * 20
    body = (
        "@everyone The Zephyr gadget pings <@&555> and <@10> and costs forty-two dollars in **bold** _shops_. "
        + "Its manual rambles on about nothing in particular, " * 60 + "and ends here.\n"
    )
    (folder / "docs" / "hostile.md").write_text(f"---\ntitle: \"{title}\"\ndate: 2019-05-05\n---\n{body}")
    engine = Engine.open(Settings(docs_dir=folder / "docs", index_dir=folder / "index"), notify=lambda _: None)
    yield engine
    engine.close()


def test_hostile_document_text_never_pings_and_stays_within_limits(fake, start_bot, hostile_engine):
    start_bot(engine=hostile_engine, discord_max_question_chars=2000)
    answered = fake.wait_reply(fake.send_message(mention("How much does the Zephyr gadget cost?")))
    embed = answered["embeds"][0]
    assert "forty-two dollars" in embed["description"] and "@everyone" in embed["description"]
    not_found = fake.wait_reply(fake.send_message(mention("What is the capital of France?")))
    assert "@everyone" in not_found["content"] and "<@&555>" in not_found["content"]
    more = fake.wait_response(fake.click(answered, buttons(answered)["more"])).body["data"]["embeds"][0]
    assert more["fields"] and all(f["name"].endswith("…") for f in more["fields"]), "the 600-char title is cut"
    # start_bot's teardown checks every send: allowed_mentions none, and within Discord's limits.


# -- index updates -------------------------------------------------------------------------------


def test_reindex_needs_manage_server_then_rebuilds_while_answering(fake, start_bot, own_engine):
    start_bot(engine=own_engine)
    before = own_engine.info().path
    (own_engine.settings.docs_dir / "zephyr.txt").write_text(ZEPHYR)

    denied = fake.wait_response(fake.slash("reindex", user=ALICE)).body
    assert denied["data"]["flags"] == 64 and "Manage Server" in denied["data"]["content"]
    assert own_engine.info().path == before

    interaction = fake.slash("reindex", user=CAROL, permissions=MANAGE_GUILD)
    during = fake.send_message(mention("Who is the CEO of OnePlus?"))  # answered from one index or the other
    deferred = fake.wait_response(interaction).body
    assert deferred["type"] == 5 and deferred["data"]["flags"] == 64
    assert "Pete Lau" in fake.wait_reply(during)["embeds"][0]["description"]
    done = fake.wait_edit(interaction, timeout=120).body["content"]
    assert done.startswith("Index rebuilt: added 1, changed 0, removed 0, unchanged 1")

    reply = fake.wait_reply(fake.send_message(mention("Who makes the Zephyr 3 tablet?")))
    assert "Quillfeather Labs" in reply["embeds"][0]["description"]


def test_index_rebuilt_by_the_cli_is_picked_up(fake, start_bot, own_engine):
    from askbot.engine import build_index

    start_bot(engine=own_engine)
    (own_engine.settings.docs_dir / "zephyr.txt").write_text(ZEPHYR)
    build_index(own_engine.settings, notify=lambda _: None)  # what `askbot index build` runs
    reply = fake.wait_reply(fake.send_message(mention("Who makes the Zephyr 3 tablet?")))
    assert "Quillfeather Labs" in reply["embeds"][0]["description"]
    assert "zephyr.txt" in reply["embeds"][0]["fields"][0]["value"]


# -- load and the gateway ---------------------------------------------------------------------------

FACTS = [
    ("What chip powers the OnePlus 6?", "Snapdragon 845"),
    ("Who is the CEO of OnePlus?", "Pete Lau"),
    ("How much was ZTE fined?", "$1,2 billion"),
    ("What phone did ZTE release with AT&T?", "Axon M"),
    ("How did OnePlus originally sell its phones?", "invite system"),
]


class GatedEngine:
    """The real engine, except that the worker waits at a gate before each batch: so a test can
    hold the worker busy and watch the event loop stay free."""

    def __init__(self, engine):
        self._engine = engine
        self.gate = threading.Event()

    def ask_many(self, questions, k=None):
        assert self.gate.wait(60), "the test never opened the gate"
        return self._engine.ask_many(questions, k)

    def __getattr__(self, name):
        return getattr(self._engine, name)


def test_twenty_questions_at_once_are_batched_and_heartbeats_keep_flowing(fake, start_bot, seed_engine):
    fake.heartbeat_ms = 100
    engine = GatedEngine(seed_engine)
    bot = start_bot(engine=engine)
    mark = fake.mark()
    asked = [(fake.send_message(mention(FACTS[i % len(FACTS)][0])), FACTS[i % len(FACTS)][1]) for i in range(20)]
    fake.wait_requests(lambda r: r.path.endswith("/typing"), 20, since=mark)  # all 20 are being worked on
    beats = len(fake.gateway)
    fake.request_heartbeat()
    fake.wait_gateway("heartbeat", count=sum(e.kind == "heartbeat" for e in fake.gateway[:beats]) + 3)
    assert not any(r.path.endswith("/messages") for r in fake.requests[mark:]), "the worker is still held"
    engine.gate.set()
    for message, fact in asked:
        assert fact in fake.wait_reply(message)["embeds"][0]["description"]
    assert sum(bot.batcher.batch_sizes) == 20
    assert max(bot.batcher.batch_sizes) >= 10, f"questions that waited together were encoded together: {bot.batcher.batch_sizes}"


def test_gateway_disconnect_resumes_then_reidentifies_and_keeps_answering(fake, start_bot):
    start_bot()
    session = fake.wait_gateway("identify")
    fake.disconnect(code=4000)
    missed = fake.send_message(mention("Who is the CEO of OnePlus?"))  # sent while the socket is down
    resume = fake.wait_gateway("resume")[0]
    assert resume.data["session_id"].startswith("session-") and resume.data["seq"] >= 2
    assert "Pete Lau" in fake.wait_reply(missed)["embeds"][0]["description"]  # replayed on RESUME
    assert len(fake.wait_gateway("identify")) == len(session)

    fake.disconnect(code=4000, forget_session=True)  # the resume is refused: a fresh IDENTIFY follows
    fake.wait_gateway("identify", count=2, timeout=30)
    reply = fake.wait_reply(fake.send_message(mention("What chip powers the OnePlus 6?")))
    assert "Snapdragon 845" in reply["embeds"][0]["description"]

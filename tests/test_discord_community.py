"""Discord as support communities use it, end to end: the real discord.py client against the fake.

Forum posts answered in their thread, Apps → "Ask askbot", a collection per server, /docs,
the question log and its report, 429 rate limits, and shards. The `start_bot` fixture (from
test_discord.py) fails a test on any logged error, a ping, or a message over Discord's limits.
"""

from __future__ import annotations

import json
import time

import pytest

from conftest import SEED_DOCS
from fake_discord import (
    ALICE, ANSWERED_TAG, BOB, CAROL, FORUM, GENERAL, GUILD, GUILD2, LOBBY, MANAGE_GUILD, MESSAGE_CONTENT, TOKEN,
    BotRunner,
)
from test_discord import SEED_SOURCE, ZEPHYR, buttons, fake, mention, own_engine, start_bot  # noqa: F401 (fixtures)

BETA = "beta"


def wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def text_of(message: dict) -> str:
    """Everything a message shows: content, embed texts, field values."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title", ""), embed.get("description", "")]
        parts += [f["value"] for f in embed.get("fields", [])]
    return "\n".join(parts).replace("\\", "")


# -- part 1: forum channels ------------------------------------------------------------------


def test_forum_post_is_answered_in_its_thread_tagged_and_followed_up(fake, start_bot, caplog):
    from askbot.discord_bot import FORUM_INTENTS, INTENT_NOTE

    start_bot(discord_forums=(FORUM,), discord_forum_tag="Answered")
    assert fake.wait_gateway("identify")[0].data["intents"] == FORUM_INTENTS.value
    assert FORUM_INTENTS.value & MESSAGE_CONTENT
    assert INTENT_NOTE in caplog.text and "free below 100 servers" in INTENT_NOTE

    thread, _ = fake.post_in_forum("OnePlus 6 chip", "What chip powers the OnePlus 6?")
    (answer,) = fake.wait_messages(int(thread["id"]))
    embed = answer["embeds"][0]
    assert embed["title"] == "OnePlus 6 chip. What chip powers the OnePlus 6?"
    assert "Snapdragon 845" in embed["description"] and SEED_SOURCE in text_of(answer)
    assert set(buttons(answer)) == {"more", "up", "down"}
    tagged = fake.wait_request(lambda r: r.is_("PATCH", rf"/channels/{thread['id']}"))
    assert tagged.body["applied_tags"] == [str(ANSWERED_TAG)]

    follow_up = fake.send_message(mention("When will it arrive?"), channel=int(thread["id"]))
    reply = fake.wait_reply(follow_up)["embeds"][0]
    assert "taking 'it' as OnePlus 6" in reply["description"]
    assert len(fake.wait_messages(int(thread["id"]), 2)) == 2, "the starter message is not answered twice"


def test_forums_without_the_intent_switched_on_are_one_clear_line(fake, cli, monkeypatch, seed_index, tmp_path):
    from askbot.discord_bot import FORUM_INTENT_REFUSED

    fake.message_content_allowed = False
    for name, value in {"DISCORD_TOKEN": TOKEN, "ASKBOT_DISCORD_API_BASE": fake.api_base, "ASKBOT_DISCORD_GATEWAY_URL": fake.gateway_url,
                        "ASKBOT_DOCS_DIR": str(SEED_DOCS), "ASKBOT_INDEX_DIR": str(seed_index),
                        "ASKBOT_DATA_DIR": str(tmp_path / "data"), "ASKBOT_DISCORD_FORUMS": str(FORUM)}.items():
        monkeypatch.setenv(name, value)
    result = cli("discord")
    assert result.exit_code == 2 and result.stderr.strip().splitlines()[-1] == f"askbot: error: {FORUM_INTENT_REFUSED}"
    assert TOKEN not in result.stderr


def test_forum_post_whose_first_message_event_is_lost_is_read_through_the_api(fake, start_bot, monkeypatch):
    import askbot.discord_forums

    monkeypatch.setattr(askbot.discord_forums, "STARTER_WAIT_SECONDS", 0.3)
    start_bot(discord_forums=(FORUM,))
    thread, _ = fake.post_in_forum("CEO", "Who is the CEO of OnePlus?", starter_on_gateway=False)
    assert "Pete Lau" in fake.wait_messages(int(thread["id"]))[0]["embeds"][0]["description"]
    assert fake.wait_request(lambda r: r.is_("GET", rf"/channels/{thread['id']}/messages/{thread['id']}"))


def test_forum_abstention_is_silent_by_default(fake, start_bot):
    bot = start_bot(discord_forums=(FORUM,))
    unanswerable, _ = fake.post_in_forum("Travel", "What is the capital of France?")
    answerable, _ = fake.post_in_forum("CEO", "Who is the CEO of OnePlus?")
    assert "Pete Lau" in fake.wait_messages(int(answerable["id"]))[0]["embeds"][0]["description"]
    wait_until(lambda: len(bot.question_log.questions(since=_long_ago())) == 2)
    assert not [m for m in fake.messages.values() if m["channel_id"] == unanswerable["id"]]
    assert not [r for r in fake.requests if r.method == "PATCH" and r.path.startswith("/channels/")], "no tag configured"


def test_forum_abstention_said_once_briefly_when_not_silent(fake, start_bot):
    from askbot.discord_forums import BRIEF_ABSTAIN

    start_bot(discord_forums=(FORUM,), discord_forum_silent_on_abstain=False, discord_forum_tag="answered")
    thread, _ = fake.post_in_forum("Travel", "What is the capital of France?")
    (note,) = fake.wait_messages(int(thread["id"]))
    assert note["content"] == BRIEF_ABSTAIN and not note["embeds"] and not note["components"]
    assert not [r for r in fake.requests if r.is_("PATCH", rf"/channels/{thread['id']}")], "only answered posts are tagged"


def test_posts_in_forums_not_listed_are_ignored_and_no_intent_is_asked(fake, start_bot):
    from askbot.discord_bot import INTENTS

    start_bot()
    thread, _ = fake.post_in_forum("CEO", "Who is the CEO of OnePlus?")
    fake.wait_reply(fake.send_message(mention("Who is the CEO of OnePlus?")))  # a later question is answered…
    assert not [m for m in fake.messages.values() if m["channel_id"] == thread["id"]]  # …the post never was
    assert fake.wait_gateway("identify")[0].data["intents"] == INTENTS.value


# -- part 2: Apps → Ask askbot ---------------------------------------------------------------------


def test_context_menu_replies_publicly_to_the_message_without_message_content(fake, start_bot):
    start_bot()
    asked = fake.send_message("What chip powers the OnePlus 6?", author=ALICE)  # no mention: the bot sees no text
    interaction = fake.context_menu("Ask askbot", asked, user=BOB)
    deferred = fake.wait_response(interaction).body
    assert deferred["type"] == 5 and deferred["data"]["flags"] == 64
    reply = fake.wait_reply(asked)
    assert "Snapdragon 845" in reply["embeds"][0]["description"] and set(buttons(reply)) == {"more", "up", "down"}
    request = next(r for r in fake.sent() if (r.body.get("message_reference") or {}).get("message_id") == int(asked["id"]))
    assert request.body["allowed_mentions"] == {"parse": [], "replied_user": False}
    told = fake.wait_edit(interaction).body["content"]
    assert told.startswith("Answered here: ") and reply["id"] in told


def test_context_menu_ephemeral_answers_only_the_clicker(fake, start_bot):
    start_bot(discord_context_reply="ephemeral")
    asked = fake.send_message("Who is the CEO of OnePlus?", author=ALICE)
    mark = fake.mark()
    edit = fake.wait_edit(fake.context_menu("Ask askbot", asked, user=BOB)).body
    assert "Pete Lau" in edit["embeds"][0]["description"] and edit["allowed_mentions"] == {"parse": []}
    assert not [r for r in fake.requests[mark:] if r.is_("POST", rf"/channels/{GENERAL}/messages")]


def test_context_menu_on_a_message_without_text_is_a_polite_note(fake, start_bot):
    from askbot.discord_context import NO_TEXT

    start_bot()
    empty = fake.send_message("   ")
    response = fake.wait_response(fake.context_menu("Ask askbot", empty)).body["data"]
    assert response == {**response, "content": NO_TEXT, "flags": 64}


# -- part 3: one bot, many servers ---------------------------------------------------------------


@pytest.fixture
def two_servers(tmp_path, seed_engine, start_bot):
    """A bot whose GUILD answers from the seed article (default) and GUILD2 from collection
    "beta" (one Zephyr document), opened lazily through Settings.for_collection."""
    from askbot.engine import Engine

    mapping = tmp_path / "collections.toml"
    mapping.write_text(f'default = "default"\n[guilds]\n"{GUILD2}" = "{BETA}"\n')
    beta_docs = tmp_path / "data" / "collections" / BETA / "docs"
    beta_docs.mkdir(parents=True)
    (beta_docs / "zephyr.txt").write_text(ZEPHYR)
    (beta_docs / "zephyr-shipping.md").write_text("# Zephyr shipping\n\nThe Zephyr 3 tablet ships from Tallinn within two days.\n")
    opened = []

    def opener(settings):
        opened.append(settings.collection)
        return seed_engine if settings.collection == "default" else Engine.open(settings, notify=lambda _: None)

    bot = start_bot(opener=opener, discord_collections=mapping, index_dir=tmp_path / "index")
    return bot, opened


def test_each_server_answers_only_from_its_own_collection(fake, two_servers, tmp_path, cli):
    bot, opened = two_servers
    assert opened == ["default"], "the other collection opens on its first question"
    here = fake.wait_reply(fake.send_message(mention("Who makes the Zephyr 3 tablet?"), channel=GENERAL))
    there = fake.wait_reply(fake.send_message(mention("Who makes the Zephyr 3 tablet?"), channel=LOBBY))
    oneplus_there = fake.wait_reply(fake.send_message(mention("What chip powers the OnePlus 6?"), channel=LOBBY))
    assert opened == ["default", BETA] and (tmp_path / "index" / "collections" / BETA).is_dir()
    assert "Quillfeather" in there["embeds"][0]["description"] and "zephyr.txt" in text_of(there)
    assert "zephyr" not in text_of(here).lower() and "Quillfeather" not in text_of(here)
    assert SEED_SOURCE not in text_of(oneplus_there) and "Snapdragon" not in text_of(oneplus_there)

    more = fake.wait_response(fake.click(there, buttons(there)["more"])).body["data"]
    assert "OnePlus" not in json.dumps(more)
    foreign = {**there, "channel_id": str(GENERAL)}  # GUILD's members clicking GUILD2's answer
    refused = fake.wait_response(fake.click(foreign, buttons(there)["up"])).body["data"]
    assert "ask again" in refused["content"]

    answered_here = fake.wait_reply(fake.send_message(mention("Who is the CEO of OnePlus?"), channel=GENERAL))
    fake.wait_response(fake.click(there, buttons(there)["up"]))
    fake.wait_response(fake.click(answered_here, buttons(answered_here)["up"]))
    exported = {c: cli("feedback", "export", "--data", str(tmp_path / "data"), "--collection", c).stdout for c in ("default", BETA)}
    assert "Zephyr" in exported[BETA] and "OnePlus" not in exported[BETA] and "CEO" not in exported[BETA]
    assert "CEO" in exported["default"] and "Zephyr" not in exported["default"]
    logged = {q.question: q.collection for q in bot.question_log.questions(since=_long_ago())}
    assert logged["What chip powers the OnePlus 6?"] == BETA and logged["Who is the CEO of OnePlus?"] == "default"


def test_collection_map_channel_wins_over_server_and_bad_files_are_usage_errors(tmp_path):
    from askbot.discord_collections import CollectionMap
    from askbot.errors import UsageError

    path = tmp_path / "map.toml"
    path.write_text(f'[guilds]\n"{GUILD}" = "acme"\n[channels]\n"{LOBBY}" = "lobby-docs"\n')
    mapping = CollectionMap.load(path, default="fallback")
    assert mapping.collection_for(GUILD, GENERAL) == "acme"
    assert mapping.collection_for(GUILD2, LOBBY) == "lobby-docs"
    assert mapping.collection_for(GUILD2, 1, parent_id=LOBBY) == "lobby-docs", "a thread follows its channel"
    assert mapping.collection_for(GUILD2, 1) == mapping.collection_for(None, 1) == "fallback"
    for text, message in [("[guilds\n", "not valid TOML"), ('[guilds]\n"x" = "a"\n', "not a numeric Discord id"),
                          ('[guilds]\n"1" = "../up"\n', "collection names"), ("servers = 1\n", "unknown key")]:
        path.write_text(text)
        with pytest.raises(UsageError, match=message):
            CollectionMap.load(path)


# -- part 4: /docs ---------------------------------------------------------------------------------


def docs_listing(docs_dir) -> list[str]:
    return sorted(p.name for p in docs_dir.iterdir())


def test_docs_add_list_remove_for_managers_only(fake, start_bot, own_engine):
    from askbot.discord_docs import NOT_MANAGER

    start_bot(engine=own_engine)
    docs_dir = own_engine.settings.docs_dir
    before = docs_listing(docs_dir)
    denied = fake.wait_response(fake.slash("docs add", user=ALICE, attachments={"file": ("zephyr.txt", ZEPHYR.encode())})).body
    assert denied["data"] == {**denied["data"], "content": NOT_MANAGER, "flags": 64}
    assert docs_listing(docs_dir) == before

    added = fake.slash("docs add", user=CAROL, permissions=MANAGE_GUILD, attachments={"file": ("zephyr.txt", ZEPHYR.encode())})
    during = fake.send_message(mention("Who is the CEO of OnePlus?"))  # answered while the index is updated
    assert "Pete Lau" in fake.wait_reply(during)["embeds"][0]["description"]
    done = _final_edit(fake, added)
    assert done.startswith("Added `zephyr.txt`. Index rebuilt: added 1, changed 0, removed 0, unchanged 1"), done
    assert (docs_dir / "zephyr.txt").read_text() == ZEPHYR and docs_listing(docs_dir) == sorted([*before, "zephyr.txt"])
    reply = fake.wait_reply(fake.send_message(mention("Who makes the Zephyr 3 tablet?")))
    assert "Quillfeather Labs" in reply["embeds"][0]["description"]

    listed = fake.wait_response(fake.slash("docs list", user=CAROL, permissions=MANAGE_GUILD)).body["data"]
    assert listed["flags"] == 64 and f"`zephyr.txt` ({len(ZEPHYR.encode())} bytes)" in listed["content"] and "2 document(s)" in listed["content"]

    removed = _final_edit(fake, fake.slash("docs remove", {"name": "zephyr.txt"}, user=CAROL, permissions=MANAGE_GUILD))
    assert removed.startswith("Removed `zephyr.txt`. Index rebuilt: added 0, changed 0, removed 1"), removed
    assert docs_listing(docs_dir) == before
    missing = _final_edit(fake, fake.slash("docs remove", {"name": "../../etc/passwd"}, user=CAROL, permissions=MANAGE_GUILD))
    assert missing.startswith("Nothing was changed. There is no document named")


@pytest.mark.parametrize(("name", "data", "refusal"), [
    ("tool.exe", b"MZ binary", "askbot does not index .exe"),
    ("big.txt", b"x " * 600, "is 1,200 bytes; the limit is 1,000 bytes"),
    ("../../x.txt", b"escape attempt", "must be a plain file name"),
    ("empty.md", b"", "is empty"),
    ("binary.txt", bytes(range(256)) * 3, "cannot be indexed: binary content"),
])
def test_docs_add_refuses_bad_uploads_and_changes_nothing(fake, start_bot, own_engine, name, data, refusal):
    start_bot(engine=own_engine, discord_max_upload_bytes=1000)
    docs_dir = own_engine.settings.docs_dir
    before, index_before = docs_listing(docs_dir), own_engine.info().path
    interaction = fake.slash("docs add", user=CAROL, permissions=MANAGE_GUILD,
                             attachments={"file": ("zephyr.txt", ZEPHYR.encode()), "file2": (name, data)})
    text = _final_edit(fake, interaction)
    assert text.startswith("Nothing was changed. ") and refusal in text, text
    assert docs_listing(docs_dir) == before, "no file saved, no temporary file left"
    assert own_engine.info().path == index_before
    assert not (docs_dir.parent / "x.txt").exists()


def _final_edit(fake, interaction, timeout: float = 120) -> str:
    """The last text of a deferred response: the one that no longer says it is working."""
    token = interaction["token"]
    wait_until(lambda: any(not _working(r) for r in _edits(fake, token)), timeout)
    return next(r for r in _edits(fake, token) if not _working(r)).body["content"]


def _edits(fake, token: str):
    return [r for r in list(fake.requests) if r.method == "PATCH" and token in r.path]


def _working(request) -> bool:
    return request.body["content"].endswith("Updating the index…")


# -- part 5: the question log and the report -----------------------------------------------------


def _long_ago():
    from datetime import datetime, timezone

    return datetime(2000, 1, 1, tzinfo=timezone.utc)


def test_questions_are_logged_reported_and_forgotten_on_request(fake, start_bot, tmp_path, cli, seed_index):
    from askbot.questionlog import FILE_NAME, LoggedQuestion, SqliteQuestionLog

    old = SqliteQuestionLog(tmp_path / "data" / FILE_NAME)  # one question from before the retention period
    old.record(LoggedQuestion("2001-01-01T00:00:00+00:00", GUILD, GENERAL, "default", "ancient?", False, 0.1, None, None, "h"))
    old.close()
    bot = start_bot(discord_log_days=90)
    answered = fake.wait_reply(fake.send_message(mention("What chip powers the OnePlus 6?")))
    for question, user in [("What is the capital of France?", ALICE), ("what's the capital city of France?", BOB),
                           ("What is the capital of France?", BOB)]:
        fake.wait_reply(fake.send_message(mention(question), author=user))
    fake.wait_response(fake.click(answered, buttons(answered)["down"], user=BOB))
    wait_until(lambda: len(bot.question_log.questions(since=_long_ago())) == 4)
    logged = bot.question_log.questions(since=_long_ago())
    assert "ancient?" not in [q.question for q in logged], "older than ASKBOT_DISCORD_LOG_DAYS: deleted at start"
    first = logged[0]
    assert (first.guild_id, first.channel_id, first.collection, first.answered, first.top_source) == (GUILD, GENERAL, "default", True, SEED_SOURCE)
    assert first.user_hash == bot.feedback.user_hash(int(ALICE["id"])) and len(first.user_hash) == 64, "the keyed hash, not the id"

    denied = fake.wait_response(fake.slash("askbot report", user=ALICE)).body["data"]
    assert denied["flags"] == 64 and "Only server managers" in denied["content"]
    report = fake.wait_edit(fake.slash("askbot report", user=CAROL, permissions=MANAGE_GUILD)).body["content"]
    assert "4, answered 25%" in report and "3 × What is the capital of France?" in report
    assert "👎 1 👍 0  What chip powers the OnePlus 6?" in report

    data, index = str(tmp_path / "data"), str(seed_index)  # the index's encoder groups near-duplicates
    result = cli("report", "--data", data, "--index", index, "--json", "--since", "7")
    assert result.exit_code == 0, result.stderr
    as_json = json.loads(result.stdout)
    assert as_json["questions"] == 4 and as_json["days"][0]["answered_share"] == 0.25
    (declined,) = as_json["declined"]
    assert declined == {"question": "What is the capital of France?", "count": 3, "variants": ["what's the capital city of France?"]}
    assert as_json["down_voted"] == [{"question": "What chip powers the OnePlus 6?", "top_source": SEED_SOURCE, "up": 0, "down": 1}]
    assert as_json["sources"] == [{"source": SEED_SOURCE, "answers": 1}]

    forgotten = cli("report", "--data", data, "--forget-user", BOB["id"])
    assert forgotten.stdout.strip() == f"deleted 2 question(s) and 1 vote(s) of user {BOB['id']}"
    after = json.loads(cli("report", "--data", data, "--index", index, "--json").stdout)
    assert after["questions"] == 2 and after["down_voted"] == []


# -- part 6: Discord's rate limits -------------------------------------------------------------------


def test_429_on_sends_loses_and_duplicates_nothing_and_notes_once(fake, start_bot):
    start_bot(discord_cooldown_seconds=600)
    fake.rate_limit("POST", rf"/channels/{GENERAL}/messages", times=3, retry_after=0.2)
    mark = fake.mark()
    first = fake.send_message(mention("What chip powers the OnePlus 6?"))
    for _ in range(4):
        fake.send_message(mention("Who is the CEO of OnePlus?"))
    bob = fake.send_message(mention("Who is the CEO of OnePlus?"), author=BOB)
    assert "Snapdragon 845" in fake.wait_reply(first)["embeds"][0]["description"]
    assert "Pete Lau" in fake.wait_reply(bob)["embeds"][0]["description"]
    wait_until(lambda: len([m for m in fake.messages.values() if m["channel_id"] == str(GENERAL)]) >= 3)
    time.sleep(0.5)  # anything duplicated or late would land now
    sent = [m for m in fake.messages.values() if m["channel_id"] == str(GENERAL)]
    notes = [m for m in sent if m["content"].startswith("One question every")]
    assert len(sent) == 3 and len(notes) == 1, [m["content"][:40] for m in sent]
    assert len(fake.rate_limited) == 3 and all(r.path == f"/channels/{GENERAL}/messages" for r in fake.rate_limited)
    assert len([r for r in fake.requests[mark:] if r.is_("POST", rf"/channels/{GENERAL}/messages")]) == 6


# -- part 7: shards ------------------------------------------------------------------------------------


def test_two_clients_with_disjoint_shards_each_answer_their_own_server(fake, seed_engine, tmp_path):
    from askbot.discord_bot import ShardedAskBot, make_bot

    def settings(shard: int):
        return seed_engine.settings.with_overrides(
            data_dir=tmp_path / f"data{shard}", discord_token=TOKEN, discord_api_base=fake.api_base,
            discord_gateway_url=fake.gateway_url, discord_cooldown_seconds=0.0,
            discord_shard_count=2, discord_shard_ids=(shard,),
        )

    runners = [BotRunner(lambda s=s: make_bot(settings(s), lambda _: seed_engine, guild_ready_timeout=0.05)) for s in (0, 1)]
    with runners[0] as first, runners[1] as second:
        assert all(isinstance(r.bot, ShardedAskBot) for r in (first, second))
        shards = sorted(tuple(e.data["shard"]) for e in fake.wait_gateway("identify", count=2))
        assert shards == [(0, 2), (1, 2)]
        assert [g.id for g in first.bot.guilds] == [GUILD] and [g.id for g in second.bot.guilds] == [GUILD2]
        here = fake.wait_reply(fake.send_message(mention("Who is the CEO of OnePlus?"), channel=GENERAL))
        there = fake.wait_reply(fake.send_message(mention("What chip powers the OnePlus 6?"), channel=LOBBY))
        assert "Pete Lau" in here["embeds"][0]["description"] and "Snapdragon 845" in there["embeds"][0]["description"]
        assert len(first.bot.question_log.questions(since=_long_ago())) == 1 and len(second.bot.question_log.questions(since=_long_ago())) == 1
    assert len(fake.messages) == 2, "each question answered once, by the shard of its server"


@pytest.mark.parametrize(("args", "message"), [
    (["--shard-ids", "0"], "--shard-ids needs --shard-count"),
    (["--shard-count", "2", "--shard-ids", "0,2"], "from 0 to 1"),
    (["--shard-count", "2", "--shard-ids", "one"], "comma-separated shard numbers"),
])
def test_bad_shard_flags_are_usage_errors(cli, monkeypatch, args, message):
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    result = cli("discord", *args)
    assert result.exit_code == 2 and message in result.stderr and TOKEN not in result.stderr

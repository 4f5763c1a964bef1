"""The Discord bot's parts on their own: rendering within limits, cooldown, batching, feedback, settings."""

from __future__ import annotations

import asyncio
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from askbot import discord_render as render
from askbot.answer import Answer, Passage
from askbot.batching import Batcher
from askbot.cooldown import Cooldown
from askbot.errors import UsageError
from askbot.feedback import AnswerRecord, FeedbackStore, Tally
from askbot.settings import Settings

# Text that stresses rendering: markdown, mentions, long words, whitespace runs, escapes.
PIECES = list("ab cd*_~`|>#-\\\n") + ["@everyone", "<@&12>", "x" * 40, "  ", "é", "😀"]
hostile_text = st.lists(st.sampled_from(PIECES), max_size=300).map(lambda parts: "".join(parts) * 20)


@given(text=st.text(max_size=3000), limit=st.integers(min_value=2, max_value=2000))
def test_fit_stays_within_the_limit_and_keeps_a_prefix(text, limit):
    fitted = render.fit(text, limit)
    assert len(fitted) <= limit
    if len(text) <= limit:
        assert fitted == text
    else:
        assert fitted.endswith("…") and text.startswith(fitted[:-1])


def test_fit_cuts_at_a_word():
    assert render.fit("the quick brown fox jumps", 12) == "the quick…"


def passage(i: int, text: str, title: str) -> Passage:
    return Passage(i, text, f"dir/{title[:50]}.md", title, "2020-01-01", 0.5, 0, len(text))


@settings(max_examples=60, deadline=None)
@given(question=hostile_text, text=hostile_text, title=hostile_text, answered=st.booleans(), more=st.integers(0, 30))
def test_replies_fit_discords_limits_whatever_the_text(question, text, title, answered, more):
    text = text or "x"
    passages = [passage(i, text, title) for i in range(1 + more)]
    answer = Answer(question, answered, text[: len(text) // 2] if answered else None, 0.7, passages,
                    0 if answered else None, len(text) // 2 if answered else None)
    reply = render.answer_reply(answer)
    assert len(reply.content or "") <= render.MESSAGE_CHARS
    embeds = [reply.embed] if reply.embed else []
    embeds.append(render.passages_embed(passages[1:], first_number=2))
    for embed in embeds:
        assert len(embed) <= render.EMBED_TOTAL_CHARS  # discord.py counts title, description, fields, footer
        assert len(embed.title or "") <= render.TITLE_CHARS
        assert len(embed.description or "") <= render.DESCRIPTION_CHARS
        assert len(embed.fields) <= render.EMBED_FIELDS
        assert all(len(f.name) <= render.FIELD_NAME_CHARS and len(f.value) <= render.FIELD_VALUE_CHARS for f in embed.fields)


def test_answer_is_bold_inside_its_escaped_passage():
    text = "Before *this*. The chip is a Snapdragon_845. After."
    start = text.index("The chip")
    answer = Answer("q", True, "The chip is a Snapdragon_845.", 0.8, [passage(1, text, "T")], start, start + 29)
    description = render.answer_reply(answer).embed.description
    assert description == r"Before \*this\*. **The chip is a Snapdragon\_845.** After."


def test_cooldown_allows_one_question_per_window_and_notes_once():
    now = [0.0]
    cooldown = Cooldown(5, clock=lambda: now[0])
    assert cooldown.check(1).allowed
    refusals = [cooldown.check(1) for _ in range(3)]
    assert [r.first_refusal for r in refusals] == [True, False, False]
    assert not any(r.allowed for r in refusals) and refusals[0].retry_after == 5
    assert cooldown.check(2).allowed, "users are independent"
    now[0] = 5.0
    assert cooldown.check(1).allowed
    now[0] = 6.0
    assert cooldown.check(1).first_refusal, "a new window earns a new note"
    now[0] = 100.0
    cooldown.check(3)
    assert set(cooldown._last_allowed) == {3}, "old users are forgotten"


def test_cooldown_of_zero_never_refuses():
    cooldown = Cooldown(0)
    assert all(cooldown.check(1).allowed for _ in range(10))


def test_batcher_groups_what_queued_while_the_worker_was_busy():
    started, release = threading.Event(), threading.Event()
    seen: list[list[int]] = []

    def run_batch(items: list[int]):
        seen.append(items)
        started.set()
        release.wait(10)
        return [ValueError(f"bad {i}") if i == 7 else i * 10 for i in items]

    async def main():
        batcher = Batcher(run_batch)
        first = asyncio.create_task(batcher.submit(0))
        await asyncio.to_thread(started.wait, 10)  # the worker is busy with question 0
        rest = [asyncio.create_task(batcher.submit(i)) for i in range(1, 10)]
        await asyncio.sleep(0)
        release.set()
        results = await asyncio.gather(first, *rest, return_exceptions=True)
        await batcher.close()
        return results, batcher.batch_sizes

    results, sizes = asyncio.run(main())
    assert seen == [[0], list(range(1, 10))] and sizes == [1, 9]
    assert [r for r in results if not isinstance(r, Exception)] == [i * 10 for i in range(10) if i != 7]
    assert str(results[7]) == "bad 7", "one failing item fails only its own caller"


def test_batcher_reports_a_failed_batch_to_every_caller():
    def run_batch(items):
        raise RuntimeError("model crashed")

    async def main():
        batcher = Batcher(run_batch)
        results = await asyncio.gather(*(batcher.submit(i) for i in range(3)), return_exceptions=True)
        await batcher.close()
        return results

    assert [str(r) for r in asyncio.run(main())] == ["model crashed"] * 3


def record(answer_id: str = "a1b2c3d4e5f6") -> AnswerRecord:
    answer = Answer("Who is the CEO?", True, "Pete Lau is the CEO.", 0.9, [passage(4, "Pete Lau is the CEO.", "OnePlus")], 0, 20)
    return AnswerRecord.of(answer_id, answer)


def test_feedback_votes_change_and_survive_reopening(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    assert store.vote(record(), 10, "down") == Tally(up=0, down=1)
    assert store.vote(record(), 11, "down") == Tally(up=0, down=2)
    assert store.vote(record(), 10, "up") == Tally(up=1, down=1)  # a changed mind: still one vote each
    store.close()
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    (exported,) = list(store.export())
    store.close()
    assert exported["votes"] == {"up": 1, "down": 1} and exported["answers"] == []
    assert exported["passages"] == [{"id": 4, "source": "dir/OnePlus.md", "start": 0, "end": 20}]


def test_feedback_export_has_the_eval_question_format(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    store.vote(record("aaaaaaaaaaaa"), 10, "up")
    store.vote(record("bbbbbbbbbbbb"), 10, "down")
    up, down = store.export()
    store.close()
    assert {"id", "question", "answers", "title"} <= set(up)
    assert up["answers"] == ["Pete Lau is the CEO."] and up["title"] == "OnePlus"
    assert down["answers"] == [] and down["answer"] == "Pete Lau is the CEO."


def test_discord_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", "secret.token.value")
    monkeypatch.setenv("ASKBOT_DISCORD_CHANNELS", "123, 456")
    monkeypatch.setenv("ASKBOT_DISCORD_GUILD_ID", "789")
    monkeypatch.setenv("ASKBOT_DISCORD_DMS", "off")
    monkeypatch.setenv("ASKBOT_DISCORD_COOLDOWN_SECONDS", "2.5")
    monkeypatch.setenv("ASKBOT_DISCORD_API_BASE", "http://127.0.0.1:8080/api/v10")
    s = Settings.from_env(None)
    assert (s.discord_channels, s.discord_guild_id, s.discord_dms, s.discord_cooldown_seconds) == ((123, 456), 789, False, 2.5)
    assert s.discord_api_base == "http://127.0.0.1:8080/api/v10" and s.discord_gateway_url == "wss://gateway.discord.gg/"
    assert "secret.token.value" not in repr(s) and "discord_token=<hidden>" in repr(s)


def test_community_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ASKBOT_DISCORD_FORUMS", "3003,3004")
    monkeypatch.setenv("ASKBOT_DISCORD_FORUM_SILENT_ON_ABSTAIN", "off")
    monkeypatch.setenv("ASKBOT_DISCORD_FORUM_TAG", "answered")
    monkeypatch.setenv("ASKBOT_DISCORD_CONTEXT_REPLY", "ephemeral")
    monkeypatch.setenv("ASKBOT_DISCORD_COLLECTIONS", str(tmp_path / "map.toml"))
    monkeypatch.setenv("ASKBOT_DISCORD_MAX_UPLOAD_BYTES", "1000")
    monkeypatch.setenv("ASKBOT_DISCORD_LOG_DAYS", "30")
    monkeypatch.setenv("ASKBOT_DISCORD_SHARD_COUNT", "4")
    monkeypatch.setenv("ASKBOT_DISCORD_SHARD_IDS", "2,3")
    s = Settings.from_env(None)
    assert (s.discord_forums, s.discord_forum_silent_on_abstain, s.discord_forum_tag) == ((3003, 3004), False, "answered")
    assert (s.discord_context_reply, s.discord_collections) == ("ephemeral", tmp_path / "map.toml")
    assert (s.discord_max_upload_bytes, s.discord_log_days, s.discord_shard_count, s.discord_shard_ids) == (1000, 30, 4, (2, 3))
    d = Settings()
    assert (d.discord_forum_silent_on_abstain, d.discord_context_reply, d.discord_max_upload_bytes, d.discord_log_days) == (True, "public", 10_000_000, 90)


def test_forum_question_joins_title_and_first_message():
    from askbot.discord_forums import forum_question

    assert forum_question("OnePlus 6 chip", "What chip  powers\nthe OnePlus 6?", 500) == "OnePlus 6 chip. What chip powers the OnePlus 6?"
    assert forum_question("Which chip?", "The OnePlus 6 one.", 500) == "Which chip? The OnePlus 6 one."
    assert forum_question("Chip", "chip of the OnePlus 6?", 500) == "chip of the OnePlus 6?", "a body repeating the title"
    assert forum_question("Only a title?", "", 500) == "Only a title?"
    assert len(forum_question("t", "word " * 1000, 100)) <= 100


@pytest.mark.parametrize(("name", "value"), [
    ("ASKBOT_DISCORD_DMS", "maybe"), ("ASKBOT_DISCORD_CHANNELS", "general"),
    ("ASKBOT_DISCORD_GUILD_ID", "1,2"), ("ASKBOT_DISCORD_GATEWAY_URL", "https://example.com"),
    ("ASKBOT_DISCORD_CONTEXT_REPLY", "loud"), ("ASKBOT_DISCORD_SHARD_COUNT", "0"), ("ASKBOT_DISCORD_FORUMS", "help"),
])
def test_bad_discord_settings_are_usage_errors(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(UsageError, match=name):
        Settings.from_env(None)


def test_feedback_databases_from_before_collections_are_migrated(tmp_path):
    import sqlite3

    path = tmp_path / "feedback.sqlite3"
    with sqlite3.connect(path) as db:  # the schema as it was: no collection column
        db.executescript(
            "CREATE TABLE answers (id TEXT PRIMARY KEY, question TEXT NOT NULL, answer TEXT, answered INTEGER NOT NULL,"
            " confidence REAL NOT NULL, title TEXT, passages TEXT NOT NULL, asked_at TEXT NOT NULL);"
            "CREATE TABLE votes (answer_id TEXT NOT NULL, user_hash TEXT NOT NULL, vote INTEGER NOT NULL,"
            " voted_at TEXT NOT NULL, PRIMARY KEY (answer_id, user_hash));"
            "INSERT INTO answers VALUES ('old000000000', 'Old?', 'Yes.', 1, 0.9, 'T', '[]', '2020-01-01');"
            "INSERT INTO votes VALUES ('old000000000', 'somebody', 1, '2020-01-01');"
        )
    db.close()
    store = FeedbackStore(path)
    store.vote(record("new000000000"), 10, "down")
    assert [r["question"] for r in store.export(collection="default")] == ["Old?", "Who is the CEO?"]
    assert list(store.export(collection="beta")) == []
    assert store.forget_user(10) == 1 and store.tallies(["new000000000", "old000000000"]) == {"old000000000": Tally(1, 0)}
    store.close()

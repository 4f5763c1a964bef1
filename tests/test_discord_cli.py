"""`askbot discord` and `askbot feedback export` as an admin runs them, against the fake Discord."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading

from conftest import REPO, SEED_DOCS
from fake_discord import APP_ID, GUILD2, LOBBY, TOKEN, FakeDiscord


def bot_env(fake: FakeDiscord, index, data, token: str = TOKEN) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": token,
        "ASKBOT_DISCORD_API_BASE": fake.api_base,
        "ASKBOT_DISCORD_GATEWAY_URL": fake.gateway_url,
        "ASKBOT_DOCS_DIR": str(SEED_DOCS),
        "ASKBOT_INDEX_DIR": str(index),
        "ASKBOT_DATA_DIR": str(data),
    }


class BotProcess:
    """`python -m askbot discord` in a subprocess, its stderr collected line by line."""

    def __init__(self, env: dict[str, str], cwd, *args: str):
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "askbot", "discord", *args], cwd=cwd, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO / "src"), **env},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stderr:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()

    def wait_for_line(self, text: str, timeout: float = 120) -> None:
        with self._seen:
            if not self._seen.wait_for(lambda: any(text in line for line in self.lines) or self.process.poll() is not None, timeout):
                raise AssertionError(f"no {text!r} on stderr within {timeout} s: {self.lines}")
        assert any(text in line for line in self.lines), f"the bot exited: {self.lines}"


def test_askbot_discord_answers_and_an_acknowledged_vote_survives_sigkill(tmp_path, seed_index, cli):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    with FakeDiscord() as fake:
        bot = BotProcess(bot_env(fake, index, tmp_path / "data"), cwd=tmp_path)
        try:
            bot.wait_for_line("connected as askbot")
            reply = fake.wait_reply(fake.send_message(f"<@{APP_ID}> What chip powers the OnePlus 6?"), timeout=60)
            assert "Snapdragon 845" in reply["embeds"][0]["description"]
            up = next(b["custom_id"] for row in reply["components"] for b in row["components"] if ":up:" in b["custom_id"])
            fake.wait_response(fake.click(reply, up))  # the bot acknowledged the vote…
            bot.process.kill()  # …and dies at once (SIGKILL: no cleanup of any kind)
            bot.process.wait(30)
        finally:
            bot.process.kill()
    assert bot.process.returncode == -signal.SIGKILL
    assert not any(TOKEN in line for line in bot.lines)

    result = cli("feedback", "export", "--data", str(tmp_path / "data"), "-o", str(tmp_path / "votes.jsonl"))
    assert result.exit_code == 0 and "exported 1 answers" in result.stderr
    (record,) = [json.loads(line) for line in (tmp_path / "votes.jsonl").read_text().splitlines()]
    assert record["question"] == "What chip powers the OnePlus 6?"
    assert record["votes"] == {"up": 1, "down": 0}
    assert len(record["answers"]) == 1 and "Snapdragon 845" in record["answers"][0]


def test_askbot_discord_runs_the_shards_it_is_given(tmp_path, seed_index):
    """One machine's process of a two-shard bot: IDENTIFY says shard [1, 2], Discord hands it the
    one server on shard 1, and it answers there (another process would run shard 0)."""
    with FakeDiscord() as fake:
        bot = BotProcess(bot_env(fake, seed_index, tmp_path / "data"), tmp_path, "--shard-count", "2", "--shard-ids", "1")
        try:
            bot.wait_for_line("connected as askbot to 1 server(s) (shards 1 of 2)")
            assert [e.data["shard"] for e in fake.gateway if e.kind == "identify"] == [[1, 2]]
            reply = fake.wait_reply(fake.send_message(f"<@{APP_ID}> Who is the CEO of OnePlus?", channel=LOBBY), timeout=60)
            assert "Pete Lau" in reply["embeds"][0]["description"] and reply["guild_id"] == str(GUILD2)
        finally:
            bot.process.terminate()
            bot.process.wait(30)
    assert bot.process.returncode == 0


def test_sigterm_closes_the_connection_cleanly(tmp_path, seed_engine):
    from askbot.discord_bot import run

    with FakeDiscord() as fake:
        settings = seed_engine.settings.with_overrides(
            data_dir=tmp_path / "data", discord_token=TOKEN, discord_api_base=fake.api_base,
            discord_gateway_url=fake.gateway_url,
        )

        def ask_then_terminate() -> None:
            try:
                fake.wait_gateway("identify")
                answered.append(fake.wait_reply(fake.send_message(f"<@{APP_ID}> Who is the CEO of OnePlus?")))
            finally:
                os.kill(os.getpid(), signal.SIGTERM)

        answered: list[dict] = []

        helper = threading.Thread(target=ask_then_terminate, daemon=True)
        helper.start()
        run(settings, lambda _: seed_engine, guild_ready_timeout=0.05)  # returns once SIGTERM closed it
        helper.join(10)
        closed = fake.wait_gateway("closed")
    assert answered, "the bot answered before it was stopped"
    # A close handshake, not a dropped socket (1006). discord.py's close() sends 1000, or 4000 when
    # its reader task is mid-receive (aiohttp hands the close to that task), as it always is here.
    assert closed[-1].data in (1000, 4000)


def test_bad_token_is_one_line_and_exit_2_without_the_token(tmp_path, seed_index):
    wrong = "wrong.token-value-that-the-fake-rejects-0123456789"
    with FakeDiscord() as fake:
        result = subprocess.run(
            [sys.executable, "-m", "askbot", "discord"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
            env={**os.environ, "PYTHONPATH": str(REPO / "src"), **bot_env(fake, seed_index, tmp_path / "data", wrong)},
        )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "askbot: error: Discord refused DISCORD_TOKEN: copy the token again from the developer portal (Bot page)"
    ]
    assert wrong not in result.stderr + result.stdout
    assert not [e for e in fake.gateway if e.kind == "connect"], "a refused token never reaches the gateway"


def test_missing_or_malformed_token_is_bad_usage(cli, monkeypatch):
    result = cli("discord")
    assert result.exit_code == 2 and "DISCORD_TOKEN is not set" in result.stderr
    monkeypatch.setenv("DISCORD_TOKEN", "Bot abc.def")
    result = cli("discord")
    assert result.exit_code == 2 and "bare bot token" in result.stderr and "abc.def" not in result.stderr


def test_unreachable_discord_is_a_runtime_failure(cli, monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("ASKBOT_DISCORD_API_BASE", "http://127.0.0.1:9/api/v10")  # nothing listens on port 9
    result = cli("discord")
    assert result.exit_code == 1
    assert result.stderr.startswith("askbot: error: cannot reach Discord at http://127.0.0.1:9/api/v10")
    assert TOKEN not in result.stderr


def test_feedback_export_without_feedback_is_bad_usage(cli, tmp_path):
    result = cli("feedback", "export", "--data", str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and "no feedback recorded yet" in result.stderr


def test_help_does_not_import_discord(tmp_path):
    code = "import sys; from askbot.cli import main; sys.argv = ['askbot', '--help']\ntry: main()\nexcept SystemExit: pass\nprint('discord' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(REPO / "src")}, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "False"
    assert "discord" in out.stdout and "feedback" in out.stdout

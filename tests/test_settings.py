"""Settings come from the environment or .env (environment wins); bad values are one clear line."""

from pathlib import Path

import pytest

from askbot.errors import UsageError
from askbot.settings import Settings


def test_env_file_then_environment(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text("ASKBOT_DOCS_DIR=/srv/docs\nASKBOT_TOP_K=7\n")
    monkeypatch.setenv("ASKBOT_TOP_K", "4")
    settings = Settings.from_env(env)
    assert settings.docs_dir == Path("/srv/docs")
    assert settings.top_k == 4


def test_bad_number_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("ASKBOT_TOP_K", "many")
    with pytest.raises(UsageError, match="ASKBOT_TOP_K must be a whole number, got 'many'"):
        Settings.from_env(None)


def test_cli_options_override_and_unset_ones_do_not():
    settings = Settings().with_overrides(index_dir=Path("/tmp/x"), docs_dir=None)
    assert settings.index_dir == Path("/tmp/x") and settings.docs_dir == Path("docs")

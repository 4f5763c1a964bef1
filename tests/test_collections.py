"""Collections: several corpora in one deployment, each with its own index and documents."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from askbot.errors import UsageError
from askbot.settings import Settings
from conftest import SEED_DOCS


def test_a_named_collection_has_its_own_folders():
    deployment = Settings(docs_dir=Path("docs"), index_dir=Path("idx"), data_dir=Path("var"))
    manuals = deployment.for_collection("manuals")
    assert (manuals.collection, manuals.index_dir, manuals.docs_dir) == (
        "manuals",
        Path("idx/collections/manuals"),
        Path("var/collections/manuals/docs"),
    )
    assert deployment.for_collection("default") is deployment


@pytest.mark.parametrize("name", ["", "../x", "a/b", "UPPER", "-dash", "x" * 65, "dot.ted", "sp ace"])
def test_unsafe_collection_names_are_refused(name):
    with pytest.raises(UsageError, match="collection names are 1-64 lower-case letters"):
        Settings().for_collection(name)


def test_collections_are_derived_from_the_deployment_only():
    with pytest.raises(ValueError):
        Settings().for_collection("a").for_collection("b")


def test_nothing_of_one_collection_is_searched_from_another(cli, tmp_path):
    """The seed article in the default collection, an unrelated note in `pets`: each answers
    only from its own documents, and an unknown collection has no index."""
    docs = tmp_path / "docs"
    shutil.copytree(SEED_DOCS, docs)
    pets = tmp_path / "pets"
    pets.mkdir()
    (pets / "cat.txt").write_text("Our cat Miso eats salmon every Friday.\n", encoding="utf-8")
    index = str(tmp_path / "index")
    assert cli("index", "build", "--docs", str(docs), "--index", index).exit_code == 0
    assert cli("index", "build", "--docs", str(pets), "--index", index, "--collection", "pets").exit_code == 0
    assert (tmp_path / "index" / "collections" / "pets" / "CURRENT").is_file()

    def ask(question: str, *extra: str) -> dict:
        result = cli("ask", "--json", question, "--index", index, *extra)
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    chip = ask("What chip powers the OnePlus 6?", "--docs", str(docs))
    assert chip["answered"] and "Snapdragon 845" in chip["answer"]
    food = ask("What does Miso eat?", "--docs", str(pets), "--collection", "pets")
    assert food["answered"] and "salmon" in food["answer"]
    assert {p["source"] for p in food["passages"]} == {"cat.txt"}
    assert not any("cat.txt" == p["source"] for p in ask("What does Miso eat?", "--docs", str(docs))["passages"])
    missing = cli("index", "info", "--index", index, "--collection", "nobody")
    assert missing.exit_code == 2 and "no index in" in missing.stderr


def test_a_bad_collection_name_is_one_line(cli, tmp_path):
    result = cli("ask", "hello?", "--index", str(tmp_path), "--collection", "../etc")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "askbot: error: collection names are 1-64 lower-case letters, digits, '-' or '_', "
        "starting with a letter or digit; got '../etc'"
    )


def test_the_collection_can_come_from_dotenv(cli, tmp_path):
    (tmp_path / ".env").write_text("ASKBOT_COLLECTION=Nope!\n", encoding="utf-8")
    result = cli("index", "info", "--index", str(tmp_path))
    assert result.exit_code == 2 and "got 'Nope!'" in result.stderr

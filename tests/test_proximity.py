"""A conversation reads a document in order: a follow-up prefers answers near the last answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from askbot.engine import Engine
from askbot.proximity import Position
from askbot.settings import Settings

DOORS = """The old school has two doors that the caretaker unlocks each day.

The red door on the east side opens at nine in the morning. Pupils use it to reach the classrooms.

The library keeps its rare books in a room upstairs. Nobody may borrow them, but anyone may read them there.

The hall is used for concerts in winter. Its piano was given by a former pupil.

The gardens were planted a century ago. A fountain stands in the middle of them.

The blue door on the west side opens at ten in the morning. Visitors use it to reach the office.
"""
RED, BLUE = "The red door on the east side opens at nine", "The blue door on the west side opens at ten"


@pytest.fixture(scope="module")
def doors(tmp_path_factory) -> Iterator[Engine]:
    folder = tmp_path_factory.mktemp("doors")
    (folder / "docs").mkdir()
    (folder / "docs" / "doors.txt").write_text(DOORS, encoding="utf-8")
    (folder / "docs" / "other.txt").write_text("The bakery on the corner sells bread and cakes.\n", encoding="utf-8")
    engine = Engine.open(Settings(docs_dir=folder / "docs", index_dir=folder / "index"), notify=lambda _: None)
    yield engine
    engine.close()


@pytest.mark.parametrize("question", ["When does the door open?", "What time does the door open?"])
def test_an_answer_near_the_given_position_is_preferred(doors, question):
    assert doors.ask(question).answer.startswith(RED)  # search's choice, asked alone
    assert doors.ask(question, near=Position("doors.txt", DOORS.index(RED))).answer.startswith(RED)
    assert doors.ask(question, near=Position("doors.txt", DOORS.index(BLUE))).answer.startswith(BLUE)
    halfway = (DOORS.index(RED) + DOORS.index(BLUE)) // 2
    assert doors.ask(question, near=Position("doors.txt", halfway)).answer.startswith(BLUE)  # reading goes forward
    elsewhere = doors.ask(question, near=Position("other.txt", 0))
    assert (elsewhere.answer, elsewhere.confidence) == (doors.ask(question).answer, doors.ask(question).confidence)


@pytest.mark.parametrize(("first", "expected"), [("Which door is on the east side?", RED), ("Which door is on the west side?", BLUE)])
def test_a_follow_up_is_answered_near_the_last_answer(doors, first, expected):
    chat = doors.conversation()
    assert chat.ask(first).answer.startswith(expected)
    answer = chat.ask("When does it open?")
    assert answer.answered and answer.answer.startswith(expected)
    assert doors.ask("When does it open?").answer.startswith(BLUE)  # alone: one answer whatever came before


def test_a_question_that_stands_alone_is_answered_as_alone_in_a_conversation(doors):
    chat = doors.conversation()
    chat.ask("Which door is on the west side?")
    alone = doors.ask("When does the red door open?")
    assert chat.ask("When does the red door open?") == alone


def test_declining_is_unchanged_by_the_position(doors):
    near = Position("doors.txt", DOORS.index(BLUE))
    assert not doors.ask("What is the capital of France?", near=near).answered

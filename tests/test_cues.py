"""Answer-type cues: what kind of fact a question wants, and whether a sentence adds one."""

from __future__ import annotations

import pytest

from askbot.cues import answer_pattern, holds_new, names_and_numbers


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("When was Tesla born?", "Tesla was born on 10 July 1856.", True),
        ("When was Tesla born?", "Tesla was born in Smiljan.", False),
        ("How many votes are there?", "In total there are 352 votes.", True),
        ("How many votes were cast in 2014?", "Votes were cast in 2014.", False),
        ("Who is the CEO of OnePlus?", "The CEO of OnePlus is Pete Lau.", True),
        ("Who is the CEO of OnePlus?", "OnePlus has a CEO.", False),
        ("Why did it fail?", "It failed because of 3 reasons.", False),
    ],
)
def test_sentence_holds_a_new_fact_of_the_wanted_kind(question, sentence, expected):
    assert holds_new(sentence, answer_pattern(question), question) is expected


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("What chip powers the OnePlus 6?", "OnePlus 6"),
        ("what cpu does the oneplus 6 have", "oneplus 6"),  # typed in chat: the number names it
        ("@everyone which phone has the Snapdragon 845", "Snapdragon 845"),
        ("what happened in 2018", "in 2018"),  # "in" is a stop word, dropped when tokenized
        ("what is the capital of france", ""),
    ],
)
def test_names_and_numbers_of_a_question(question, named):
    assert names_and_numbers(question) == named

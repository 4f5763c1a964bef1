"""Line-break hyphenation: examples of each rule, and properties on generated text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from askbot.hyphenation import dehyphenate, model_words

PROPERTY = settings(max_examples=300, deadline=None, derandomize=True)
_LAYOUT = re.compile(r"[\s\-\u00ad]")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the trans-\nmission of", "the transmission of"),  # a vocabulary word
        ("infec-\ntion rates", "infection rates"),  # no part is a word: joined
        ("COVID-\n19 cases", "COVID-19 cases"),  # a digit follows
        ("SARS-\nCoV-2", "SARS-CoV-2"),  # capitals
        ("a well-\nknown fact", "a well-known fact"),  # both parts are words: a compound
        ("self-\nreported, as self-reported before", "self-reported, as self-reported before"),
        ("zyxo-\nvirus and zyxovirus", "zyxovirus and zyxovirus"),  # the document's own word
        ("soft\u00ad\nhyphen", "softhyphen"),
        ("indented  hyphen-  \n   ation", "indented  hyphenation"),
        ("a-\nb-\nc", "abc"),  # one pass mends a chain
        ("crlf break-\r\nfast", "crlf breakfast"),
    ],
)
def test_rule(text: str, expected: str) -> None:
    assert dehyphenate(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "a dash - at a line end -\nthen more",  # not after a word character
        "list:\n- one\n- two",
        "end of a paragraph-\n\nNext paragraph",  # a blank line is not a line break
        "plain text with hyphen-ated words\nand lines",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert dehyphenate(text) is text


def test_model_vocabulary_is_shipped() -> None:
    words = model_words()
    assert {"transmission", "million", "known"} <= words
    assert "##ing" not in words and len(words) > 20_000


_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789", min_size=1, max_size=12)
_gaps = st.sampled_from([" ", "\n", "-\n", "- \n ", "\u00ad\n", "\n\n", "-", ", ", "-\r\n"])


@st.composite
def _documents(draw) -> str:
    words = draw(st.lists(_words, min_size=1, max_size=30))
    return "".join(w + draw(_gaps) for w in words)


@PROPERTY
@given(_documents())
def test_only_hyphens_and_line_breaks_change(text: str) -> None:
    assert _LAYOUT.sub("", dehyphenate(text)) == _LAYOUT.sub("", text)


@PROPERTY
@given(_documents())
def test_no_broken_word_is_left(text: str) -> None:
    assert not re.search(r"\w[-\u00ad][ \t]*\r?\n[ \t]*\w", dehyphenate(text))


@PROPERTY
@given(st.text(alphabet=st.characters(blacklist_characters="-\u00ad"), max_size=200))
def test_text_without_hyphens_is_unchanged(text: str) -> None:
    assert dehyphenate(text) == text


@PROPERTY
@given(st.sampled_from(sorted(w for w in model_words() if len(w) >= 4)), st.data())
def test_a_vocabulary_word_split_anywhere_is_joined(word: str, data) -> None:
    cut = data.draw(st.integers(1, len(word) - 1))
    assert dehyphenate(f"see {word[:cut]}-\n{word[cut:]} here") == f"see {word} here"


@PROPERTY
@given(st.from_regex(r"[A-Za-z]{1,8}", fullmatch=True), st.from_regex(r"[0-9][0-9a-z]{0,4}", fullmatch=True))
def test_a_number_after_the_break_keeps_the_hyphen(first: str, second: str) -> None:
    assert dehyphenate(f"{first}-\n{second}") == f"{first}-{second}"

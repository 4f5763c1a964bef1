"""Answer-type cues: what kind of fact a question asks for, and whether a sentence holds one.

"When ...?" wants a date, "How many ...?" a number, "Who ...?" a name. A sentence that repeats
the question's words but holds no new date, number or name rarely answers it. Plain English
patterns, no model; worth about one point of answer hit@1 on squad-dev (both article splits).
"""

from __future__ import annotations

import re

_NUMBER_Q = re.compile(
    r"\b(how (many|much|long|far|old|large|big|tall|high|deep|wide|fast|often)"
    r"|what (percentage|percent|proportion|number|amount))\b"
)
_DATE_Q = re.compile(r"\b(when|(what|which) (year|century|decade|date|month|day))\b")
_NAME_Q = re.compile(r"\b(who|whom|whose|where)\b")

_NUMBER = re.compile(
    r"\d+(?:[.,]\d+)*|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|billion|dozen|half)\b",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"\b(1\d{3}|20\d{2})s?\b|\b(January|February|March|April|May|June|July|August|September|"
    r"October|November|December|century|centuries)\b"
)
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][\w\-]+")  # a capitalised word, not opening the sentence
_NAMED = re.compile(r"(?<!^)\b[A-Z][\w’'\-]*|\b\d[\w.,]*")  # names and numbers, past the first word


_LEADING_MARKUP = re.compile(r"^(?:[^\w\s]\S*\s+)+")  # "@everyone ", "** ", "<@123> " before the question's first word


def _question_text(question: str) -> str:
    """The question from its first word: a leading mention or markup is not a word of it."""
    return _LEADING_MARKUP.sub("", question.strip())


_ASKED_THING = re.compile(r"\b(?:which|what)\s+([a-z]+)")
_NOT_A_THING = frozenset(
    "is was are were does did do has have had can could will would should may might must "
    "the a an kind type sort of about".split()
)


def answer_pattern(question: str) -> re.Pattern | None:
    """The pattern an answer to this question is likely to match, if the question says."""
    q = question.lower()
    if _NUMBER_Q.search(q):
        return _NUMBER
    if _DATE_Q.search(q):
        return _DATE
    if _NAME_Q.search(q):
        return _NAME
    return None


def holds_new(sentence: str, pattern: re.Pattern | None, question: str) -> bool:
    """True when the sentence has a match of the pattern that the question does not contain."""
    if pattern is None:
        return False
    q = question.lower()
    return any(m.group(0).lower() not in q for m in pattern.finditer(sentence))


# A word right before a number is part of its name even typed in lower case ("oneplus 6",
# "windows 11"); the stop words this catches ("in 2018") are dropped when the names are tokenized.
_NAMED_BY_NUMBER = re.compile(r"\b[^\W\d_][\w’'\-]*(?=\s+\d)")


def names_and_numbers(question: str) -> str:
    """The question's capitalised words and numbers ("OnePlus 6", "oneplus 6"): what a sentence can name itself."""
    text = _question_text(question)
    found = {m.start(): m.group() for pattern in (_NAMED, _NAMED_BY_NUMBER) for m in pattern.finditer(text)}
    return " ".join(found[start] for start in sorted(found))


def asked_thing(question: str) -> str | None:
    """The noun a "which/what <noun>" question asks about ("Which phone ...?" -> "phone")."""
    match = _ASKED_THING.search(question.lower())
    return match.group(1) if match and match.group(1) not in _NOT_A_THING else None


def refers_to(sentence: str, thing: str | None) -> bool:
    """True when the sentence names the asked thing only by a definite description ("the phone"),
    so the thing itself (the answer) is named elsewhere, usually just before."""
    if thing is None:
        return False
    return re.search(rf"\b(?:the|this|that|these|those)\s+{re.escape(thing)}s?\b", sentence, re.IGNORECASE) is not None


def new_names(sentence: str, question_lower: str) -> int:
    """How many names and numbers the sentence holds that the question does not."""
    return sum(m.lower() not in question_lower for m in _NAMED.findall(sentence))


_POINTS_BACK = re.compile(
    r"(it|its|he|his|she|her|they|their|them|this|these|those|such|however|but|also|thus|therefore)\b",
    re.IGNORECASE,
)


def points_back(sentence: str) -> bool:
    """True when the sentence opens by pointing at something said before ("It ...", "However")."""
    return _POINTS_BACK.match(sentence.lstrip()) is not None

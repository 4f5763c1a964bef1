"""Conversation context: a follow-up question turned into a standalone retrieval query.

Asked alone, "When will it arrive?" finds nothing useful. A Conversation keeps the last few
turns (the question, the query searched, the answer and its passage) and reads each new
question before it is searched:

- references ("it", "his", "the company", "that phone") are replaced by the entity of the
  right kind from the recent turns: "When will OnePlus 6 arrive?"; "they" after "Why were
  Huawei and ZTE fined?" by both names;
- elliptical questions ("Why?", "How much?", "And Huawei?", "What about the price?") are
  completed from the previous query: "Why was ZTE fined?";
- a question that stands on its own is searched as it is, so a change of topic is never
  dragged back. Only when it finds weak evidence (the engine abstains) is the conversation's
  topic added to it;
- a follow-up with weak evidence of its own, or one that names nothing and was answered from
  another document ("What color?"), is answered from the conversation's document: the one its
  turns found the most evidence in.

A rewritten query is trusted only when the passage it finds also holds the question's own
words, so an off-topic turn ("What is the capital of France?", "Is it going to rain?") still
abstains when the context alone would have matched something.

Entities are capitalised spans ("OnePlus 6", "Pete Lau", "ZTE", "AT&T"), typed by their shape:
two or three plain capitalised words are a person (unless they end like "Street" or "Electric",
or open like "New"), a name with a number or a model letter is a product, a single name is an
organisation. No tagger: spaCy's English models are not published
on PyPI by their authors and nothing may download at run time, and shapes are enough for the
references people make in a chat about documents.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Generic, Protocol, TypeVar

from .answer import Answer
from .lexical import tokenize
from .proximity import Position

MAX_TURNS = 3  # turns searched for a referent, most recent first
MIN_SUPPORT = 0.5  # share of the question's own content words the found passage must hold
# An answer from the conversation's own document (see _kept_to_topic) needs any one of the
# question's words and no least confidence: both chosen leave-one-source-out on dialogs-dev
# (README, Follow-up questions), where a half of the words or a confidence of 0.01 lost answers.
TOPIC_MIN_SUPPORT = 0.01
TOPIC_MIN_CONFIDENCE = 0.0

Key = TypeVar("Key", bound=Hashable)


class Asker(Protocol):
    """What a conversation needs from the engine: Engine.ask."""

    def ask(
        self, question: str, k: int | None = None, *, query: str | None = None, within: str | None = None,
        min_confidence: float | None = None, near: Position | None = None,
    ) -> Answer: ...  # fmt: skip


class Kind(Enum):
    PERSON = "person"
    ORG = "organisation"  # or a place: not a person, and not a product
    PRODUCT = "product"
    THING = "thing"  # anything but a person


# Words that carry no topic of their own: what is left once they are removed decides whether a
# question is elliptical ("Why is that?" leaves nothing).
FUNCTION_WORDS = frozenset(
    """
    what which who whom whose when where why how whether
    is are was were be been being am do does did done doing have has had having
    will would shall should can could may might must
    i me my mine you your yours we us our ours he him his himself she her hers herself
    it its itself they them their theirs themselves this that these those there here
    the a an some any each every all both either neither another other such
    and or but so then also too yet nor if than as
    about of in on at to for with from by into onto over under after before since until
    not no yes really exactly please tell ok okay well just more most much many long often
    far soon else again too ever still
    """.split()
)

MONTHS_AND_DAYS = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)
ROLE_ACRONYMS = frozenset("CEO CFO CTO COO CMO CIO VP".split())  # capitalised, but not names
# Last words that make two capitalised words a place or an organisation, not a person
# ("Liberty Street", "Westinghouse Electric", "Austro-Hungarian Army").
PLACE_AND_ORG_HEADS = frozenset(
    """
    street avenue road square bridge station tower building hall hotel museum church cathedral
    park peak mountain mount creek river lake bay island springs falls valley city county state
    university college school institute academy company corporation electric army navy party
    council court bank society association union club states kingdom republic emirates
    """.split()
)
PLACE_OPENERS = frozenset("new san los las santa saint st fort port north south east west great".split())  # "New York"

PRONOUNS: dict[str, tuple[tuple[Kind, ...], bool]] = {  # word -> (kinds wanted, possessive)
    **{w: ((Kind.PERSON,), False) for w in ("he", "him", "himself", "she", "herself")},
    **{w: ((Kind.PERSON,), True) for w in ("his", "her", "hers")},
    **{w: ((Kind.THING,), False) for w in ("it", "itself")},
    "its": ((Kind.THING,), True),
    **{w: ((Kind.ORG, Kind.THING), False) for w in ("they", "them", "themselves")},
    **{w: ((Kind.ORG, Kind.THING), True) for w in ("their", "theirs")},
}
PLURAL_PRONOUNS = frozenset(("they", "them", "themselves", "their", "theirs"))
REFERENCE_NOUNS: dict[str, Kind] = {
    **dict.fromkeys(("company", "firm", "maker", "manufacturer", "brand", "vendor", "business"), Kind.ORG),
    **dict.fromkeys(("phone", "smartphone", "handset", "device", "flagship"), Kind.PRODUCT),
    **dict.fromkeys(("man", "woman", "person"), Kind.PERSON),
}

# "its CEO", "their founder": people and parts an organisation has, not a product
ORGANISATION_ROLES = frozenset(
    "ceo cfo cto coo founder founders chairman chairwoman president boss owner owners "
    "headquarters employees staff executives shareholders".split()
)

_REFERENCE = re.compile(
    r"\b(?:(?P<pronoun>" + "|".join(PRONOUNS) + r")"
    r"|(?:the|that|this)\s+(?P<noun>" + "|".join(REFERENCE_NOUNS) + r")(?P<poss>['’]s)?)\b",
    re.IGNORECASE,
)
_FRAGMENT = re.compile(r"^(?:and\s+)?(?:what|how)\s+about\s+(?P<rest>.+)$|^and\s+(?P<rest2>.+)$", re.IGNORECASE)
_WH = frozenset("what which who whom whose when where why how".split())
_HOW_MODIFIERS = frozenset("much many long often far old big soon come".split())
_AUX = frozenset("is are was were do does did will would can could should has have had may might".split())
_NATIONALITY = re.compile(r"(?:ese|ian|ean|can|ish)$")  # "Chinese", "American": adjectives, not names
_PERSON_WORD = re.compile(r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?")
_EDGE_PUNCTUATION = "\"'“”‘’()[]{}«»"
_BREAK_PUNCTUATION = ",;:.!?–—"
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")


# -- entities ---------------------------------------------------------------------------------


def _name_word(word: str, continuing: bool) -> bool:
    if not word or word in ROLE_ACRONYMS or word.lower() in MONTHS_AND_DAYS:
        return False
    if word[0].isupper():
        return True
    # "OnePlus 6", "Snapdragon 845", "Axon M": numbers and model letters continue a name
    return continuing and (any(c.isdigit() for c in word) or (len(word) == 1 and word.isupper()))


def _function_word(word: str) -> bool:
    acronym = len(word) > 1 and word.isupper()  # "US" is a name, "us" is not
    return not acronym and word.lower() in FUNCTION_WORDS


def name_spans(text: str) -> list[tuple[str, bool]]:
    """Capitalised spans in order, each with whether it opens a sentence."""
    spans: list[tuple[str, bool]] = []
    words: list[str] = []
    opens = sentence_start = True
    previous_end = 0

    def flush() -> None:
        nonlocal words
        kept = list(words)
        while kept and _function_word(kept[0]):  # "The OnePlus 6" -> "OnePlus 6"
            kept.pop(0)
        if kept and not (len(kept) == 1 and _NATIONALITY.search(kept[0])):
            spans.append((" ".join(kept), opens and len(kept) == len(words)))
        words = []

    for match in re.finditer(r"\S+", text):
        if "\n" in text[previous_end : match.start()]:
            flush()
            sentence_start = True
        previous_end = match.end()
        raw = match.group().strip(_EDGE_PUNCTUATION)
        core = raw.rstrip(_BREAK_PUNCTUATION).strip(_EDGE_PUNCTUATION)
        word = _POSSESSIVE.sub("", core)
        if _name_word(word, continuing=bool(words)):
            if not words:
                opens = sentence_start
            words.append(word)
        else:
            flush()
        if core != raw or word != core:  # "OnePlus," or "OnePlus’ CEO": the name ends here
            flush()
        sentence_start = raw[-1:] in ".!?"
    flush()
    return spans


def entities(texts: Iterable[str], trust_openers: bool = False) -> list[str]:
    """Distinct names in order of appearance.

    A capitalised word that opens a sentence ("Speaking at CES ...") counts only when it also
    appears inside a sentence somewhere in `texts` ("Lau" after "Pete Lau"), unless
    `trust_openers` (for a question, whose opening question word is dropped as a function word).
    """
    spans = [span for text in texts for span in name_spans(text)]
    inside = {word for name, opens in spans if not opens for word in [name, *name.split()]}
    seen: dict[str, None] = {}
    for name, opens in spans:
        if trust_openers or not opens or " " in name or name in inside:
            seen.setdefault(name, None)
    return list(seen)


def kind_of(name: str) -> Kind:
    words = name.split()
    if words[-1].lower() in PLACE_AND_ORG_HEADS or (len(words) > 1 and words[0].lower().rstrip(".") in PLACE_OPENERS):
        return Kind.ORG
    if 2 <= len(words) <= 3 and all(_PERSON_WORD.fullmatch(w) for w in words):
        return Kind.PERSON
    if len(words) > 1 or any(c.isdigit() for c in name):
        return Kind.PRODUCT
    return Kind.ORG


# -- reading a question ------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    start: int
    end: int
    text: str
    kinds: tuple[Kind, ...]  # wanted, in order of preference
    possessive: bool
    plural: bool  # "they", "their": may mean names joined by "and"


@dataclass(frozen=True)
class Reading:
    """What a question says on its own."""

    question: str
    names: tuple[str, ...]  # the question's own entities
    content: tuple[str, ...]  # stemmed content words (the question's own topic)
    references: tuple[Reference, ...]
    fragment: str | None  # "X" of "and X?" / "what about X?"
    elliptical: bool  # "Why?", "How much?", "And Huawei?": nothing to search without context

    @property
    def needs_context(self) -> bool:
        """True when the question cannot be searched alone."""
        return self.elliptical or (bool(self.references) and not self.names)


def content_words(text: str) -> tuple[str, ...]:
    words = [w for w in re.findall(r"[\w'’&-]+", text) if _POSSESSIVE.sub("", w.lower()) not in FUNCTION_WORDS]
    return tuple(dict.fromkeys(tokenize([" ".join(words)])[0])) if words else ()


def read_question(question: str) -> Reading:
    question = " ".join(question.split())
    body = question.rstrip("?!. ")
    fragment_match = _FRAGMENT.match(body)
    fragment = None
    if fragment_match:
        rest = fragment_match.group("rest") or fragment_match.group("rest2")
        if rest.split()[0].lower() not in _WH | _AUX and len(rest.split()) <= 4:
            fragment = rest
    references = tuple(_references(question))
    content = content_words(question)
    names = tuple(entities([question], trust_openers=True))
    # "How much was it?" leans on the whole previous question, not on one name: completed like
    # "How much?"; but "Who is he?" and "And its CEO?" name what they lean on.
    about_person = any(Kind.PERSON in r.kinds for r in references)
    elliptical = (fragment is not None and not references) or (not content and not about_person)
    return Reading(question, names, content, references, fragment, elliptical)


def _references(question: str) -> Iterable[Reference]:
    for m in _REFERENCE.finditer(question):
        word = (m.group("pronoun") or "").lower()
        if word:
            kinds, possessive = PRONOUNS[word]
            if word == "her":  # "her phone" is possessive, "ask her" is not
                possessive = bool(re.match(r"\s+\w", question[m.end() :]))
            if possessive and Kind.THING in kinds and _next_word(question, m.end()) in ORGANISATION_ROLES:
                kinds = (Kind.ORG, *kinds)
        else:
            kinds, possessive = (REFERENCE_NOUNS[m.group("noun").lower()],), bool(m.group("poss"))
        yield Reference(m.start(), m.end(), m.group(), kinds, possessive, plural=word in PLURAL_PRONOUNS)


def _next_word(text: str, start: int) -> str:
    found = re.match(r"\s+([\w-]+)", text[start:])
    return found.group(1).lower() if found else ""


# -- the turns of a conversation ---------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    question: str
    query: str  # what was searched: the question, or its standalone rewrite
    answer: Answer
    focus: str | None  # the thing the turn is about, carried on by references
    candidates: tuple[str, ...]  # entities in order of salience: focus, query, answer, passage


def make_turn(answer: Answer, previous: Turn | None, referent: str | None = None) -> Turn:
    """Remember a turn; `referent` is what the question's first reference pointed to."""
    query = answer.query or answer.question
    asked = entities([query], trust_openers=True)
    texts = [query]
    if answer.answered and answer.passages:
        top = answer.passages[0]
        texts += [answer.answer or "", top.text]
    found = entities(texts)
    things = [e for e in [referent, *asked] if e and kind_of(e) is not Kind.PERSON]
    focus = things[0] if things else previous.focus if previous else None
    if previous and previous.focus and focus == _maker(previous.focus):
        focus = previous.focus  # "Who is its CEO?" is about OnePlus, but the talk is still of OnePlus 6
    if focus is None:
        focus = next((e for e in found if kind_of(e) is not Kind.PERSON), None)
    ordered = ([focus] if focus else []) + asked + found
    return Turn(answer.question, query, answer, focus, tuple(dict.fromkeys(ordered)))


def _maker(name: str) -> str | None:
    """"OnePlus" for the product "OnePlus 6"."""
    return name.split()[0] if kind_of(name) is Kind.PRODUCT and " " in name else None


def _is_brand(maker: str, names: Sequence[str]) -> bool:
    """Two products named after it ("OnePlus 5T", "OnePlus 6"): a maker, even never named alone."""
    return sum(_maker(n) == maker for n in names) >= 2


def resolve(kinds: Sequence[Kind], turns: Sequence[Turn]) -> str | None:
    """The most salient entity of a wanted kind in the recent turns (most recent first)."""
    for kind in kinds:
        for turn in turns:
            for name in turn.candidates:
                found = _as_kind(name, kind, turn)
                if found:
                    return found
    return None


def resolve_pair(turns: Sequence[Turn]) -> str | None:
    """Names joined by "and" in what a turn asked or answered ("Huawei and ZTE"), for "they".

    Only the most recent turn that names anything is read: after "Who is the CEO of OnePlus?"
    an older "Huawei and ZTE" is no longer what "they" means.
    """
    for turn in turns:
        said = (turn.question, turn.query, turn.answer.answer or "")
        pair = next(filter(None, (_joined_names(text, turn.candidates) for text in said)), None)
        if pair or entities([turn.query], trust_openers=True):
            return pair
    return None


def _joined_names(text: str, names: Sequence[str]) -> str | None:
    """The first "X and Y" (or "W, X and Y") in `text` joining `names`, spelled as `names` spell
    them: a question typed in lower case ("are spike and Oliver friends?") names "Spike" too."""
    spelled = {name.lower(): name for name in names}
    if not spelled:
        return None
    name = r"(?<![\w&])(?:" + "|".join(re.escape(n) for n in sorted(spelled, key=len, reverse=True)) + r")(?![\w&])"
    for m in re.finditer(rf"{name}(?:\s*,\s*{name})*,?\s+and\s+{name}", text, re.IGNORECASE):
        joined = [spelled.get(n.lower(), n) for n in re.findall(name, m.group(), re.IGNORECASE)]
        if len(set(joined)) == len(joined):
            return ", ".join(joined[:-1]) + " and " + joined[-1]
    return None


def _as_kind(name: str, kind: Kind, turn: Turn) -> str | None:
    actual = kind_of(name)
    if kind is Kind.THING:
        return name if actual is not Kind.PERSON else None
    if actual is kind:
        return name
    if kind is Kind.ORG and actual is Kind.PRODUCT:
        maker = _maker(name)  # "the company" after "OnePlus 6": its maker, when named alone or a brand
        if maker and kind_of(maker) is Kind.ORG and (maker in turn.candidates or _is_brand(maker, turn.candidates)):
            return maker
    return None


# -- rewriting ---------------------------------------------------------------------------------


def substitute(reading: Reading, turns: Sequence[Turn]) -> str | None:
    """The question with its first reference replaced by what it refers to; None if unresolved.

    Later references usually point back inside the question ("How did the company sell its
    phones?"), so they are left as they are.
    """
    for ref in reading.references:
        name = (resolve_pair(turns) if ref.plural else None) or resolve(ref.kinds, turns)
        if name is not None:
            text = f"{name}'s" if ref.possessive else name
            return reading.question[: ref.start] + text + reading.question[ref.end :]
    return None


def complete(reading: Reading, turns: Sequence[Turn]) -> str | None:
    """An elliptical question completed from the previous query."""
    previous = turns[0]
    if reading.fragment is not None:
        names = entities([reading.fragment], trust_openers=True)
        named_before = [n for n in (previous.focus, *entities([previous.query], trust_openers=True)) if n and n in previous.query]
        if names and named_before:  # "And Huawei?"; "Where does Fu Zhenguo work?" "And Liu Yaoying?"
            return re.sub(rf"\b{re.escape(named_before[0])}\b", names[0], previous.query)
        topic = previous.focus or (names[0] if names else None)
        if names or topic is None:
            return f"{previous.query.rstrip('?')} {reading.fragment}?"
        return f"{reading.fragment} of {topic}?"  # "And the price?" -> "the price of OnePlus 6?"
    wh = _wh_phrase(reading.question)
    if not wh:
        return previous.query
    return f"{' '.join(wh)} {' '.join(_after_wh(previous.query))}".rstrip("?") + "?"


def standalone_query(reading: Reading, turns: Sequence[Turn]) -> str | None:
    """The question made standalone from the turns (most recent first); None if it cannot be."""
    if reading.elliptical:
        return complete(reading, turns)
    if reading.references:
        return substitute(reading, turns)
    return expand(reading, turns)


def expand(reading: Reading, turns: Sequence[Turn]) -> str | None:
    """A self-standing question with the conversation's topic added (for weak evidence)."""
    focus = turns[0].focus
    if not focus or focus in reading.names:
        return None
    return f"{reading.question} ({focus})"


def _wh_phrase(question: str) -> list[str]:
    words = question.rstrip("?!. ").split()
    words = words[1:] if words and words[0].lower() == "and" else words
    if not words or words[0].lower() not in _WH:
        return []
    if words[0].lower() == "how" and len(words) > 1 and words[1].lower() in _HOW_MODIFIERS:
        return [words[0].capitalize(), words[1]]
    return [words[0].capitalize()]


def _after_wh(query: str) -> list[str]:
    """The query without its question phrase: "How much was ZTE fined?" -> "was ZTE fined?"."""
    words = query.split()
    first = words[0].lower() if words else ""
    if first not in _WH:
        return [words[0].lower(), *words[1:]] if words else []
    skip = 1
    if len(words) > 2 and (
        (first == "how" and words[1].lower() in _HOW_MODIFIERS)
        or (first in ("what", "which", "whose") and words[1].lower() not in _AUX)
    ):
        skip = 2
    return words[skip:]


def support(reading: Reading, answer: Answer) -> float:
    """Share of the question's own content words that the answer's passage holds."""
    if not reading.content or not answer.passages:
        return 1.0
    top = answer.passages[0]
    found = set(tokenize([top.text])[0])
    return sum(t in found for t in reading.content) / len(reading.content)


def _abstained(answer: Answer) -> Answer:
    return replace(answer, answered=False, answer=None, answer_start=None, answer_end=None)


# -- the conversation --------------------------------------------------------------------------


class Conversation:
    """Questions asked in order, each read in the context of the turns before it.

    `ask` has the engine's signature and returns an Answer whose `query` holds the standalone
    query searched when the question was rewritten. Safe to share between threads (turns are
    taken one at a time).
    """

    def __init__(self, engine: Asker, max_turns: int = MAX_TURNS):
        self._engine = engine
        self._turns: deque[Turn] = deque(maxlen=max_turns)
        self._lock = threading.Lock()

    @property
    def turns(self) -> list[Turn]:
        """The remembered turns, oldest first."""
        return list(self._turns)

    def ask(self, question: str, k: int | None = None) -> Answer:
        with self._lock:
            turns = list(reversed(self._turns))
            reading = read_question(question)
            referent = _referent(reading, turns)
            near = _position(turns)
            answer = self._answer(question, reading, turns, referent, k, near)
            if turns:
                answer = self._kept_to_topic(reading, topic(t.answer for t in turns), answer, k, near)
            self._turns.append(make_turn(answer, turns[0] if turns else None, referent))
            return answer

    def remember(self, answer: Answer) -> None:
        """Record a turn answered without context elsewhere (a surface that batched the first
        questions of many conversations into one engine call)."""
        with self._lock:
            self._turns.append(make_turn(answer, self._turns[-1] if self._turns else None))

    def reset(self) -> None:
        with self._lock:
            self._turns.clear()

    def _answer(
        self, question: str, reading: Reading, turns: list[Turn], referent: str | None, k: int | None, near: Position | None,
    ) -> Answer:  # fmt: skip
        """The rewrite's answer or the question's own, whichever the conversation supports.

        A question that stands alone is searched alone, and rewritten only when that abstains.
        An elliptical one ("Why?", "And the price?") is only searched rewritten. One whose
        reference points at a name the last turn's question or answer said ("he" after "Pete
        Lau") is searched rewritten first. One whose reference only a passage's name could fill
        is searched both ways, and the rewrite wins only on equal or more confidence: "their"
        in "What tool do stratigraphers use to see their data?" points inside the question, and
        the question alone says so. A question that leans on the conversation (a rewrite, or a
        reference nothing resolved) prefers answers near the last one (`near`).
        """
        query = standalone_query(reading, turns) if turns else None
        if query is None:
            leans = bool(reading.references) or reading.elliptical  # "When does it open?" with nothing to put for "it"
            return self._engine.ask(question, k, near=near if leans else None)
        if not reading.needs_context:
            alone = self._engine.ask(question, k)
            if alone.answered:
                return alone
            expanded = self._rewritten(question, reading, query, k, near)
            return expanded if expanded.answered else alone
        said = _said(referent, turns[0])
        rewritten = self._rewritten(question, reading, query, k, near, trusted=said)
        if reading.elliptical or (rewritten.answered and said):
            return rewritten  # "And the price?" alone would match any price in the documents
        alone = self._engine.ask(question, k)
        if rewritten.answered and (not alone.answered or rewritten.confidence >= alone.confidence):
            return rewritten
        return alone if alone.answered else rewritten

    def _kept_to_topic(self, reading: Reading, document: str | None, answer: Answer, k: int | None, near: Position | None) -> Answer:
        """The answer from the conversation's document when the follow-up's own evidence is weak.

        A follow-up the engine would decline, or one that names nothing of its own ("How old is
        it?", "What color?", "who did he meet") answered from another document, is asked again
        within the document the conversation is about. That answer wins when its passage holds
        some of the question's own words: an off-topic turn ("What is the capital of France?",
        "Is it going to rain tomorrow?") holds none and is still declined. A question that names
        its subject and is answered keeps its answer, so a change of topic is never dragged back.
        """
        names_its_subject = bool(reading.names) and not reading.needs_context
        if document is None or (answer.answered and (names_its_subject or _source(answer) == document)):
            return answer
        found = self._engine.ask(reading.question, k, query=answer.query, within=document, min_confidence=TOPIC_MIN_CONFIDENCE, near=near)
        return found if found.answered and support(reading, found) >= TOPIC_MIN_SUPPORT else answer

    def _rewritten(
        self, question: str, reading: Reading, query: str, k: int | None, near: Position | None, trusted: bool = False,
    ) -> Answer:  # fmt: skip
        answer = self._engine.ask(question, k, query=query, near=near)
        if answer.answered and _only_context_matched(reading, answer, trusted):
            return _abstained(answer)
        return answer


def _only_context_matched(reading: Reading, answer: Answer, trusted: bool) -> bool:
    """The rewrite found the conversation's subject but nothing of the question itself: it is
    off-topic ("Is OnePlus 6 going to rain tomorrow?"). A rewrite of a name the last turn said is
    trusted unless its passage holds none of two or more words of the question's own."""
    share = support(reading, answer)
    if trusted:
        return len(reading.content) >= 2 and share == 0.0
    return share < MIN_SUPPORT


def topic(answers: Iterable[Answer]) -> str | None:
    """The document the conversation is about: the one with the most evidence over its turns
    (each turn adds the best passage score each document got)."""
    scores: dict[str, float] = {}
    for answer in answers:
        best: dict[str, float] = {}
        for p in answer.passages:
            best[p.source] = max(best.get(p.source, p.score), p.score)
        for source, score in best.items():
            scores[source] = scores.get(source, 0.0) + score
    return max(scores, key=scores.__getitem__) if scores else None


def _position(turns: Sequence[Turn]) -> Position | None:
    """Where the most recent answer starts in its document (turns most recent first)."""
    for turn in turns:
        answer = turn.answer
        if answer.answered and answer.passages and answer.answer_start is not None:
            return Position(answer.passages[0].source, answer.passages[0].start + answer.answer_start)
    return None


def _source(answer: Answer) -> str | None:
    return answer.passages[0].source if answer.passages else None


def _said(name: str | None, turn: Turn) -> bool:
    """Whether the turn's question, query or answer named `name` (not just its passage)."""
    return bool(name) and any(name in text for text in (turn.question, turn.query, turn.answer.answer or ""))


def _referent(reading: Reading, turns: Sequence[Turn]) -> str | None:
    if not reading.references or not turns:
        return None
    return resolve(reading.references[0].kinds, turns)


class Conversations(Generic[Key]):
    """Conversations by key (a Discord thread, a user in a channel), each forgotten after
    `idle_seconds` without a question; at most `capacity` are kept (the quietest go first)."""

    def __init__(self, start: Callable[[], Conversation], idle_seconds: float, capacity: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):  # fmt: skip
        self._start = start
        self._idle = idle_seconds
        self._capacity = capacity
        self._clock = clock
        self._items: OrderedDict[Key, tuple[Conversation, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> Conversation:
        """The key's conversation, or a new one when it has none or it went quiet too long."""
        now = self._clock()
        with self._lock:
            found = self._items.pop(key, None)
            conversation = found[0] if found and now - found[1] <= self._idle else self._start()
            self._items[key] = (conversation, now)
            while len(self._items) > self._capacity or self._quiet(now):
                self._items.popitem(last=False)
            return conversation

    def __len__(self) -> int:
        return len(self._items)

    def _quiet(self, now: float) -> bool:
        oldest = next(iter(self._items.values()), None)
        return oldest is not None and now - oldest[1] > self._idle

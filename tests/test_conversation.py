"""Chat-style follow-ups: dialogues on the seed article, through the engine, CLI, REPL and Discord.

Each dialogue turn is (question, fact the answer must hold, or None: must abstain). The facts
come from reading docs/; the follow-ups lean on the turn before ("it", "he", "the company",
"Why?", "What about ZTE?"), switch topic, or go off-topic.
"""

from __future__ import annotations

import json

import pytest

from askbot.answer import Answer, Passage
from askbot.conversation import Kind, Turn, entities, kind_of, make_turn, read_question, standalone_query
from askbot.errors import UsageError
from askbot.render import rewrite_note
from conftest import SEED_DOCS, SLICE
from fake_discord import ALICE, BOB, GENERAL, THREAD
from test_answers import SEED_FACTS
from test_discord import fake, mention, start_bot  # noqa: F401  (the fake Discord's fixtures)

DIALOGUES = {
    "it, its (the issue's example)": [
        ("What chip powers the OnePlus 6?", "Snapdragon 845"),
        ("When will it arrive?", "second quarter"),
        ("Who is its CEO?", "Pete Lau"),
    ],
    "he": [
        ("Who is the CEO of OnePlus?", "Pete Lau"),
        ("Where was he speaking?", "CES 2018"),
    ],
    "why? when?": [
        ("How much was ZTE fined?", "$1,2 billion"),
        ("Why?", "illegally selling US-made goods"),
        ("When?", "March"),
    ],
    "the company, then why?": [
        ("What phone did ZTE release with AT&T?", "Axon M"),
        ("How much was the company fined?", "$1,2 billion"),
        ("Why?", "illegally selling US-made goods"),
    ],
    "the company, then it": [
        ("Whose deal with US carriers fell through?", "Huawei"),
        ("Which phone did the company hope to launch?", "Mate 10 Pro"),
        ("Why is the US government wary of it?", "ties to the Chinese government"),
    ],
    "it, twice": [
        ("Which Chinese company has partnerships with US carriers?", "ZTE"),
        ("Which phone did it release with AT&T?", "Axon M"),
        ("Why was it fined?", "illegally selling US-made goods"),
    ],
    "topic switch": [
        ("What chip powers the OnePlus 6?", "Snapdragon 845"),
        ("Why was ZTE fined?", "illegally selling US-made goods"),
        ("In which countries did it sell US-made goods?", "Iran and North Korea"),
    ],
    "what about": [
        ("Why is the US government wary of Huawei?", "ties to the Chinese government"),
        ("What about ZTE?", "no objections"),
    ],
    "it as the whole question before": [
        ("When did ZTE receive its fine?", "March"),
        ("How much was it?", "$1,2 billion"),
    ],
    "the company's": [
        ("How did OnePlus originally sell its phones?", "invite system"),
        ("Who is the company's CEO?", "Pete Lau"),
    ],
    "off-topic after on-topic": [
        ("Who is the CEO of OnePlus?", "Pete Lau"),
        ("What is the capital of France?", None),
    ],
    "off-topic with a pronoun": [
        ("What chip powers the OnePlus 6?", "Snapdragon 845"),
        ("Is it going to rain tomorrow?", None),
    ],
    "elliptical, not in the article": [
        ("What chip powers the OnePlus 6?", "Snapdragon 845"),
        ("And the price?", None),
    ],
}


def hit(answer: Answer, fact: str | None) -> bool:
    if fact is None:
        return not answer.answered
    return answer.answered and fact.lower() in answer.answer.lower()


def check(answer: Answer, fact: str | None) -> None:
    note = f"query {answer.query!r}, confidence {answer.confidence:.2f}, answer {answer.answer!r}"
    assert hit(answer, fact), f"{answer.question!r}: expected {fact!r}; {note}"


# -- reading questions and text (no model) -----------------------------------------------------


def test_entities_skip_sentence_openers_and_roles_and_keep_numbers():
    text = "Speaking at CES 2018 with CNET, OnePlus’ CEO Pete Lau said the OnePlus 6 will arrive. Lau said so."
    assert entities([text]) == ["CES 2018", "CNET", "OnePlus", "Pete Lau", "OnePlus 6", "Lau"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Pete Lau", Kind.PERSON),
        ("Nikola Tesla", Kind.PERSON),
        ("OnePlus 6", Kind.PRODUCT),
        ("Axon M", Kind.PRODUCT),
        ("ZTE", Kind.ORG),
        ("AT&T", Kind.ORG),
        ("Westinghouse Electric", Kind.ORG),
        ("Liberty Street", Kind.ORG),
        ("United States", Kind.ORG),
        ("New York", Kind.ORG),
    ],
)
def test_entity_kinds_by_shape(name, kind):
    assert kind_of(name) is kind


@pytest.mark.parametrize(
    ("question", "needs_context"),
    [
        ("When will it arrive?", True),
        ("Who is the company's CEO?", True),
        ("Why?", True),
        ("And the price?", True),
        ("What about ZTE?", True),
        ("How did OnePlus originally sell its phones?", False),  # "its" points inside the question
        ("Why was ZTE fined?", False),
        ("What is the capital of France?", False),
    ],
)
def test_which_questions_need_context(question, needs_context):
    assert read_question(question).needs_context is needs_context


@pytest.mark.parametrize(
    ("question", "query", "note"),
    [
        ("When will it arrive?", "When will OnePlus 6 arrive?", "(taking 'it' as OnePlus 6)"),
        ("Who is its CEO?", "Who is OnePlus's CEO?", "(taking 'its' as OnePlus)"),
        ("Why?", "Why was ZTE fined?", "(read as “Why was ZTE fined?”)"),
        ("How much was it?", "How much was ZTE fined?", "(read as “How much was ZTE fined?”)"),
        ("Why was ZTE fined?", None, None),
    ],
)
def test_rewrite_note(question, query, note):
    assert rewrite_note(Answer(question, True, "x", 0.9, [], query=query)) == note


@pytest.mark.parametrize(
    ("previous", "follow_up", "query"),
    [
        ("Where does Fu Zhenguo work?", "And Liu Yaoying?", "Where does Liu Yaoying work?"),  # a person: never the focus
        ("Why was ZTE fined?", "What about Huawei?", "Why was Huawei fined?"),
        ("Why was ZTE fined?", "And the amount?", "the amount of ZTE?"),
    ],
)
def test_a_fragment_naming_something_takes_the_place_of_the_previous_questions_name(previous, follow_up, query):
    turn = make_turn(Answer(previous, False, None, 0.0, []), None)
    assert standalone_query(read_question(follow_up), [turn]) == query


def said(question: str, answer: str | None = None, passage: str | None = None) -> Answer:
    """A turn's answer as the engine gives it: declined, or `answer` found in `passage`."""
    if answer is None:
        return Answer(question, False, None, 0.0, [])
    text = passage or answer
    start = text.index(answer)
    found = Passage(0, text, "a.txt", "A", None, 0.8, 0, len(text))
    return Answer(question, True, answer, 0.6, [found], start, start + len(answer))


def asked(*answers: Answer) -> list[Turn]:
    """The turns of these answers, oldest first, returned most recent first (as resolved)."""
    turns = []
    for answer in answers:
        turns.append(make_turn(answer, turns[-1] if turns else None))
    return turns[::-1]


SPIKE_AND_OLIVER = said("are spike and Oliver friends ?", "Oliver is a grey cat.", "Oliver is a grey cat. His sister Spike is small.")
HUAWEI_AND_ZTE = said("Why were Huawei and ZTE fined?")
PETE_LAU_AND_CARL_PEI = said("When did Pete Lau and Carl Pei found OnePlus?")
ONEPLUS = said("Who is the CEO of OnePlus?")
MAKERS = said("Who makes phones?", "Phones are made by Huawei, ZTE and OnePlus.")


@pytest.mark.parametrize(
    ("answers", "follow_up", "query"),
    [
        # "Spike" as the passage spells it
        ([SPIKE_AND_OLIVER], "do they both love christmas ?", "do Spike and Oliver both love christmas ?"),
        ([HUAWEI_AND_ZTE], "What did they sell?", "What did Huawei and ZTE sell?"),
        ([HUAWEI_AND_ZTE, said("How much was the fine?")], "Why were they fined?", "Why were Huawei and ZTE fined?"),
        ([MAKERS], "Where do they sell them?", "Where do Huawei, ZTE and OnePlus sell them?"),
        # one name: as before
        ([ONEPLUS], "Where do they sell phones?", "Where do OnePlus sell phones?"),
        ([HUAWEI_AND_ZTE, ONEPLUS], "Where do they sell phones?", "Where do OnePlus sell phones?"),  # the last name wins
        # a singular pronoun takes one name: a person's, and "Spike" and "Oliver" are not shaped like people
        ([PETE_LAU_AND_CARL_PEI], "Where was he speaking?", "Where was Pete Lau speaking?"),
        ([SPIKE_AND_OLIVER], "is he tall ?", None),
        ([HUAWEI_AND_ZTE], "Why was it fined?", "Why was Huawei fined?"),
    ],
)
def test_they_after_names_joined_by_and_takes_them_all(answers, follow_up, query):
    assert standalone_query(read_question(follow_up), asked(*answers)) == query


# -- dialogues through the engine --------------------------------------------------------------


@pytest.mark.parametrize("turns", DIALOGUES.values(), ids=DIALOGUES.keys())
def test_dialogue(seed_engine, turns):
    conversation = seed_engine.conversation()
    for question, fact in turns:
        check(conversation.ask(question), fact)


def test_follow_up_is_searched_as_a_standalone_query(seed_engine):
    chat = seed_engine.conversation()
    chat.ask("What chip powers the OnePlus 6?")
    answer = chat.ask("When will it arrive?")
    assert answer.question == "When will it arrive?"
    assert answer.query == "When will OnePlus 6 arrive?"
    assert answer.passages and answer.passages[0].text[answer.answer_start : answer.answer_end] == answer.answer
    assert chat.ask("Who is its CEO?").query == "Who is OnePlus's CEO?"  # a role: the maker, not the phone
    assert chat.ask("How much will it cost?").query == "How much will OnePlus 6 cost?"  # still the phone


def test_follow_ups_keep_to_the_conversation_when_other_documents_match_them_alone(docs_copy, tmp_path):
    """Asked alone, "Where was he speaking?" and "And the price?" match this distractor well;
    in the conversation they mean Pete Lau and the OnePlus 6, whose price the article never gives."""
    from askbot.engine import Engine
    from askbot.settings import Settings

    (docs_copy / "polyglot.txt").write_text(
        "He was a polyglot, speaking eight languages at the congress in Vienna.\n\n"
        "The asking price for the old congress hall was 3 million euros.\n",
        encoding="utf-8",
    )
    engine = Engine.open(Settings(docs_dir=docs_copy, index_dir=tmp_path / "index"), notify=lambda _: None)
    try:
        assert "Vienna" in engine.ask("Where was he speaking?").answer
        assert "3 million" in engine.ask("And the price?").answer
        chat = engine.conversation()
        check(chat.ask("Who is the CEO of OnePlus?"), "Pete Lau")
        check(chat.ask("Where was he speaking?"), "CES 2018")
        chat.reset()
        check(chat.ask("What chip powers the OnePlus 6?"), "Snapdragon 845")
        check(chat.ask("And the price?"), None)
    finally:
        engine.close()


CES_SENTENCE = "Speaking at CES 2018 with CNET, OnePlus’ CEO Pete Lau said"
CONFIDENCE_DECLINES = pytest.mark.xfail(
    strict=True,
    reason="issue 11 part 6: rewrite and search are right, the fitted confidence declines (0.02 / 0.04): "
    "the best sentence's cosine is 0.31 / 0.35 and its passage holds half the question's terms (the "
    "sentence never says 'trade show' or 'website'), which is what an off-topic question with a "
    "matching name looks like too ('Is OnePlus 6 going to rain tomorrow?', which must be declined)",
)


@pytest.mark.parametrize(
    ("follow_up", "query"),
    [
        ("What trade show was he at?", "What trade show was Pete Lau at?"),
        ("Which website did he give the interview to?", "Which website did Pete Lau give the interview to?"),
    ],
)
def test_issue_11_part_6_follow_ups_are_rewritten_and_find_the_ces_sentence(seed_engine, follow_up, query):
    chat = seed_engine.conversation()
    check(chat.ask("Who is the CEO of OnePlus?"), "Pete Lau")
    answer = chat.ask(follow_up)
    assert answer.query == query
    assert answer.passages[0].text.count(CES_SENTENCE) == 1


@CONFIDENCE_DECLINES
@pytest.mark.parametrize("follow_up", ["What trade show was he at?", "Which website did he give the interview to?"])
def test_issue_11_part_6_follow_ups_are_answered(seed_engine, follow_up):
    chat = seed_engine.conversation()
    chat.ask("Who is the CEO of OnePlus?")
    answer = chat.ask(follow_up)
    assert answer.answered and answer.answer.startswith(CES_SENTENCE)


def test_ask_within_one_document_searches_only_its_passages(docs_copy, tmp_path):
    from askbot.engine import Engine
    from askbot.settings import Settings

    (docs_copy / "notes.txt").write_text("The congress hall in Vienna sold for 3 million euros.\n", encoding="utf-8")
    engine = Engine.open(Settings(docs_dir=docs_copy, index_dir=tmp_path / "index"), notify=lambda _: None)
    try:
        article = engine.ask("Who is the CEO of OnePlus?").passages[0].source
        within = engine.ask("How much did the hall sell for?", 5, within=article, min_confidence=0.0)
        assert within.answered and within.passages and {p.source for p in within.passages} == {article}
        assert "3 million" in engine.ask("How much did the hall sell for?", within="notes.txt").answer
        missing = engine.ask("How much did the hall sell for?", within="no such file.txt")
        assert (missing.answered, missing.passages) == (False, [])
    finally:
        engine.close()


def test_follow_ups_without_names_keep_to_the_conversations_document(docs_copy, tmp_path):
    """Asked alone, "How much did the phone sell for?" finds the notes' old phone; two questions
    into a talk about the OnePlus 6 it is searched in the article. "What was sold at the
    auction?" holds words only the notes hold, and goes there."""
    from askbot.engine import Engine
    from askbot.settings import Settings

    (docs_copy / "notes.txt").write_text("The old phone sold for 3 million euros at the auction.\n", encoding="utf-8")
    engine = Engine.open(Settings(docs_dir=docs_copy, index_dir=tmp_path / "index"), notify=lambda _: None)
    try:
        assert engine.ask("How much did the phone sell for?").passages[0].source == "notes.txt"
        chat = engine.conversation()
        article = chat.ask("What chip powers the OnePlus 6?").passages[0].source
        chat.ask("Who is the CEO of OnePlus?")
        assert chat.ask("How much did the phone sell for?").passages[0].source == article
        switched = chat.ask("What was sold at the auction?")
        assert switched.answered and switched.passages[0].source == "notes.txt"
    finally:
        engine.close()


def test_an_off_topic_question_that_expansion_cannot_save_is_answered_as_asked(seed_engine):
    chat = seed_engine.conversation()
    chat.ask("Why was ZTE fined?")
    answer = chat.ask("What is the capital of France?")
    assert not answer.answered and answer.query is None  # no "(read as …)" above "The documents don't say."


def test_topic_switch_is_not_dragged_back(seed_engine):
    chat = seed_engine.conversation()
    chat.ask("What chip powers the OnePlus 6?")
    switched = chat.ask("Why was ZTE fined?")
    assert switched.query is None
    assert chat.ask("How much was it?").query == "How much was ZTE fined?"


def test_first_turn_and_new_conversation_have_no_context(seed_engine):
    chat = seed_engine.conversation()
    assert chat.ask("When will it arrive?").query is None
    chat.ask("What chip powers the OnePlus 6?")
    chat.reset()
    assert chat.ask("When will it arrive?").query is None


def test_bad_question_in_a_conversation_is_refused_and_not_remembered(seed_engine):
    chat = seed_engine.conversation()
    chat.ask("How much was ZTE fined?")
    for bad in ["   ", "x" * 10_000]:
        with pytest.raises(UsageError):
            chat.ask(bad)
    assert len(chat.turns) == 1
    check(chat.ask("Why?"), "illegally selling")


def test_memory_is_bounded(seed_engine):
    chat = seed_engine.conversation()
    for question, _ in SEED_FACTS[:5]:
        chat.ask(question)
    assert [t.question for t in chat.turns] == [q for q, _ in SEED_FACTS[2:5]]


def test_standalone_questions_answer_the_same_in_a_conversation(seed_engine):
    """The seed facts asked one after another in one conversation: nothing is rewritten."""
    chat = seed_engine.conversation()
    for question, _ in SEED_FACTS:
        alone, chatted = seed_engine.ask(question), chat.ask(question)
        assert chatted.query is None, f"{question!r} was rewritten to {chatted.query!r}"
        assert chatted == alone


def test_squad_slice_answers_hold_in_one_conversation(slice_engine, slice_answers):
    """The 150 slice questions asked in order in one conversation (a stream of topic switches,
    some with "its" and "they" of their own): every question answered alone gets the same answer
    and passage, and the slice's answer hit@1 does not drop."""
    from askbot import evaluation as ev

    engine, _ = slice_engine
    questions, alone = slice_answers
    chat = engine.conversation()
    chatted = [chat.ask(q.question, ev.K) for q in questions]
    changed = [
        (q.question, a.answer, c.answer)
        for q, a, c in zip(questions, alone, chatted)
        if a.answered and (c.answer, c.passages[0].id) != (a.answer, a.passages[0].id)
    ]
    assert not changed
    hits = [sum(ev.holds(x.answer, q.answers) for q, x in zip(questions, answers)) for answers in (alone, chatted)]
    assert hits[1] >= hits[0]


# -- dialogues over many stories (askbot eval-dialogs) -------------------------------------------

DIALOGS = SLICE.parent / "dialogs-slice"  # 9 stories, 9 dialogues cut from dialogs-dev


def test_dialogs_slice_follow_ups_keep_to_the_story(cli, tmp_path):
    """Each dialogue asked as one conversation over all 9 stories: the follow-ups ("what about
    orientation?", "who asked that ?") are answered from the story the conversation is about;
    asked alone most of them find another story or nothing. Floors where this branch stands."""
    result = cli("eval-dialogs", str(DIALOGS / "dialogs.jsonl"), "--docs", str(DIALOGS / "docs"), "--index", str(tmp_path), "--json")
    assert result.exit_code == 0, result.stderr
    report = {key: (cell["hits"], cell["turns"]) for key, cell in json.loads(result.stdout).items()}
    assert report["all/first turns/chat"] == report["all/first turns/alone"]  # no context yet: the same answers
    assert report["all/first turns/chat"][0] >= 7  # 8 with the hand-set selector; all of dialogs-dev: 0.410 then, 0.438 now
    # 14 with the hand-set selector and titles in search; 9 with issue 11's retrieval and answer
    # model (the misses: the wrong sentence of the right story), 13 now that answers near the last
    # answer are preferred (all of dialogs-dev: follow-ups 0.415, 0.396, 0.433; README).
    assert report["all/follow-ups/chat"][0] >= 13 and report["all/follow-ups/chat"][1] == 15
    assert report["all/follow-ups/alone"][0] <= 7


def test_eval_dialogs_table(cli, tmp_path):
    one = (DIALOGS / "dialogs.jsonl").read_text(encoding="utf-8").splitlines()[0]
    (tmp_path / "one.jsonl").write_text(one + "\n", encoding="utf-8")
    result = cli("eval-dialogs", str(tmp_path / "one.jsonl"), "--docs", str(DIALOGS / "docs"), "--index", str(tmp_path / "index"))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "| source | turns | first turns, chat | first turns, alone | follow-ups, chat | follow-ups, alone |"
    assert [line.split(" | ")[:2] for line in lines[2:]] == [["| all", "3"], ["| wikipedia", "3"]]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "one.jsonl:1: not a JSON object"),
        ('{"id": "x"}', 'one.jsonl:1: needs a non-empty "turns" list'),
        ('{"turns": [{"question": " "}]}', 'one.jsonl:1: every turn needs a non-empty "question" string'),
        ('{"turns": [{"question": "Why?", "answers": "no"}]}', 'one.jsonl:1: "answers" must be a list of strings'),
    ],
)
def test_eval_dialogs_bad_input_is_one_line_and_exit_2(cli, tmp_path, line, message):
    (tmp_path / "one.jsonl").write_text(line + "\n", encoding="utf-8")
    result = cli("eval-dialogs", str(tmp_path / "one.jsonl"), "--docs", str(DIALOGS / "docs"))
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(message) and len(result.stderr.strip().splitlines()) == 1


# -- the CLI and the REPL ----------------------------------------------------------------------


def test_cli_chat_json_answers_follow_ups_and_blank_line_starts_over(cli, seed_index):
    lines = [q for q, _ in DIALOGUES["it, its (the issue's example)"]] + [""] + ["When will it arrive?"]
    result = cli("ask", "--chat", "--json", "--docs", str(SEED_DOCS), "--index", str(seed_index), input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in rows] == [q for q in lines if q]
    assert [r["query"] for r in rows] == [None, "When will OnePlus 6 arrive?", "Who is OnePlus's CEO?", None]
    for row, (_, fact) in zip(rows, DIALOGUES["it, its (the issue's example)"]):
        assert fact in row["answer"]


@pytest.mark.parametrize("name", ["why? when?", "off-topic after on-topic"])
def test_cli_chat_json_dialogues(cli, seed_index, name):
    turns = DIALOGUES[name]
    result = cli(
        "ask", "--chat", "--json", "--docs", str(SEED_DOCS), "--index", str(seed_index),
        input="".join(f"{q}\n" for q, _ in turns),
    )  # fmt: skip
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    for row, (_, fact) in zip(rows, turns, strict=True):
        assert row["answered"] is (fact is not None)
        assert fact is None or fact.lower() in row["answer"].lower()


def test_cli_without_chat_keeps_every_line_independent(cli, seed_index):
    questions = "What chip powers the OnePlus 6?\n\nWhen will it arrive?\n"
    result = cli("ask", "--json", "--docs", str(SEED_DOCS), "--index", str(seed_index), input=questions)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2 and all(r["query"] is None for r in rows)


def test_cli_chat_text_shows_what_was_understood(cli, seed_index):
    result = cli("ask", "--chat", "--docs", str(SEED_DOCS), "--index", str(seed_index), input="How much was ZTE fined?\nWhy?\n")
    assert "(read as “Why was ZTE fined?”)\nAlthough back in March, ZTE received" in result.stdout


def test_cli_chat_with_a_question_argument_is_a_usage_error(cli):
    result = cli("ask", "--chat", "Why?")
    assert result.exit_code == 2
    assert "--chat reads the conversation from standard input" in result.stderr


def test_repl_session_is_one_conversation_and_new_starts_another(cli, seed_index):
    session = "What chip powers the OnePlus 6?\nWhen will it arrive?\n:new\nWhen will it arrive?\n:help\n"
    result = cli("repl", "--docs", str(SEED_DOCS), "--index", str(seed_index), input=session)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("(taking 'it' as OnePlus 6)") == 1
    before, after = result.stdout.split("new conversation\n")
    assert "(taking 'it' as OnePlus 6)" in before
    assert ":new" in after


# -- Discord: conversations per thread or per user, through the fake Discord -------------------

def description(reply: dict) -> str:
    return reply["embeds"][0]["description"]


def test_discord_thread_is_one_conversation_for_everyone_in_it(fake, start_bot):
    start_bot()
    fake.wait_reply(fake.send_message(mention("What chip powers the OnePlus 6?"), ALICE, THREAD))
    follow_up = description(fake.wait_reply(fake.send_message(mention("When will it arrive?"), BOB, THREAD)))
    assert follow_up.startswith("*(taking 'it' as OnePlus 6)*\n")
    assert "second quarter" in follow_up.split("**")[1]
    interaction = fake.slash("ask", {"question": "Who is its CEO?"}, ALICE, THREAD)
    slash = fake.wait_edit(interaction).body["embeds"][0]["description"]
    assert slash.startswith("*(taking 'its' as OnePlus)*\n") and "Pete Lau" in slash.split("**")[1]
    elsewhere = fake.wait_reply(fake.send_message(mention("Who is its CEO?"), ALICE, GENERAL))
    assert "(taking" not in json.dumps(elsewhere), "the channel outside the thread is another conversation"


def test_discord_per_user_conversations(fake, start_bot):
    start_bot(discord_conversations="user")
    fake.wait_reply(fake.send_message(mention("How much was ZTE fined?"), ALICE, THREAD))
    bobs = fake.wait_reply(fake.send_message(mention("Why?"), BOB, THREAD))
    assert "read as" not in json.dumps(bobs), "Bob has not asked anything before"
    alices = fake.wait_reply(fake.send_message(mention("Why?"), ALICE, THREAD))
    assert description(alices).startswith("*(read as “Why was ZTE fined?”)*\n")


def test_discord_off_topic_follow_up_says_what_it_understood(fake, start_bot):
    start_bot()
    fake.wait_reply(fake.send_message(mention("What chip powers the OnePlus 6?"), ALICE, THREAD))
    reply = fake.wait_reply(fake.send_message(mention("Is it going to rain tomorrow?"), ALICE, THREAD))
    assert reply["content"].startswith("*(taking 'it' as OnePlus 6)*\nI couldn't find that in the documents.")


def test_conversation_keys_by_mode():
    from askbot.discord_bot import Origin, conversation_key

    in_thread, in_channel = Origin(10, THREAD, GENERAL, 1), Origin(10, GENERAL, None, 1)
    assert conversation_key(in_thread, "thread") == conversation_key(Origin(11, THREAD, GENERAL, 1), "thread")
    assert conversation_key(in_thread, "user") != conversation_key(Origin(11, THREAD, GENERAL, 1), "user")
    assert conversation_key(in_channel, "thread") != conversation_key(Origin(11, GENERAL, None, 1), "thread")
    assert conversation_key(in_thread, "off") is None


def test_conversations_are_forgotten_after_a_quiet_period():
    from askbot.conversation import Conversations

    now = [0.0]
    made = []
    store = Conversations(lambda: made.append(object()) or made[-1], idle_seconds=600, clock=lambda: now[0])
    first = store.get("thread")
    now[0] = 599
    assert store.get("thread") is first, "a question within the quiet period continues it"
    now[0] = 599 + 601
    assert store.get("thread") is not first
    store.get("other")
    now[0] += 700
    store.get("third")
    assert len(store) == 1, "quiet conversations are dropped, not kept forever"


def test_conversation_mode_setting_is_checked(monkeypatch):
    from askbot.settings import Settings

    monkeypatch.setenv("ASKBOT_DISCORD_CONVERSATIONS", "channel")
    with pytest.raises(UsageError, match="ASKBOT_DISCORD_CONVERSATIONS must be one of thread, user, off"):
        Settings.from_env(env_file=None)

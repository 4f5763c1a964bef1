"""Facts of the seed article, checked by reading it: the answer sentence must hold them; and
how the passages around an answer are ordered."""

from types import SimpleNamespace

import numpy as np
import pytest

from askbot.answer import passage_order

SEED_FACTS = [
    ("What chip powers the OnePlus 6?", "Snapdragon 845"),
    ("Who is the CEO of OnePlus?", "Pete Lau"),
    ("At which event did the OnePlus CEO speak?", "CES 2018"),
    ("Which phone did Huawei want to launch in the US?", "Mate 10 Pro"),
    ("When will the OnePlus 6 arrive?", "second quarter"),
    ("How much was ZTE fined?", "$1,2 billion"),
    ("Why was ZTE fined?", "illegally selling US-made goods"),
    ("When did ZTE receive its fine?", "March"),
    ("What phone did ZTE release with AT&T?", "Axon M"),
    ("What was the OnePlus flagship before the OnePlus 6?", "OnePlus 5T"),
    ("How did OnePlus originally sell its phones?", "invite system"),
    ("Which Chinese company has partnerships with US carriers?", "ZTE"),
    ("How do US customers tend to buy their phones?", "through a carrier"),
    ("In which countries did ZTE illegally sell US-made goods?", "Iran and North Korea"),
    ("Which carrier partnered with ZTE on the Axon M?", "AT&T"),
    ("Why is the US government wary of Huawei?", "ties to the Chinese government"),
    ("What market did Huawei hope to crack?", "US market"),
    ("Whose deal with US carriers fell through?", "Huawei"),
    ("What is OnePlus' next flagship likely to be called?", "OnePlus 6"),
]

OFF_TOPIC = [
    "What is the capital of France?",
    "How do I bake sourdough bread?",
    "Who won the 2014 FIFA World Cup?",
    "What is the boiling point of water?",
    "Who wrote Pride and Prejudice?",
    "Who painted the Mona Lisa?",
]

SEED_SOURCE = "OnePlus-eyes-US-carriers-after-Huawei-deal-falls-through.txt"


@pytest.mark.parametrize(("question", "fact"), SEED_FACTS)
def test_seed_fact_is_in_the_answer(seed_engine, question, fact):
    answer = seed_engine.ask(question)
    assert answer.answered, f"abstained (confidence {answer.confidence:.2f})"
    assert fact.lower() in answer.answer.lower()
    assert len(answer.answer) <= 400


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_question_abstains_with_closest_passages(seed_engine, question):
    answer = seed_engine.ask(question)
    assert not answer.answered
    assert answer.answer is None
    assert answer.passages, "the closest passages are still shown"


def test_headline_answer_carries_source_date_and_offsets(seed_engine):
    answer = seed_engine.ask("What chip powers the OnePlus 6?")
    top = answer.passages[0]
    assert top.source == SEED_SOURCE
    assert top.date == "2018-01-12"
    assert top.title == "OnePlus eyes US carriers after Huawei deal falls through"
    source_text = (seed_engine.settings.docs_dir / SEED_SOURCE).read_text(encoding="utf-8")
    assert source_text[top.start : top.end] == top.text
    assert top.text[answer.answer_start : answer.answer_end] == answer.answer
    assert len(top.text) <= 1000
    assert 0.0 <= answer.confidence <= 1.0


def test_k_limits_passages(seed_engine):
    assert len(seed_engine.ask("Who is the CEO of OnePlus?", k=1).passages) == 1
    assert len(seed_engine.ask("Who is the CEO of OnePlus?", k=3).passages) == 3


def test_passages_show_the_answers_first_then_the_others_by_the_best_answer_they_hold():
    # candidates of search ranks 0, 0, 1, 2, 3 (five passages found, four competed)
    found = SimpleNamespace(passage_rank=np.array([0, 0, 1, 2, 3]))
    scores = np.array([1.0, 2.5, 3.0, 0.5, 2.0])
    assert passage_order(found, 2, scores, 5) == [1, 0, 3, 2, 4]
    assert passage_order(found, 3, scores, 5) == [2, 1, 0, 3, 4]

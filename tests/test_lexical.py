"""Tokenisation and BM25: what counts as a term, and that question words do not."""

from __future__ import annotations

from askbot.lexical import LexicalIndex, tokenize


def test_question_words_and_auxiliaries_are_not_terms():
    assert tokenize(["What chip powers the OnePlus 6?"]) == [["chip", "power", "oneplus", "6"]]
    assert tokenize(["When did Tesla die?"]) == [["tesla", "die"]]


def test_documents_and_questions_share_stems():
    doc, question = tokenize(["It will be powered by a Snapdragon 845", "What powers it?"])
    assert set(question) <= set(doc)


def test_bm25_ranks_the_document_with_the_rare_term_first():
    texts = ["the phone runs on a Snapdragon chip", "the phone is red", "the phone is blue"]
    index = LexicalIndex.build(texts)
    scores = index.scores(tokenize(["Which chip does the phone use?"])[0])
    assert scores.argmax() == 0
    assert index.idf("snapdragon") > index.idf("phone")
    assert index.idf("unseen") > index.idf("snapdragon")

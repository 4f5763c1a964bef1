"""Citations: the best place a reader can open, on the terminal and on Discord."""

from __future__ import annotations

import pytest

from askbot import discord_render
from askbot.answer import Answer, Passage
from askbot.render import answer_text, source_line

TEXT = "The phone will be powered by a Snapdragon 845."


def passage(**where) -> Passage:
    return Passage(7, TEXT, "guides/manual.pdf", "Askbot Manual", "2024-03-05", 0.9, 120, 166, **where)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({}, "Askbot Manual (2024-03-05) — guides/manual.pdf, chars 120–166"),
        ({"page_start": 12, "page_end": 12}, "Askbot Manual (2024-03-05) — guides/manual.pdf, p. 12"),
        ({"page_start": 12, "page_end": 13}, "Askbot Manual (2024-03-05) — guides/manual.pdf, pp. 12–13"),
        (
            {"page_start": 3, "page_end": 3, "section": "Installation › Linux"},
            "Askbot Manual (2024-03-05) — guides/manual.pdf, p. 3 · Installation › Linux",
        ),
        ({"section": "Usage"}, "Askbot Manual (2024-03-05) — guides/manual.pdf · Usage"),
        ({"url": "https://docs.example.org/guide/install_linux"}, "Askbot Manual (2024-03-05) — https://docs.example.org/guide/install_linux"),
        (
            {"url": "https://docs.example.org/guide/", "section": "Install"},
            "Askbot Manual (2024-03-05) — https://docs.example.org/guide/ · Install",
        ),
    ],
)
def test_source_line_gives_the_best_place(where, expected):
    assert source_line(passage(**where)) == expected


def answer(p: Passage) -> Answer:
    return Answer("What chip?", True, TEXT, 0.9, [p], 0, len(TEXT))


def test_terminal_answer_cites_the_page():
    lines = answer_text(answer(passage(page_start=1, page_end=1))).splitlines()
    assert lines[1] == "Source: Askbot Manual (2024-03-05) — guides/manual.pdf, p. 1"


def test_discord_embed_title_links_to_a_fetched_page_and_keeps_the_url_clickable():
    url = "https://docs.example.org/guide/install_linux"
    embed = discord_render.answer_reply(answer(passage(url=url, section="Install"))).embed
    assert embed.url == url
    assert embed.fields[0].value == f"Askbot Manual (2024-03-05) — {url} · Install"  # no "\_" inside the link
    more = discord_render.passages_embed([passage(url=url)], first_number=2)
    assert more.fields[0].value.endswith(f"\n— {url}")


def test_discord_cites_pages_and_escapes_sections():
    embed = discord_render.answer_reply(answer(passage(page_start=2, page_end=3, section="a_b"))).embed
    assert embed.url is None
    assert embed.fields[0].value == r"Askbot Manual (2024-03-05) — guides/manual.pdf, pp. 2–3 · a\_b"


def test_discord_shows_a_strange_url_as_text_not_a_link():
    embed = discord_render.answer_reply(answer(passage(url="javascript:alert(1)"))).embed
    assert embed.url is None
    assert embed.fields[0].value == "Askbot Manual (2024-03-05) — javascript:alert(1)"

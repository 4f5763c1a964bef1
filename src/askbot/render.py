"""Plain-text rendering of answers for the terminal surfaces (CLI and REPL).

Styling goes through click.style; click.echo drops it when the output is not a terminal.
`rewrite_note` is plain text, shared with the Discord bot.
"""

from __future__ import annotations

import re
import textwrap
from difflib import SequenceMatcher

import click

from .answer import Answer, Passage

NOT_FOUND = "The documents don't say."


def source_line(p: Passage) -> str:
    """"Title (date) — place": the best citation the document allows (see source_parts)."""
    what, url, where = source_parts(p)
    return f"{what} — {' · '.join(filter(None, [url, where]))}"


def source_parts(p: Passage) -> tuple[str, str | None, str]:
    """(title and date, URL or None, where in the document), for surfaces that style each part.

    The place is the URL of a fetched page, else the file with its pages ("manual.pdf, p. 12",
    "pp. 12–13"), then the section path ("Installation › Linux"); character offsets only when
    the document has neither pages nor headings."""
    what = f"{p.title} ({p.date})" if p.date else p.title
    if p.url:
        return what, p.url, p.section or ""
    place = p.source
    if p.page_start is not None:
        pages = f"p. {p.page_start}" if p.page_end in (None, p.page_start) else f"pp. {p.page_start}–{p.page_end}"
        place = f"{place}, {pages}"
    if p.section:
        return what, None, f"{place} · {p.section}"
    return what, None, place if p.page_start is not None else f"{place}, chars {p.start}–{p.end}"


def rewrite_note(answer: Answer) -> str | None:
    """What a follow-up was taken to mean: "(taking 'it' as OnePlus 6)", or None if not rewritten."""
    if not answer.query:
        return None
    said, searched = _words(answer.question), _words(answer.query)
    matcher = SequenceMatcher(a=[w.lower() for w in said], b=[w.lower() for w in searched], autojunk=False)
    changes = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    names = all(w[:1].isupper() or w[:1].isdigit() for _, _, _, j1, j2 in changes for w in searched[j1:j2])
    if changes and names and all(tag == "replace" for tag, *_ in changes):  # a reference replaced by a name
        taken = [
            f"'{' '.join(said[i1:i2])}' as {_POSSESSIVE.sub('', ' '.join(searched[j1:j2]))}"
            for _, i1, i2, j1, j2 in changes
        ]
        return f"(taking {'; '.join(taken)})"
    return f"(read as “{answer.query}”)"


_POSSESSIVE = re.compile(r"['’]s$")


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'’&.$,-]*\w[\w'’&.-]*|[^\w\s]", text)


def answer_text(answer: Answer) -> str:
    """The answer and its source, or a plain 'not in the documents' with the closest passages.

    A conversation's rewrite of the question is noted first."""
    note = rewrite_note(answer)
    text = _answer_body(answer)
    return f"{note}\n{text}" if note else text


def _answer_body(answer: Answer) -> str:
    if not answer.answered:
        lines = [NOT_FOUND]
        if answer.passages:
            lines.append("Closest I found:")
            for p in answer.passages:
                lines.append(f"  • {excerpt(p.text, 160)}")
                lines.append(f"    {source_line(p)}")
        return "\n".join(lines)
    top = answer.passages[0]
    return "\n".join(
        [
            click.style(" ".join((answer.answer or "").split()), bold=True),  # one line: an answer may join two paragraphs
            f"Source: {source_line(top)}",
            f"Confidence: {answer.confidence:.2f}",
        ]
    )


def highlighted_passage(answer: Answer, width: int = 100) -> str:
    """The top passage with the answer sentence highlighted inside it."""
    p = answer.passages[0]
    if answer.answer_start is None or answer.answer_end is None:
        return textwrap.fill(p.text, width)
    before, hit, after = p.text[: answer.answer_start], p.text[answer.answer_start : answer.answer_end], p.text[answer.answer_end :]
    marker = "\x00"  # wrap first, then style, so escape codes don't upset the line widths
    wrapped = textwrap.fill(before + marker + hit + marker + after, width)
    first, middle, last = wrapped.split(marker)
    return first + click.style(middle, fg="yellow", bold=True) + last


def passages_text(answer: Answer) -> str:
    lines = []
    for i, p in enumerate(answer.passages, 1):
        lines.append(f"[{i}] score {p.score:.2f} · {source_line(p)}")
        lines.append(textwrap.indent(textwrap.fill(p.text, 96), "    "))
    return "\n".join(lines) if lines else "(no passages)"


def excerpt(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit - 1)
    return text[: cut if cut > 0 else limit - 1] + "…"

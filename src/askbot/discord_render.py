"""Discord rendering of answers: an embed with the answer in bold inside its passage, or a plain
"not in the documents" with the closest passage; every text cut to Discord's limits at a word.

Document text is escaped so a stray `*` or `_` in a document cannot garble the formatting; pings
are prevented separately, by allowed_mentions on every send (see discord_bot.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import discord

from .answer import Answer, Passage
from .render import rewrite_note, source_parts

# Discord's limits, in characters.
MESSAGE_CHARS = 2000
TITLE_CHARS = 256
DESCRIPTION_CHARS = 4096
FIELD_NAME_CHARS = 256
FIELD_VALUE_CHARS = 1024
EMBED_TOTAL_CHARS = 6000
EMBED_FIELDS = 25

CONTEXT_CHARS = 280  # passage text shown on each side of the answer sentence
PASSAGE_EXCERPT_CHARS = 700
MAX_URL_CHARS = 512  # longer links are shown as text
NOTE_CHARS = 300  # "(read as “…”)": the standalone query a follow-up was searched as
ANSWER_COLOUR = discord.Colour.green()
NOT_FOUND = "I couldn't find that in the documents."


@dataclass(frozen=True)
class Reply:
    """What to send: message text, an embed, or both."""

    content: str | None = None
    embed: discord.Embed | None = None


def fit(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary, ending in "…" when cut."""
    if len(text) <= limit:
        return text
    room = limit - 1
    cut = text.rfind(" ", 0, room + 1)
    kept = text[:cut] if cut > room // 2 else text[:room]  # no space near the end: cut mid-word
    return kept.rstrip().rstrip("\\") + "…"  # never leave a dangling markdown escape


def escape(text: str) -> str:
    return discord.utils.escape_markdown(" ".join(text.split()))


def answer_reply(answer: Answer) -> Reply:
    """The answer embed, led by what a follow-up was taken to mean ("(taking 'it' as OnePlus 6)")."""
    if not answer.answered or answer.answer_start is None or answer.answer_end is None:
        return not_found_reply(answer)
    top = answer.passages[0]
    lead = _rewrite_lead(answer)
    embed = discord.Embed(
        title=fit(escape(answer.question), TITLE_CHARS),
        description=lead + fit(_highlighted(top, answer.answer_start, answer.answer_end), DESCRIPTION_CHARS - len(lead)),
        colour=ANSWER_COLOUR,
        url=_link(top.url),  # the title opens the page the answer came from
    )
    embed.add_field(name="Source", value=fit(source(top), FIELD_VALUE_CHARS), inline=False)
    embed.add_field(name="Confidence", value=f"{answer.confidence:.2f}", inline=True)
    return Reply(embed=embed)


def not_found_reply(answer: Answer) -> Reply:
    lead = _rewrite_lead(answer)
    if not answer.passages:
        return Reply(content=fit(lead + NOT_FOUND, MESSAGE_CHARS))
    closest = answer.passages[0]
    quote = fit(escape(closest.text), PASSAGE_EXCERPT_CHARS)
    return Reply(content=fit(f"{lead}{NOT_FOUND} The closest passage:\n> {quote}\n— {source(closest)}", MESSAGE_CHARS))


def passages_embed(passages: list[Passage], first_number: int) -> discord.Embed:
    """The passages behind an answer, numbered from `first_number`, within the embed limits."""
    embed = discord.Embed(title="More passages", colour=ANSWER_COLOUR)
    total = len(embed.title)
    for number, p in enumerate(passages[: EMBED_FIELDS], first_number):
        what, _, _ = source_parts(p)
        name = fit(escape(f"{number}. {what}"), FIELD_NAME_CHARS)
        tail = place(p)
        body = fit(escape(p.text), FIELD_VALUE_CHARS - len(tail) - 3)
        value = fit(f"{body}\n— {tail}", FIELD_VALUE_CHARS)
        if total + len(name) + len(value) > EMBED_TOTAL_CHARS:
            break
        total += len(name) + len(value)
        embed.add_field(name=name, value=value, inline=False)
    if not embed.fields:
        embed.description = "No more passages."
    return embed


def source(p: Passage) -> str:
    """The citation as Discord markdown: "Title (date) — <place>", a URL left clickable."""
    what, _, _ = source_parts(p)
    return f"{escape(what)} — {place(p)}"


def place(p: Passage) -> str:
    """Where the passage is: its URL (not escaped, so it stays a link) and/or the escaped location."""
    _, url, where = source_parts(p)
    link = _link(url)
    return " · ".join(filter(None, [link or (escape(url) if url else None), escape(where) if where else None]))


def _link(url: str | None) -> str | None:
    """The URL when it is a plain http(s) link Discord can show as one; None otherwise."""
    if url and url.startswith(("https://", "http://")) and len(url) <= MAX_URL_CHARS and not any(c.isspace() or c in "<>()[]" for c in url):
        return url
    return None


def note(text: str) -> str:
    """A short message to the user, within the message limit."""
    return fit(text, MESSAGE_CHARS)


def _rewrite_lead(answer: Answer) -> str:
    """What a follow-up was taken to mean, in italics on a line of its own ("" if not rewritten)."""
    rewrite = rewrite_note(answer)
    return f"*{fit(escape(rewrite), NOTE_CHARS)}*\n" if rewrite else ""


def _highlighted(p: Passage, start: int, end: int) -> str:
    """The answer sentence in bold, with up to CONTEXT_CHARS of its passage on each side."""
    before = p.text[:start]
    after = p.text[end:]
    if len(before) > CONTEXT_CHARS:
        cut = before.find(" ", len(before) - CONTEXT_CHARS)
        before = "…" + before[cut + 1 if cut >= 0 else len(before) - CONTEXT_CHARS :]
    if len(after) > CONTEXT_CHARS:
        after = fit(after, CONTEXT_CHARS)
    answer = escape(" ".join(p.text[start:end].split()))  # bold does not run across a blank line
    return f"{escape(before)} **{answer}** {escape(after)}".strip()

"""What a PDF or Word reader returns: text with its page starts and headings, or why not.

Plain data, so the extraction worker (extraction.py) can send it across a pipe as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


class Unreadable(Exception):
    """Why a document gives no text; the message completes "skipped <file>: ..."."""


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None
    date: str | None
    pages: list[int] = field(default_factory=list)  # where each page starts in text (PDF)
    headings: list[tuple[int, int, str]] = field(default_factory=list)  # (offset, level, text)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Extracted":
        return cls(
            text=str(data["text"]),
            title=data.get("title"),
            date=data.get("date"),
            pages=[int(p) for p in data.get("pages", [])],
            headings=[(int(o), int(level), str(text)) for o, level, text in data.get("headings", [])],
        )

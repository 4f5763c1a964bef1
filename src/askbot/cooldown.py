"""Per-user cooldown: one question per N seconds, and one polite note per refused burst.

A user who sends five questions in a second gets the first answered and is told once to wait;
the other refusals are silent, so the bot never floods a channel with "slow down" messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: float = 0.0  # seconds until the user may ask again
    first_refusal: bool = False  # True once per cooldown window: the refusal worth a note


class Cooldown:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._last_allowed: dict[int, float] = {}
        self._noted: set[int] = set()  # users already told to wait in their current window

    def check(self, user_id: int) -> Verdict:
        """Record an attempt to ask and say whether it may go ahead."""
        if self.seconds <= 0:
            return Verdict(True)
        now = self._clock()
        self._forget_older_than(now - self.seconds)
        last = self._last_allowed.get(user_id)
        if last is None:
            self._last_allowed[user_id] = now
            self._noted.discard(user_id)
            return Verdict(True)
        first = user_id not in self._noted
        self._noted.add(user_id)
        return Verdict(False, retry_after=last + self.seconds - now, first_refusal=first)

    def _forget_older_than(self, cutoff: float) -> None:
        """Drop users whose window has passed, so memory stays bounded by recent askers.

        Entries are only ever added at the current time, so the dict is in time order.
        """
        while self._last_allowed:
            user, at = next(iter(self._last_allowed.items()))
            if at > cutoff:
                break
            del self._last_allowed[user]
            self._noted.discard(user)

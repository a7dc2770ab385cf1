"""Discourse's RateLimiter (lib/rate_limiter.rb) and blocked watched words (WordWatcher).

RateLimiter: a ring buffer of the last `max` action times per (user, key); an action is refused
while the buffer is full and its oldest entry is younger than `secs`. The wait Discourse reports
is `secs - age_of_oldest`. Staff are never limited; `max` or `secs` of 0 means no limit.
The model callbacks (`rate_limit` in Topic and Post) only perform after the record is created,
and a rollback undoes every limiter of the transaction, so a refused action leaves no trace:
`perform_all` checks every limiter first and records them all only when none refuses.
"""
from __future__ import annotations

import html
import math
import re
import threading
import time
from dataclasses import dataclass

from .errors import ApiError

# RateLimiter::LimitExceeded#description: a per-type text when the locale has one.
_BY_TYPE = {
    "create_topic": "You’re creating new topics too quickly. Please wait {time_left} before trying again.",
    "create_post": "You’re replying too quickly. Please wait {time_left} before trying again.",
}
_GENERIC = "You’ve performed this action too many times. Please wait {time_left} before trying again."


def time_left(seconds: int) -> str:
    """rate_limiter.seconds / minutes / hours (pluralised count)."""
    if seconds < 60:
        n, unit = seconds, "second"
    elif seconds < 3600:
        n, unit = seconds // 60, "minute"
    else:
        n, unit = seconds // 3600, "hour"
    return f"{n} {unit}{'' if n == 1 else 's'}"


def limit_exceeded(limit_type: str, wait: float) -> ApiError:
    """ApplicationController's RateLimiter::LimitExceeded rescue: 429, `error_type` rate_limit,
    `extras` {wait_seconds, time_left} and a Retry-After header."""
    secs = max(1, int(math.ceil(wait)))
    left = time_left(secs)
    text = _BY_TYPE.get(limit_type, _GENERIC).format(time_left=left)
    return ApiError(429, {"errors": [text], "error_type": "rate_limit",
                          "extras": {"wait_seconds": secs, "time_left": left}},
                    headers={"Retry-After": str(secs)})


@dataclass(frozen=True)
class Limiter:
    key: str      # the limiter's type ("create_topic", "pms-per-day", ...)
    max: int      # actions allowed ...
    secs: float   # ... within this many seconds


class RateLimiter:
    def __init__(self, clock=time.time):
        self._lock = threading.Lock()
        self._buffers: dict[tuple[int, str], list[float]] = {}
        self.clock = clock

    def perform_all(self, user: dict, limiters: list[Limiter], staff: bool) -> None:
        """Refuse (429) if any limiter is full, else record the action in all of them."""
        if staff:
            return
        active = [lim for lim in limiters if lim.max > 0 and lim.secs > 0]
        with self._lock:
            t = self.clock()
            for lim in active:
                buf = self._buffers.get((user["id"], lim.key), [])
                if len(buf) >= lim.max:
                    age = t - buf[-lim.max]
                    if age <= lim.secs:
                        raise limit_exceeded(lim.key, lim.secs - age)
            for lim in active:
                buf = self._buffers.setdefault((user["id"], lim.key), [])
                buf.append(t)
                del buf[:-lim.max]

    def clear(self, user_id: int | None = None) -> None:
        with self._lock:
            if user_id is None:
                self._buffers.clear()
            else:
                for k in [k for k in self._buffers if k[0] == user_id]:
                    del self._buffers[k]


# ------------------------------------------------------------------------------ watched words

def _word_regex(word: str) -> re.Pattern:
    """WordWatcher: a whole-word, case-insensitive match; `*` is a wildcard inside a word."""
    body = r"\S*".join(re.escape(part) for part in word.strip().split("*"))
    return re.compile(r"(?:\W|^)(" + body + r")(?=\W|$)", re.IGNORECASE | re.UNICODE)


def blocked_matches(text: str, words) -> list[str]:
    """The blocked words found in `text`, as written there, in the order of the word list."""
    found: list[str] = []
    for w in words or []:
        if not str(w).strip():
            continue
        for m in _word_regex(str(w)).finditer(text or ""):
            if m.group(1).lower() not in (f.lower() for f in found):
                found.append(m.group(1))
    return found


def blocked_message(matches: list[str]) -> str:
    """WatchedWordsValidator's error (contains_blocked_word / contains_blocked_words), HTML-escaped."""
    if len(matches) == 1:
        return f"Your post contains a word that's not allowed: {html.escape(matches[0])}"
    return f"Your post contains words that aren't allowed: {html.escape(', '.join(matches))}"

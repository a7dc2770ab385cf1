"""Posts already read by this engine: the verified result of each, so that a page view's frames,
a post that Discourse re-creates after cloaking, and navigating back to a topic do not decrypt
and verify the same post again.

An entry is found only by (forum origin, topic id, post id, SHA-256 of the post's raw): a page
cannot have one post's plaintext shown for another (another id or another raw is another key).
It is served only while what it was verified against is unchanged: the `trust` token is a hash of
the stored conversation's id, the author's pin and this device's identity record, recomputed
from the store on every request, so accepting a key change, a new pin, a replaced identity or
another conversation stored for the topic makes every older entry a miss. Entries hold plaintext:
they live in the engine's memory only, and locking (`Engine.drop_session`) clears them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from contextlib import contextmanager

MAX_ENTRIES = 5000


def post_key(origin: str, topic_id: int, post_id: int, raw: str) -> tuple:
    digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
    return (origin, topic_id, post_id, digest)


def trust_token(*records) -> str:
    """A hash of the stored records a verification depended on (JSON data; key handles are
    represented by their type only, the records that matter here hold none)."""
    text = json.dumps(records, sort_keys=True, default=lambda o: type(o).__name__)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class ReadCache:
    """Bounded LRU of read results, with the counters the benchmark and tests read."""

    def __init__(self, limit: int = MAX_ENTRIES):
        self.limit = limit
        self._items: OrderedDict = OrderedDict()   # post_key -> (trust, item)
        self._locks: dict = {}                     # (origin, topic_id) -> asyncio.Lock
        self._meta: dict = {}                      # hash of a sealed metadata blob -> its contents
        self.decrypted = 0                         # posts decrypted and verified (cache misses)
        self.hits = 0
        self.timing: dict = {}                     # phase -> total ms (where a read spends its time)

    def get(self, key, trust):
        hit = self._items.get(key)
        if hit is None or hit[0] != trust:
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return dict(hit[1])

    def put(self, key, trust, item: dict) -> None:
        self._items[key] = (trust, dict(item))
        self._items.move_to_end(key)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def topic_lock(self, origin: str, topic_id: int) -> asyncio.Lock:
        """Reads of one topic's posts that are not cached yet run one at a time: a frame asking
        for a post that a batch is reading waits for that batch, then finds it cached."""
        k = (origin, topic_id)
        lock = self._locks.get(k)
        if lock is None:
            if len(self._locks) > 200:
                self._locks = {a: b for a, b in self._locks.items() if b.locked()}
            lock = self._locks[k] = asyncio.Lock()
        return lock

    async def meta(self, rec: dict, opener):
        """A stored conversation's decrypted metadata (`await opener()`), kept per sealed blob:
        every viewer's read names the conversation's title."""
        k = trust_token(rec.get("meta"))
        hit = self._meta.get(k)
        if hit is None:
            hit = self._meta[k] = await opener()
            if len(self._meta) > 200:
                self._meta.clear()
                self._meta[k] = hit
        return dict(hit)

    def clear(self) -> None:
        self._items.clear()
        self._meta.clear()

    def __len__(self) -> int:
        return len(self._items)

    @contextmanager
    def phase(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timing[name] = self.timing.get(name, 0.0) + (time.perf_counter() - t0) * 1000

    def stats(self) -> dict:
        return {"decrypted": self.decrypted, "hits": self.hits, "entries": len(self._items),
                "timing_ms": {k: round(v, 1) for k, v in self.timing.items()}}

"""Search across everything this device has read (pycore.engine.search).

| type | payload | result |
|---|---|---|
| search.query | {query, limit?} | {results: [{origin, topic_id, post_id, first_post, title, author, created_at, score, snippet: [[text, is_match]…]}], indexed (posts in the index)} |
| test.search_fill | {count} (test builds) | {indexed}: `count` made-up posts added to the index in memory, for the benchmark |

Posts enter the index as the engine verifies them (`conv.open` for first posts, `conv.read` and
`conv.prepare` for the rest): only what showed as valid, never a tampered or undecryptable post.
The index is kept at rest one record per conversation, sealed in the vault
(`inband.search.<origin>.<topic_id>`); in memory it lives as long as the unlocked session (locking
drops it with the read cache), from the first search of the session on; before that, a verified
post only updates its conversation's record, so reading costs the same however much is indexed. A
record the vault cannot open (another identity's) is skipped: reading the conversation again
indexes it anew.
"""

from __future__ import annotations

import json
import random

from ...errors import AuthenticationFailed, BadRequest, MalformedInput
from .. import args, at_rest
from .. import store as names
from ..search import SearchIndex

MAX_QUERY_CHARS = 500
_OPEN_RECORDS = 8   # conversations' records kept open between batches before the index is loaded
FIRST_POST = "first"   # the index key of a conversation's first post (conv.open knows no post id)


async def _index(engine, ident) -> SearchIndex:
    """The session's index, read from the vault on first use. A lock that comes while it is being
    read (or while a request that began unlocked is still running) leaves nothing in memory: the
    index is kept only when the session is still unlocked and nothing was forgotten meanwhile."""
    if engine.search_index is not None:
        return engine.search_index
    async with engine.search_lock:
        if engine.search_index is None:
            forgotten = engine.forgotten
            ix = SearchIndex()
            for key in await engine.store.keys():
                if not key.startswith(names.SEARCH_PREFIX):
                    continue
                data = await _open_record(engine, ident, await engine.store.get(key))
                if data is None:
                    continue
                try:
                    origin, topic_id = data["origin"], int(data["topic_id"])
                    ix.set_title(origin, topic_id, data.get("title"))
                    for post_id, (author, created_at, text) in data["posts"].items():
                        ix.add(origin, topic_id, post_id, author=author, created_at=created_at, text=text)
                except (ValueError, TypeError, KeyError, AttributeError):
                    continue
            if engine.forgotten != forgotten or not await engine.store.get(names.SESSION):
                return ix   # answers this request only
            engine.search_index = ix
            engine.search_records = {}
    return engine.search_index


async def feed(engine, ident, origin: str, topic_id: int, *, title=None, posts=()) -> None:
    """Indexes verified posts of one conversation (`posts`: (post_id, author, created_at, text)),
    and its title when given; writes the conversation's record when something changed."""
    if engine.search_index is None:
        async with engine.search_lock:
            if engine.search_index is None:
                return await _feed_record(engine, ident, origin, topic_id, title, posts)
    ix = await _index(engine, ident)
    changed = False
    if title is not None and ix.titles.get((origin, topic_id)) != title:
        ix.set_title(origin, topic_id, title)
        changed = True
    for post_id, author, created_at, text in posts:
        if isinstance(text, str) and text:
            changed = ix.add(origin, topic_id, str(post_id), author=author, created_at=created_at, text=text) or changed
    if changed:
        await _save_record(engine, ident, origin, topic_id, {
            "origin": origin, "topic_id": topic_id, "title": ix.titles.get((origin, topic_id)),
            "posts": ix.topic_posts(origin, topic_id)})


async def _open_record(engine, ident, sealed) -> dict | None:
    """A conversation's search record {origin, topic_id, title, posts: {post_id: [author,
    created_at, text]}} opened from the vault; None when absent, not this identity's, or damaged."""
    if sealed is None:
        return None
    try:
        data = json.loads((await at_rest.open_vault(engine, ident, sealed)).decode("utf-8"))
    except (AuthenticationFailed, MalformedInput, ValueError, TypeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("posts"), dict) else None


async def _save_record(engine, ident, origin: str, topic_id: int, data: dict) -> None:
    await engine.store.set(names.search(origin, topic_id),
                           await at_rest.seal_vault(engine, ident, json.dumps(data, ensure_ascii=False).encode("utf-8")))


async def _feed_record(engine, ident, origin, topic_id, title, posts) -> None:
    """feed() while the session has not loaded the index: only this conversation's record is
    brought up to date (the same contents the index would write), and the whole index is read
    when a search needs it, so reading a topic costs the same however much this device has
    indexed. Callers hold engine.search_lock (an index being loaded sees the record before or
    after, never half-written)."""
    key = names.search(origin, topic_id)
    forgotten = engine.forgotten
    data = engine.search_records.get(key)
    if data is None:
        data = await _open_record(engine, ident, await engine.store.get(key))
    if data is None:   # none yet, or another identity's record: this reading starts it anew
        data = {"origin": origin, "topic_id": topic_id, "title": None, "posts": {}}
    # A long topic is read in several batches: its record is opened once, not once per batch
    # (and never kept past a lock that came while it was being opened).
    engine.search_records.pop(key, None)
    if engine.forgotten == forgotten:
        while len(engine.search_records) >= _OPEN_RECORDS:
            engine.search_records.pop(next(iter(engine.search_records)))
        engine.search_records[key] = data
    changed = False
    if title is not None and data.get("title") != (title or None):
        data["title"] = title or None
        changed = True
    for post_id, author, created_at, text in posts:
        if not (isinstance(text, str) and text):
            continue
        old = data["posts"].get(str(post_id))
        if isinstance(old, list) and len(old) == 3 and old[0] == author and old[2] == text:
            continue   # already indexed with the same words (as SearchIndex.add decides)
        data["posts"][str(post_id)] = [author, created_at, text]
        changed = True
    if changed:
        await _save_record(engine, ident, origin, topic_id, data)


async def query(engine, payload, context):
    q = args.text(payload, "query", max_len=MAX_QUERY_CHARS)
    limit = payload.get("limit", 20)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 50:
        limit = 20
    ident = await engine.require_unlocked()
    ix = await _index(engine, ident)
    results = ix.query(q, limit)
    for r in results:
        r["post_id"] = None if r["post_id"] == FIRST_POST else int(r["post_id"])
        r["first_post"] = r["post_id"] is None
    return {"results": results, "indexed": len(ix.docs)}


_BENCH_WORDS = ("meeting budget launch report draft travel invoice design review contract holiday schedule "
                "server backup release notes question answer dinner weekend project client offer payment "
                "deadline office garden family doctor ticket flight hotel").split()


async def fill_for_benchmark(engine, payload, context):
    """Test builds: `count` made-up posts (200-2000 characters, 100 per conversation) in memory,
    so that the benchmark times queries against an index of that size."""
    count = payload.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 20000:
        raise BadRequest("count must be between 1 and 20000")
    ident = await engine.require_unlocked()
    ix = await _index(engine, ident)
    rnd = random.Random(count)
    origin = "https://bench.invalid"
    for i in range(count):
        topic = 1 + i // 100
        if i % 100 == 0:
            ix.set_title(origin, topic, " ".join(rnd.choices(_BENCH_WORDS, k=4)))
        words = []
        while sum(len(w) + 1 for w in words) < rnd.randint(200, 2000):
            words.append(rnd.choice(_BENCH_WORDS) if rnd.random() < 0.3 else f"w{rnd.randint(0, 20000)}")
        ix.add(origin, topic, str(i + 1), author=f"user{i % 7}", created_at=f"2026-01-01T00:00:{i % 60:02d}Z",
               text=" ".join(words))
    return {"indexed": len(ix.docs)}


HANDLERS = {
    "search.query": query,
    "test.search_fill": fill_for_benchmark,
}

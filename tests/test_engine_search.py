"""search.query: what the engine verified is found (first posts with their titles, replies, an
edit's new words); a tampered post is not indexed; the index is sealed at rest, dropped on lock and
read back from the vault on unlock; only the inbox may ask."""
import pytest

from tests.test_engine_conversations import ORIGIN, PASS, _start, base_users, texts  # noqa: F401


@pytest.fixture
def pair(base_users):  # noqa: F811
    return base_users["alice"].clone(), base_users["bob"].clone()


def search(u, q, **kw):
    return u.ok("search.query", {"query": q, **kw}, sender="page:inbox")


def test_what_was_read_is_found_and_nothing_tampered(pair):
    a, b = pair
    started = _start(a, b, title="Moving day", body="We rent the van on Sunday.")
    b.ok("conv.open", {"origin": ORIGIN, "topic_id": 9, "raw": started["raw"], "me": "bob", "author": a.ref()})
    a.ok("conv.open", {"origin": ORIGIN, "topic_id": 9, "raw": started["raw"], "me": "alice", "author": a.ref()})
    cid = started["conversation_id"]
    reply = a.ok("conv.reply", {"origin": ORIGIN, "topic_id": 9, "conversation_id": cid, "me": "alice",
                                "body": "Bring the tarpaulin and straps."})["raw"]
    tampered = reply[:60] + ("A" if reply[60] != "A" else "B") + reply[61:]
    posts = b.ok("conv.read", {"origin": ORIGIN, "topic_id": 9, "posts": [
        {"post_id": 41, "raw": reply, "username": "alice", "bio_raw": a.bio},
        {"post_id": 42, "raw": tampered, "username": "alice"}]})["posts"]
    assert [p["status"] for p in posts][0] == "valid" and posts[1]["status"] != "valid"

    assert [c["indexed"] for c in b.ok("conv.list", {"origin": ORIGIN})["conversations"]] == [True]
    got = search(b, "tarpaulin")
    assert got["indexed"] == 2
    assert [(r["topic_id"], r["post_id"], r["title"], r["author"]) for r in got["results"]] == \
        [(9, 41, "Moving day", "alice")]
    assert ["tarpaulin", True] in got["results"][0]["snippet"]
    first = search(b, "van")["results"]
    assert [(r["post_id"], r["first_post"]) for r in first] == [(None, True)]
    assert [r["topic_id"] for r in search(b, "moving")["results"]] == [9]   # by its title
    assert search(b, "tarp")["results"][0]["post_id"] == 41               # while typing
    # an edit replaces the post's words
    edited = a.ok("conv.edit", {"origin": ORIGIN, "topic_id": 9, "conversation_id": cid, "me": "alice",
                                "raw": reply, "body": "Bring ropes instead."})["raw"]
    b.ok("conv.read", {"origin": ORIGIN, "topic_id": 9, "posts": [
        {"post_id": 41, "raw": edited, "username": "alice", "bio_raw": a.bio}]})
    assert search(b, "tarpaulin")["results"] == [] and search(b, "ropes")["results"][0]["post_id"] == 41
    # sealed at rest
    stored = b.stored_text()
    for secret in ("tarpaulin", "ropes", "Moving day", "rent the van"):
        assert secret not in stored


def test_the_index_is_dropped_on_lock_and_read_back_on_unlock(pair):
    a, b = pair
    started = _start(a, b, title="Quiet title", body="The harbour opens at dawn.")
    b.ok("conv.open", {"origin": ORIGIN, "topic_id": 3, "raw": started["raw"], "me": "bob", "author": a.ref()})
    assert search(b, "harbour")["results"]
    assert b.engine.search_index is not None
    b.ok("identity.lock")
    assert b.engine.search_index is None
    assert b.err("search.query", {"query": "harbour"}, sender="page:inbox")["code"] == "locked"
    b.ok("identity.unlock", {"passphrase": PASS})
    assert [r["topic_id"] for r in search(b, "harbour")["results"]] == [3]
    # a restart (a new engine on the same store) reads it back too
    fresh = b.clone()
    fresh.ok("identity.unlock", {"passphrase": PASS})
    assert [r["topic_id"] for r in search(fresh, "dawn")["results"]] == [3]


def test_only_the_inbox_may_search(pair):
    _a, b = pair
    for sender in ("content", "frame:viewer", "frame:composer"):
        assert b.err("search.query", {"query": "x"}, sender=sender, router_rejects=True)["code"] == "rejected", sender
    assert b.err("search.query", {"query": "x" * 501}, sender="page:inbox", router_rejects=True)["code"] == "rejected"


def test_the_benchmark_fills_the_index_with_made_up_posts(pair):
    _a, b = pair
    assert b.ok("test.search_fill", {"count": 250}, sender="page:inbox")["indexed"] == 250
    got = search(b, "budget", limit=50)
    assert len(got["results"]) == 50 and all(r["origin"] == "https://bench.invalid" for r in got["results"])
    assert all(["budget", True] in r["snippet"] for r in got["results"])
    assert b.err("test.search_fill", {"count": 0}, sender="page:inbox", router_rejects=True)["code"] == "rejected"


def test_a_lock_while_the_index_is_loading_leaves_no_index_in_memory(pair):
    """Locking drops the index; a load that was under way when the lock came must not put it back."""
    import asyncio
    a, b = pair
    started = _start(a, b, title="Quiet title", body="The harbour opens at dawn.")
    b.ok("conv.open", {"origin": ORIGIN, "topic_id": 3, "raw": started["raw"], "me": "bob", "author": a.ref()})
    b.engine.forget_plaintext()
    real_get = b.store.get_record
    locked = []

    async def get_then_lock(key):   # the lock request arrives while the index's records are read
        rec = await real_get(key)
        if key.startswith("inband.search.") and not locked:
            locked.append(await b.engine.handle("identity.lock", {}, b.context("page:options")))
        return rec
    b.store.get_record = get_then_lock
    got = asyncio.run(b.engine.handle("search.query", {"query": "harbour"}, b.context("page:inbox")))
    assert locked and locked[0]["ok"] and got["ok"]
    assert b.engine.search_index is None


def test_reading_after_a_restart_updates_the_conversation_record_without_loading_the_index(pair):
    """A new engine (the offscreen document opened again) has not read the index: a read updates
    its conversation's record only, and the next search finds old and new posts alike."""
    a, b = pair
    started = _start(a, b, title="Garden plans", body="The roses go by the fence.")
    b.ok("conv.open", {"origin": ORIGIN, "topic_id": 5, "raw": started["raw"], "me": "bob", "author": a.ref()})
    a.ok("conv.open", {"origin": ORIGIN, "topic_id": 5, "raw": started["raw"], "me": "alice", "author": a.ref()})
    other = _start(a, b, title="Other things", body="Nothing about plants.")
    b.ok("conv.open", {"origin": ORIGIN, "topic_id": 6, "raw": other["raw"], "me": "bob", "author": a.ref()})
    assert search(b, "roses")["indexed"] == 2
    cid = started["conversation_id"]
    reply = a.ok("conv.reply", {"origin": ORIGIN, "topic_id": 5, "conversation_id": cid, "me": "alice",
                                "body": "And the tulips by the gate."})["raw"]
    b2 = b.clone()   # the same store in a new engine
    assert b2.engine.search_index is None
    before = {k: v for k, v in b2.store.data.items() if k.startswith("inband.search.") and not k.endswith(".5")}
    posts = b2.ok("conv.read", {"origin": ORIGIN, "topic_id": 5, "posts": [
        {"post_id": 51, "raw": reply, "username": "alice", "bio_raw": a.bio}]})["posts"]
    assert posts[0]["status"] == "valid"
    assert b2.engine.search_index is None, "a read loaded the whole index"
    assert {k: v for k, v in b2.store.data.items() if k in before} == before   # the other record untouched
    # the same read again changes nothing
    stored = b2.store.data["inband.search." + ORIGIN + ".5"]
    b2.ok("test.read_stats", {"clear": True}, sender="page:options")
    b2.ok("conv.read", {"origin": ORIGIN, "topic_id": 5, "posts": [
        {"post_id": 51, "raw": reply, "username": "alice", "bio_raw": a.bio}]})
    assert b2.store.data["inband.search." + ORIGIN + ".5"] == stored
    got = search(b2, "tulips")
    assert got["indexed"] == 3
    assert [(r["topic_id"], r["post_id"], r["title"]) for r in got["results"]] == [(5, 51, "Garden plans")]
    assert [r["topic_id"] for r in search(b2, "roses")["results"]] == [5]
    assert "tulips" not in b2.stored_text()


def test_a_long_topic_read_in_batches_opens_its_record_once_and_a_lock_forgets_it(pair):
    a, b = pair
    started = _start(a, b, title="Long one", body="First words.")
    a.ok("conv.open", {"origin": ORIGIN, "topic_id": 8, "raw": started["raw"], "me": "alice", "author": a.ref()})
    cid = started["conversation_id"]
    replies = [a.ok("conv.reply", {"origin": ORIGIN, "topic_id": 8, "conversation_id": cid, "me": "alice",
                                   "body": f"batch word{i}"})["raw"] for i in range(3)]
    b.ok("conv.open", {"origin": ORIGIN, "topic_id": 8, "raw": started["raw"], "me": "bob", "author": a.ref()})
    b2 = b.clone()
    b2.ok("engine.status")   # the start-up storage check reads every record once
    opened = []
    real = b2.store.get_record

    async def counting(key):
        if key.startswith("inband.search."):
            opened.append(key)
        return await real(key)
    b2.store.get_record = counting
    for i, raw in enumerate(replies):
        b2.ok("conv.read", {"origin": ORIGIN, "topic_id": 8, "posts": [
            {"post_id": 80 + i, "raw": raw, "username": "alice", "bio_raw": a.bio}]})
    assert len(opened) == 1, opened
    assert b2.engine.search_records
    b2.ok("identity.lock")
    assert b2.engine.search_records == {}
    b2.ok("identity.unlock", {"passphrase": PASS})
    assert [r["post_id"] for r in search(b2, "word2")["results"]] == [82]
    assert b2.engine.search_records == {}

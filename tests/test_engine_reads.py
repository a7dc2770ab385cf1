"""The engine's read cache (pycore.engine.reads) through the real Engine on CPython: a page view
reads its topic ahead (conv.prepare, from the content script, counts only), viewers then get their
post from the cache (conv.read only_cached) without a decryption; a result is only ever served for
the same origin, topic, post id and raw, and never after what it was verified against changed
(a key accepted or verified, a lock)."""
from pycore import inband
from tests.engine_support import routed
from tests.test_engine_conversations import ORIGIN, PASS, _start, base_users, check, texts, users  # noqa: F401

TOPIC = 7


def _content(u, type, payload):
    """A request from the forum tab's content script (the router sets the origin from the tab)."""
    return routed(u.engine, type, payload, {"sender": "content", "marker": "m1", "origin": ORIGIN})


FIRST = {}


def _first_raw(u):
    return FIRST[id(u)]


def _conversation(a, b, n=3):
    started = _start(a, b)
    FIRST[id(b)] = started["raw"]
    b.ok("conv.open", {"origin": ORIGIN, "topic_id": TOPIC, "raw": started["raw"], "me": "bob", "author": a.ref()})
    a.ok("conv.open", {"origin": ORIGIN, "topic_id": TOPIC, "raw": started["raw"], "me": "alice", "author": a.ref()})
    cid = started["conversation_id"]
    refs = []
    for i in range(n):
        raw = a.ok("conv.reply", {"origin": ORIGIN, "topic_id": TOPIC, "conversation_id": cid, "me": "alice",
                                  "body": f"reply number {i}"})["raw"]
        refs.append({"post_id": 100 + i, "raw": raw, "username": "alice", "created_at": "2027-01-15T08:00:00.000Z"})
    return refs


def _stats(u):
    return u.ok("test.read_stats", {}, sender="page:options")


def _cached(u, refs):
    return u.ok("conv.read", {"origin": ORIGIN, "topic_id": TOPIC, "posts": refs, "only_cached": True})["posts"]


def test_a_page_view_reads_ahead_and_viewers_get_their_post_without_decrypting(users):
    a, b = users["alice"], users["bob"]
    refs = _conversation(a, b)
    assert [p["status"] for p in _cached(b, refs)] == ["pending"] * 3   # nothing read yet, nothing decrypted
    assert _stats(b)["decrypted"] == 0
    r = _content(b, "conv.prepare", {"topic_id": TOPIC, "posts": [dict(refs[0], bio_raw=a.bio)] + refs[1:]})
    assert r["ok"] and r["result"] == {"read": 3, "decrypted": 3}      # counts only reach the content script
    assert _stats(b)["decrypted"] == 3
    items = _cached(b, refs)
    assert [(p["post_id"], p["status"], p["body"]) for p in items] == \
        [(100 + i, "valid", f"reply number {i}") for i in range(3)]
    assert items[0]["author_key"]["status"] == "first_seen" and items[0]["author_key"]["own"] is False
    assert items[0]["author_key"]["fingerprint"] == check(b, a)["fingerprint"]
    # the same posts again (cloaking, navigating back): served, not decrypted
    b.ok("conv.read", {"origin": ORIGIN, "topic_id": TOPIC, "posts": refs})
    again = _content(b, "conv.prepare", {"topic_id": TOPIC, "posts": refs})["result"]
    assert again == {"read": 3, "decrypted": 0}
    stats = _stats(b)
    assert stats["decrypted"] == 3 and stats["hits"] >= 9
    # my own posts: the badge says the key is mine
    mine = a.ok("conv.read", {"origin": ORIGIN, "topic_id": TOPIC, "posts": refs[:1]})["posts"][0]
    assert mine["status"] == "valid" and mine["author_key"]["own"] is True


def test_a_result_is_only_served_for_the_same_post_and_raw(users):
    a, b = users["alice"], users["bob"]
    refs = _conversation(a, b, n=2)
    _content(b, "conv.prepare", {"topic_id": TOPIC, "posts": [dict(refs[0], bio_raw=a.bio)]})
    # another post id with that raw, that post id with another raw, another topic, another forum
    swapped = [dict(refs[0], post_id=refs[1]["post_id"]), dict(refs[1], post_id=refs[0]["post_id"])]
    assert [p["status"] for p in _cached(b, swapped)] == ["pending", "pending"]
    other_topic = b.err("conv.read", {"origin": ORIGIN, "topic_id": TOPIC + 1, "posts": refs[:1], "only_cached": True})
    assert other_topic["code"] == "conversation_unknown"
    other_forum = b.err("conv.read", {"origin": "https://other.example", "topic_id": TOPIC, "posts": refs[:1],
                                      "only_cached": True})
    assert other_forum["code"] == "conversation_unknown"
    assert _cached(b, refs[:1])[0]["body"] == "reply number 0"
    # a page that swaps the raws gets each read for what it is: post 101 carrying post 100's
    # message is a duplicate, post 100 shows the text of the raw it now has
    read = b.ok("conv.read", {"origin": ORIGIN, "topic_id": TOPIC, "posts": swapped})["posts"]
    assert [(p["post_id"], p["status"], p["body"]) for p in read] == [(101, "duplicate", None),
                                                                      (100, "valid", "reply number 1")]


def test_a_change_of_trust_or_a_lock_makes_every_cached_result_a_miss(users):
    a, b = users["alice"], users["bob"]
    refs = _conversation(a, b, n=2)
    _content(b, "conv.prepare", {"topic_id": TOPIC, "posts": [dict(r, bio_raw=a.bio) for r in refs]})
    assert _cached(b, refs)[0]["author_key"]["status"] == "first_seen"
    fp = check(b, a)["fingerprint"]
    b.ok("keys.mark_verified", {"origin": ORIGIN, "username": "alice", "fingerprint": fp})
    assert [p["status"] for p in _cached(b, refs)] == ["pending", "pending"]   # verified against the old pin
    read = b.ok("conv.read", {"origin": ORIGIN, "topic_id": TOPIC, "posts": refs})["posts"]
    assert [p["status"] for p in read] == ["valid", "valid"] and read[0]["author_key"]["status"] == "verified"
    assert _stats(b)["decrypted"] == 4
    # opening the first post again (every page view's first viewer does) keeps them (its record is re-sealed)
    b.ok("conv.open", {"origin": ORIGIN, "topic_id": TOPIC, "raw": _first_raw(b), "me": "bob", "author": a.ref()})
    assert [p["status"] for p in _cached(b, refs)] == ["valid", "valid"]
    # a published key that differs from the pin: recorded as a change, nothing verifies against it
    carol = users["carol"]
    changed_bio = "Hi, I am alice.\n\n" + carol.bio.split("\n\n", 1)[1]
    r = b.ok("conv.read", {"origin": ORIGIN, "topic_id": TOPIC, "posts": [dict(refs[0], bio_raw=changed_bio)]})
    assert r["posts"][0]["author_key"]["status"] == "key_changed"
    assert r["posts"][0]["status"] == "valid"   # still signed by the accepted key
    # locking drops every result (plaintext) with the keys
    b.ok("identity.lock", {}, sender="page:options")
    assert b.err("conv.read", {"origin": ORIGIN, "topic_id": TOPIC, "posts": refs, "only_cached": True})["code"] \
        == "locked"
    assert _stats(b)["entries"] == 0
    b.ok("identity.unlock", {"passphrase": PASS}, sender="page:popup")
    assert [p["status"] for p in _cached(b, refs)] == ["pending", "pending"]


def test_hostile_posts_in_a_batch_cost_one_read_each(users):
    a, b = users["alice"], users["bob"]
    refs = _conversation(a, b, n=1)
    bad = [{"post_id": 200, "raw": "plain text", "username": "alice"},
           {"post_id": 201, "raw": refs[0]["raw"].replace(inband.MSG_END, "x" + inband.MSG_END), "username": "alice"},
           {"post_id": 202, "raw": refs[0]["raw"], "username": "mallory"}]
    r = _content(b, "conv.prepare", {"topic_id": TOPIC, "posts": [dict(refs[0], bio_raw=a.bio)] + bad})["result"]
    assert r == {"read": 4, "decrypted": 4}
    items = b.ok("conv.read", {"origin": ORIGIN, "topic_id": TOPIC, "posts": refs + bad, "only_cached": True})["posts"]
    assert [p["status"] for p in items] == ["valid", "malformed", "cannot_decrypt", "wrong_author"]
    assert [p["body"] for p in items[1:]] == [None, None, None]
    assert b.ok("test.read_stats", {"clear": True}, sender="page:options")["entries"] == 0
    assert _cached(b, refs)[0]["status"] == "pending"

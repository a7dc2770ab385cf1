"""Removing a participant for real, through three real Engines (CPython, MemoryStore): conv.rekey
makes a key change for those who stay, each engine takes the new key when it reads the posted
rekey, later posts use it, the removed participant is told and reads nothing new, posts in an old
key after the change are flagged, a second change for the same step is ignored, and an invite
afterwards gives the invitee the whole history."""
import pytest

from pycore import inband
from tests.test_engine_conversations import ORIGIN, User, texts  # noqa: F401 (fixture)

TOPIC = 70


@pytest.fixture(scope="module")
def base_users(prims, texts):  # noqa: F811
    return {n: User(prims, n, t) for n, t in zip(("alice", "bob", "carol"), texts)}


@pytest.fixture
def users(base_users):
    return {n: u.clone() for n, u in base_users.items()}


class Topic:
    """The forum's copy of the topic: posts in order, each with its id."""

    def __init__(self):
        self.posts = []

    def add(self, raw, user):
        self.posts.append({"post_id": 100 + len(self.posts), "raw": raw, "username": user.name,
                           "bio_raw": user.bio})
        return self.posts[-1]["post_id"]

    def read(self, u, *ids):
        wanted = [p for p in self.posts[1:] if not ids or p["post_id"] in ids]
        got = u.ok("conv.read", {"origin": ORIGIN, "topic_id": TOPIC, "posts": wanted})["posts"]
        return {p["post_id"]: p for p in got}


def _open(u, topic, author, **extra):
    return u.ok("conv.open", {"origin": ORIGIN, "topic_id": TOPIC, "raw": topic.posts[0]["raw"], "me": u.name,
                              "author": author.ref(), **extra})


@pytest.fixture
def three(users):
    a, b, c = users["alice"], users["bob"], users["carol"]
    started = a.ok("conv.start", {"origin": ORIGIN, "me": "alice", "recipients": [b.ref(), c.ref()],
                                  "title": "Plans", "body": "Hello both"})
    topic = Topic()
    topic.add(started["raw"], a)
    for u in (a, b, c):
        assert _open(u, topic, a)["status"] == "valid"
    cid = started["conversation_id"]
    topic.add(c.ok("conv.reply", {"origin": ORIGIN, "topic_id": TOPIC, "conversation_id": cid, "me": "carol",
                                  "body": "hi from carol"})["raw"], c)
    return a, b, c, topic, cid


def _rekey(u, cid, remove, members, **extra):
    return u.ok("conv.rekey", {"origin": ORIGIN, "topic_id": TOPIC, "conversation_id": cid, "me": u.name,
                               "remove": remove, "members": [m.ref() for m in members], **extra})


def _reply(u, cid, body):
    return u.ok("conv.reply", {"origin": ORIGIN, "topic_id": TOPIC, "conversation_id": cid, "me": u.name,
                               "body": body})["raw"]


def test_alice_removes_carol_and_carol_reads_nothing_new(three):
    a, b, c, topic, cid = three
    out = _rekey(a, cid, ["carol"], [b], max_chars=32000)
    assert out["epoch"] == 1 and out["remove"] == ["carol"]
    assert out["raw"].startswith(inband.REKEY_HINT) and "carol" not in out["raw"]
    # nothing changes before the rekey is read back from the forum
    assert inband.envelope_epoch(_reply(a, cid, "still the old key")) == 0
    rekey_id = topic.add(out["raw"], a)
    seen = {u.name: topic.read(u, rekey_id)[rekey_id] for u in (a, b, c)}
    for name in ("alice", "bob"):
        assert seen[name]["status"] == "valid" and seen[name]["kind"] == "rekey"
        assert seen[name]["rekey"] == {"epoch": 1, "removed": ["carol"], "members": ["alice", "bob"], "given": True}
    assert seen["carol"]["status"] == "valid" and seen["carol"]["rekey"]["given"] is False
    assert seen["carol"]["author"] == "alice" and seen["carol"]["body"] is None
    # alice and bob write with the new key; carol's extension says the key was not given to her
    later = topic.add(_reply(b, cid, "the secret after carol left"), b)
    assert inband.envelope_epoch(topic.posts[-1]["raw"]) == 1
    assert topic.read(a, later)[later]["body"] == "the secret after carol left"
    got = topic.read(c, later)[later]
    assert got["status"] == inband.STATUS_KEY_NOT_GIVEN and got["body"] is None and got["epoch"] == 1
    # the conversation as each one sees it
    for u, members in ((a, ["alice", "bob"]), (b, ["alice", "bob"])):
        view = _open(u, topic, a, allowed_users=["alice", "bob", "carol"])
        assert view["members"] == members and view["removed"] == ["carol"] and view["epoch"] == 1
        assert view["without_key"] == ["carol"] and view["removed_me"] is None
    view = _open(c, topic, a)
    assert view["removed_me"]["by"] == "alice" and view["removed_me"]["epoch"] == 1
    assert [x["removed_by"] for x in c.ok("conv.list", {"origin": ORIGIN})["conversations"]] == ["alice"]
    assert [x["removed_by"] for x in b.ok("conv.list", {"origin": ORIGIN})["conversations"]] == [None]
    # carol cannot write into the conversation any more: nobody who stays would read it
    assert c.err("conv.reply", {"origin": ORIGIN, "topic_id": TOPIC, "conversation_id": cid, "me": "carol",
                                "body": "let me in"}) == {
        "code": "removed_from_conversation", "username": "alice",
        "message": "alice removed you from this conversation: its participants no longer read what you write in it"}
    # the history stays readable for those who stay
    first_reply = topic.posts[1]["post_id"]
    assert topic.read(b, first_reply)[first_reply]["body"] == "hi from carol"
    # nothing readable at rest, keys included
    for u in (a, b, c):
        assert "the secret after carol left" not in u.stored_text()


def test_a_post_in_the_old_key_after_the_change_is_flagged(three):
    a, b, c, topic, cid = three
    before = topic.posts[1]["post_id"]
    rekey_id = topic.add(_rekey(a, cid, ["carol"], [b])["raw"], a)
    # carol's engine does not know of the change (the server kept it from her) and writes on
    c2 = c.clone()
    late = topic.add(_reply(c2, cid, "written after the change"), c2)
    got = topic.read(b)
    assert got[rekey_id]["status"] == "valid"
    assert got[late]["status"] == "valid" and got[late]["epoch"] == 0
    assert got[late]["superseded"] == {"epoch": 1, "by": "alice", "removed": ["carol"]}
    assert got[before]["superseded"] is None


def test_the_page_cannot_choose_who_stays(three):
    a, b, c, topic, cid = three
    # a participant the page leaves out of members is not silently dropped: the send stops
    err = a.err("conv.rekey", {"origin": ORIGIN, "topic_id": TOPIC, "conversation_id": cid, "me": "alice",
                               "remove": ["carol"], "members": []})
    assert err["code"] == "bad_request" and "bob" in err["message"]
    # someone who is no participant, or myself, cannot be removed
    assert a.err("conv.rekey", {"origin": ORIGIN, "topic_id": TOPIC, "conversation_id": cid, "me": "alice",
                                "remove": ["mallory"], "members": [b.ref()]})["code"] == "not_in_conversation"
    assert a.err("conv.rekey", {"origin": ORIGIN, "topic_id": TOPIC, "conversation_id": cid, "me": "alice",
                                "remove": ["alice"], "members": [b.ref()]})["code"] == "not_in_conversation"
    assert a.err("conv.rekey", {"origin": ORIGIN, "topic_id": TOPIC, "conversation_id": "0" * 32, "me": "alice",
                                "remove": ["carol"], "members": [b.ref()]})["code"] == "conversation_changed"
    # the content script cannot ask for a key change
    assert a.err("conv.rekey", {"origin": ORIGIN, "topic_id": TOPIC, "conversation_id": cid, "me": "alice",
                                "remove": ["carol"], "members": [b.ref()]}, sender="content",
                 router_rejects=True)["code"] == "rejected"


def test_a_second_change_for_the_same_step_is_ignored(three):
    a, b, c, topic, cid = three
    first = topic.add(_rekey(a, cid, ["carol"], [b])["raw"], a)
    # carol, still holding the old key, answers with a key change of her own that removes alice
    rival = topic.add(_rekey(c, cid, ["alice"], [b])["raw"], c)
    got = topic.read(b)
    assert got[first]["status"] == "valid" and got[rival]["status"] == "rekey_conflict"
    assert _open(b, topic, a)["members"] == ["alice", "bob"]
    # read one at a time, in the forum's order, the same
    assert a.ok("conv.read", {"origin": ORIGIN, "topic_id": TOPIC, "posts": [topic.posts[-2]]})["posts"][0][
        "status"] == "valid"
    assert a.ok("conv.read", {"origin": ORIGIN, "topic_id": TOPIC, "posts": [topic.posts[-1]]})["posts"][0][
        "status"] == "rekey_conflict"
    assert _open(a, topic, a)["removed_me"] is None


def test_an_edit_of_an_older_post_after_the_change_is_refused(three):
    a, b, c, topic, cid = three
    mine = topic.add(_reply(a, cid, "before"), a)
    topic.add(_rekey(a, cid, ["carol"], [b])["raw"], a)
    topic.read(a)
    raw = next(p["raw"] for p in topic.posts if p["post_id"] == mine)
    err = a.err("conv.edit", {"origin": ORIGIN, "topic_id": TOPIC, "conversation_id": cid, "me": "alice", "raw": raw,
                              "body": "after"})
    assert err["code"] == "old_conversation_key"


def test_an_invite_after_the_change_gives_the_whole_history(three, base_users, prims):
    a, b, c, topic, cid = three
    topic.add(_rekey(a, cid, ["carol"], [b])["raw"], a)
    topic.read(a)
    # dave: carol's key under another name stands in for a fourth person
    d = base_users["carol"].clone()
    d.name = "dave"
    share = a.ok("conv.share_key", {"origin": ORIGIN, "topic_id": TOPIC, "conversation_id": cid, "me": "alice",
                                    "invitee": {"username": "dave", "bio_raw": d.bio}})["raw"]
    share_id = topic.add(share, a)
    assert d.ok("conv.accept_share", {"origin": ORIGIN, "topic_id": TOPIC, "raw": share, "me": "dave",
                                      "poster": a.ref()})["status"] == "valid"
    assert _open(d, topic, a)["title"] == "Plans"
    after = topic.add(_reply(b, cid, "welcome dave"), b)
    got = topic.read(d)
    assert got[after]["body"] == "welcome dave" and got[topic.posts[1]["post_id"]]["body"] == "hi from carol"
    assert got[share_id]["kind"] == "key_share" and got[share_id]["invitee"] == "dave"
    # dave's engine does not take alice's key change as a removal of dave
    view = _open(d, topic, a)
    assert view["removed_me"] is None and set(view["members"]) == {"alice", "bob", "dave"}
    assert _reply(d, cid, "thanks") and inband.envelope_epoch(_reply(d, cid, "thanks")) == 1


def test_key_changes_survive_lock_and_unlock(three):
    a, b, c, topic, cid = three
    topic.add(_rekey(a, cid, ["carol"], [b])["raw"], a)
    topic.read(b)
    b.ok("identity.lock")
    from tests.test_engine_conversations import PASS
    b.ok("identity.unlock", {"passphrase": PASS})
    assert inband.envelope_epoch(_reply(b, cid, "after a lock")) == 1


def test_a_key_change_whose_entry_for_me_does_not_open_is_invalid_not_a_removal(three, prims):
    """carol, still a participant, posts a key change listing bob with a wrapped key that is not
    the new key for bob: bob's engine must not take it for his removal."""
    from pycore.inband import messages
    from pycore.plugin import payload as _payload
    from pycore.plugin import topickey
    from tests.engine_support import run

    a, b, c, topic, cid = three
    keys = {u.name: run(inband.find_bio_block(prims, u.bio)) for u in (a, b, c)}
    conv = run(inband.open_conversation(prims, topic.posts[0]["raw"], "carol", _identity(c, prims), keys["alice"],
                                        poster_username="alice"))
    new_key = run(topickey.generate(prims, extractable=True))
    section, _ = run(messages._recipient_section(prims, new_key, [keys["carol"], keys["bob"]]))
    damaged = bytearray(section)
    damaged[1 + 516 + 4 + 10] ^= 0xFF        # bob's wrapped key, damaged before signing
    obj = {"type": "rekey", "v": 1, "conversation_id": cid, "message_id": "4" * 32,
           "created_at": "2027-01-15T08:00:00.000Z", "epoch": 1,
           "participants": [["carol", keys["carol"].fingerprint_hex], ["bob", keys["bob"].fingerprint_hex]],
           "removed": ["alice"], "keys_sha256": run(messages._sha256_hex(prims, bytes(damaged))),
           "signed_by_name": "carol", "signed_by_fingerprint": keys["carol"].fingerprint_hex}
    signed = run(_payload.sign(prims, _identity(c, prims), obj))
    raw = run(messages.seal_envelope(prims, conv.key, signed, bytes([1, 4, 0, 1]) + bytes(damaged),
                                     inband.MAX_POST_CHARS))
    pid = topic.add(raw, c)
    got = topic.read(b, pid)[pid]
    assert got["status"] == "invalid_signature" and got["rekey"] is None
    view = _open(b, topic, a)
    assert view["removed_me"] is None and view["epoch"] == 0


def _identity(u, prims):
    from tests.engine_support import run
    return run(u.engine.require_unlocked())

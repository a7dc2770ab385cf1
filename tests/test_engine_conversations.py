"""pycore.engine's conversation handlers on CPython through the real Engine (MemoryStore, injected clock): key
publishing and pinning (first use, verified, KEY CHANGED, signed changes), conversations across
three engines (one per user), replies, key shares, duplicates, the inbox list, encrypted drafts,
backups, what the router refuses the content script, and that the store never holds plaintext."""
import json

import pytest

from pycore import engine as E
from pycore import inband
from pycore.plugin import identity
from tests.engine_support import Clock, EngineReplies, run

PASS = "a long enough passphrase 1"
FAST_KDF = 1000
ORIGIN = "https://forum.example"
T0 = 1_800_000_000.0   # the engines' (injected, fixed) clock


class User(EngineReplies):
    """One user's extension: an engine with the identity imported and unlocked."""

    def __init__(self, prims, name, private_text=None):
        self.name = name
        self.prims = prims
        self.store = E.MemoryStore()
        self.engine = E.Engine(prims, self.store, Clock(T0), kdf_iterations=FAST_KDF)
        self.bio = f"Hi, I am {name}."
        if private_text is not None:
            self.ok("identity.import", {"text": private_text, "new_passphrase": PASS})
            self.bio = self.ok("keys.publish", {"bio_raw": self.bio})["bio_raw"]

    def clone(self) -> "User":
        """The same extension state in a fresh engine (tests stay independent without
        re-importing RSA keys, which is slow)."""
        twin = User.__new__(User)
        twin.name, twin.prims, twin.bio = self.name, self.prims, self.bio
        twin.store = E.MemoryStore()
        twin.store.data = dict(self.store.data)  # JSON values are stored as immutable strings
        twin.engine = E.Engine(self.prims, twin.store, Clock(T0), kdf_iterations=FAST_KDF)
        return twin

    def context(self, sender):
        return {"sender": sender, "marker": "m1"}

    def clock_advance(self, seconds):
        self.engine.clock.advance(seconds)

    def ref(self):
        return {"username": self.name, "bio_raw": self.bio}

    def stored_text(self) -> str:
        return json.dumps({k: v for k, v in self.store.data.items() if isinstance(v, str)}, ensure_ascii=False)


@pytest.fixture(scope="module")
def texts(prims, vector_identities, fresh_identity):
    async def export():
        return [await identity.export_private(prims, i) for i in
                (vector_identities[0], vector_identities[1], fresh_identity)]
    return run(export())


@pytest.fixture(scope="module")
def base_users(prims, texts):
    return {n: User(prims, n, t) for n, t in zip(("alice", "bob", "carol"), texts)}


@pytest.fixture
def users(base_users):
    return {n: u.clone() for n, u in base_users.items()}


def check(u, other, **extra):
    return u.ok("keys.check", {"origin": ORIGIN, "username": other.name, "bio_raw": other.bio, **extra})


# ------------------------------------------------------------------------------ keys
def test_publish_keeps_the_users_text(users, prims):
    a = users["alice"]
    assert a.bio.startswith("Hi, I am alice.\n\n```text\n" + inband.KEY_BEGIN)
    again = a.ok("keys.publish", {"bio_raw": a.bio})
    assert again["bio_raw"] == a.bio and again["changed"] is False
    assert again["fingerprint"] == a.ok("identity.public")["fingerprint"]
    assert run(inband.find_bio_block(prims, a.bio)).fingerprint_hex == again["fingerprint"]
    too_long = a.err("keys.publish", {"bio_raw": "x" * 2500})
    assert too_long["code"] == "bio_too_long" and too_long["excess"] > 0


def test_first_use_pinning_and_verification(users):
    a, b = users["alice"], users["bob"]
    first = check(b, a)
    assert (first["status"], first["can_send"], first["verified"]) == ("first_seen", True, False)
    assert check(b, a)["status"] == "first_seen"
    # the content script cannot mark keys verified
    assert b.err("keys.mark_verified", {"origin": ORIGIN, "username": "alice", "fingerprint": first["fingerprint"]},
                 sender="content", router_rejects=True)["code"] == "rejected"
    assert b.err("keys.mark_verified", {"origin": ORIGIN, "username": "alice", "fingerprint": "0" * 64})["code"] \
        == "bad_request"
    assert b.ok("keys.mark_verified", {"origin": ORIGIN, "username": "alice",
                                       "fingerprint": first["fingerprint"]})["status"] == "verified"
    assert check(b, a)["status"] == "verified"
    # pins are per forum origin
    assert b.ok("keys.check", {"origin": "https://other.example", "username": "alice", "bio_raw": a.bio})["status"] \
        == "first_seen"
    # safety codes agree on both sides
    check(a, b)
    code_b = b.ok("keys.safety_code", {"origin": ORIGIN, "username": "alice"})
    code_a = a.ok("keys.safety_code", {"origin": ORIGIN, "username": "bob"})
    assert code_a["safety_code"] == code_b["safety_code"] and code_a["qr"] == code_b["qr"]
    assert len(code_a["safety_code"].split()) == 12 and code_b["verified"] is True and code_a["verified"] is False
    assert code_b["their_digits"] == code_a["my_digits"]


def test_no_key_and_damaged_key(users):
    b = users["bob"]
    r = b.ok("keys.check", {"origin": ORIGIN, "username": "dave", "bio_raw": "no key here"})
    assert (r["status"], r["can_send"]) == ("no_key", False) and "dave" in r["message"]
    damaged = users["alice"].bio.replace("Fingerprint: ", "Fingerprint: 1")
    r = b.ok("keys.check", {"origin": ORIGIN, "username": "alice", "bio_raw": damaged})
    assert r["status"] == "bad_key" and not r["can_send"]


def test_unsigned_key_change_blocks_sending_until_acknowledged(users, prims):
    a, b, c = users["alice"], users["bob"], users["carol"]
    fp_old = check(b, a)["fingerprint"]
    b.ok("keys.mark_verified", {"origin": ORIGIN, "username": "alice", "fingerprint": fp_old})
    a.bio = "Hi, I am alice.\n\n" + c.bio.split("\n\n", 1)[1]  # the server shows carol's key as alice's
    r = check(b, a)
    assert (r["status"], r["can_send"], r["change_signed"], r["pinned_fingerprint"]) == \
        ("key_changed", False, False, fp_old)
    e = b.err("conv.start", {"origin": ORIGIN, "me": "bob", "recipients": [a.ref()], "title": "t", "body": "b"})
    assert e["code"] == "key_change_unacknowledged" and e["username"] == "alice"
    assert b.err("keys.acknowledge", {"origin": ORIGIN, "username": "alice", "fingerprint": r["fingerprint"]},
                 sender="content", router_rejects=True)["code"] == "rejected"
    ack = b.ok("keys.acknowledge", {"origin": ORIGIN, "username": "alice", "fingerprint": r["fingerprint"]})
    assert ack["status"] == "first_seen"  # an unsigned change loses the verified mark
    assert check(b, a)["status"] == "first_seen"
    assert b.ok("conv.start", {"origin": ORIGIN, "me": "bob", "recipients": [a.ref()], "title": "t", "body": "b"})


def test_signed_key_change_keeps_verification(users, prims, vector_identities):
    a, b, c = users["alice"], users["bob"], users["carol"]
    fp_old = check(b, a)["fingerprint"]
    b.ok("keys.mark_verified", {"origin": ORIGIN, "username": "alice", "fingerprint": fp_old})
    # alice moves to a new key (bob's key pair stands in for it) and signs the change with her old one
    new_ident = run(identity.import_identity(prims, run(identity.export_private(prims, vector_identities[1]))))
    block = run(inband.make_bio_block(prims, new_ident, previous=vector_identities[0]))
    a.bio = inband.put_bio_block(a.bio, block)
    r = check(b, a)
    assert (r["status"], r["change_signed"], r["can_send"]) == ("key_changed", True, False)
    ack = b.ok("keys.acknowledge", {"origin": ORIGIN, "username": "alice", "fingerprint": r["fingerprint"]})
    assert ack["status"] == "verified"


def test_a_pending_key_change_verifies_nothing(users):
    """Forge, then restore: the server shows bob a forged key in alice's bio once (bob's engine
    records a pending change), posts a message "from alice" signed with the forged key, and
    serves the real bio again. The forged post never reads as alice's, neither while the change
    waits for bob's decision nor after the real key is back."""
    a, b, c = users["alice"], users["bob"], users["carol"]
    fp = check(b, a)["fingerprint"]
    b.ok("keys.mark_verified", {"origin": ORIGIN, "username": "alice", "fingerprint": fp})
    forged_bio = "Hi, I am alice.\n\n" + c.bio.split("\n\n", 1)[1]     # carol's key stands in for the server's
    assert b.ok("keys.check", {"origin": ORIGIN, "username": "alice", "bio_raw": forged_bio})["status"] == "key_changed"
    check(c, b)
    forged = c.ok("conv.start", {"origin": ORIGIN, "me": "alice", "recipients": [b.ref()], "title": "Urgent",
                                 "body": "Send me your password"})
    opened = b.ok("conv.open", {"origin": ORIGIN, "topic_id": 60, "raw": forged["raw"], "me": "bob", "author": a.ref()})
    assert opened["status"] == "key_not_accepted" and opened["body"] is None and opened["title"] is None
    # the real bio again: the pending change is gone, and the forged post is simply not alice's
    assert check(b, a)["status"] == "verified"
    again = b.ok("conv.open", {"origin": ORIGIN, "topic_id": 60, "raw": forged["raw"], "me": "bob", "author": a.ref()})
    assert again["status"] == "wrong_author" and again["body"] is None
    # and alice's own messages still verify
    real = _start(a, b, body="the real alice")
    assert b.ok("conv.open", {"origin": ORIGIN, "topic_id": 61, "raw": real["raw"], "me": "bob",
                              "author": a.ref()})["body"] == "the real alice"


def test_keys_exchanged_by_pm_when_bios_are_read_only(users):
    """A forum that ignores bio edits (DiscourseConnect): alice's key reaches bob in a key-exchange
    PM; bob pins it like a bio key and can write to her; a different key later is a KEY CHANGE."""
    a, b, c = users["alice"], users["bob"], users["carol"]
    sso_bio = "Hi, I am alice."                       # what the forum keeps showing
    announced = a.ok("keys.announce")
    assert announced["title"] == inband.KEY_EXCHANGE_TITLE and inband.KEY_BEGIN in announced["raw"]
    assert b.ok("keys.check", {"origin": ORIGIN, "username": "alice", "bio_raw": sso_bio})["status"] == "no_key"
    got = b.ok("keys.receive", {"origin": ORIGIN, "username": "alice", "raw": announced["raw"]})
    assert (got["status"], got["source"], got["fingerprint"]) == ("first_seen", "pm", announced["fingerprint"])
    again = b.ok("keys.check", {"origin": ORIGIN, "username": "alice", "bio_raw": sso_bio})
    assert (again["status"], again["can_send"], again["source"]) == ("first_seen", True, "pm")
    started = b.ok("conv.start", {"origin": ORIGIN, "me": "bob", "recipients": [{"username": "alice", "bio_raw": sso_bio}],
                                  "title": "By PM", "body": "keys by PM work"})
    assert a.ok("conv.open", {"origin": ORIGIN, "topic_id": 80, "raw": started["raw"], "me": "alice",
                              "author": b.ref()})["body"] == "keys by PM work"
    # the server posts another key "by alice" in a key-exchange PM: a KEY CHANGE, sending stops
    forged = c.ok("keys.announce")
    changed = b.ok("keys.receive", {"origin": ORIGIN, "username": "alice", "raw": forged["raw"]})
    assert (changed["status"], changed["can_send"], changed["change_signed"]) == ("key_changed", False, False)
    e = b.err("conv.start", {"origin": ORIGIN, "me": "bob", "recipients": [{"username": "alice", "bio_raw": sso_bio}],
                             "title": "t", "body": "b"})
    assert e["code"] == "key_change_unacknowledged"


def test_replacing_the_key_publishes_a_change_signed_by_the_old_key(users, prims):
    """carol replaces her identity on her device: the next published block announces the change,
    signed by her old key, so bob (who pinned the old key) sees a signed change; conversations
    opened before, and first posts wrapped to the old key, stay readable on carol's device."""
    c, b = users["carol"], users["bob"]
    fp_old = check(b, c)["fingerprint"]
    before = _start(b, c, title="Before the new key", body="old key")
    assert c.ok("conv.open", {"origin": ORIGIN, "topic_id": 41, "raw": before["raw"], "me": "carol",
                              "author": b.ref()})["status"] == "valid"
    unopened = _start(b, c, title="Never opened before", body="still old key")
    assert c.err("identity.replace", {"passphrase": "wrong wrong wrong", "confirm": "REPLACE"})["code"] == "wrong_passphrase"
    c.clock_advance(10)
    assert c.call("identity.replace", {"passphrase": PASS, "confirm": "yes"}, router_rejects=True)["ok"] is False
    out = c.ok("identity.replace", {"passphrase": PASS, "confirm": "REPLACE"})
    assert out["previous_fingerprint"] == fp_old and out["fingerprint"] != fp_old and out["unlocked"] is True
    assert c.ok("identity.public")["fingerprint"] == out["fingerprint"]
    published = c.ok("keys.publish", {"bio_raw": c.bio})
    assert published["key_change"] == fp_old and published["fingerprint"] == out["fingerprint"]
    assert published["bio_raw"].startswith("Hi, I am carol.\n\n```text\n") and published["bio_raw"].count(inband.KEY_BEGIN) == 1
    c.bio = published["bio_raw"]
    r = check(b, c)
    assert (r["status"], r["change_signed"], r["fingerprint"]) == ("key_changed", True, out["fingerprint"])
    # what carol's device knew stays readable: the stored conversation, and a first post wrapped to her old key
    reopened = c.ok("conv.open", {"origin": ORIGIN, "topic_id": 41, "raw": before["raw"], "me": "carol",
                                  "author": b.ref()})
    assert (reopened["status"], reopened["body"]) == ("valid", "old key")
    late = c.ok("conv.open", {"origin": ORIGIN, "topic_id": 42, "raw": unopened["raw"], "me": "carol",
                              "author": b.ref()})
    assert (late["status"], late["body"]) == ("valid", "still old key")
    # and carol's new key reaches bob once he accepts the signed change
    b.ok("keys.acknowledge", {"origin": ORIGIN, "username": "carol", "fingerprint": out["fingerprint"]})
    after = _start(b, c, title="After", body="new key")
    assert c.ok("conv.open", {"origin": ORIGIN, "topic_id": 43, "raw": after["raw"], "me": "carol",
                              "author": b.ref()})["body"] == "new key"
    # the old identity is kept sealed: nothing of it is readable at rest
    assert "Before the new key" not in c.stored_text()


def test_a_post_wrapped_to_a_key_this_device_lacks_names_that_key(users, prims, vector_identities, fresh_identity):
    """After a reset and a new key, a first post for the key my profile publishes (or for the one
    its signed key change replaced) is named by that key's fingerprint, so the viewer can say
    which key to restore."""
    a, b, other_device = users["alice"], users["bob"], users["carol"]   # carol's engine holds another key
    to_alice = _start(b, a, body="for alice's key")
    alice_digits = a.ok("identity.public")["digits"]
    assert other_device.err("conv.open", {"origin": ORIGIN, "topic_id": 50, "raw": to_alice["raw"], "me": "alice",
                                          "author": b.ref()})["code"] == "not_a_participant"
    named = other_device.ok("conv.missing_key", {"raw": to_alice["raw"], "bio_raw": a.bio})
    assert named == {"known": True, "where": "published", "digits": alice_digits}
    # the profile publishes this device's key now, with a change signed by the key the post is for
    changed = run(inband.make_bio_block(prims, fresh_identity, previous=vector_identities[0]))
    assert other_device.ok("conv.missing_key", {"raw": to_alice["raw"], "bio_raw": changed}) == \
        {"known": True, "where": "previous", "digits": alice_digits}
    # a post not wrapped to the published key, or no key in the profile: nothing to name
    to_carol = _start(b, other_device, body="not for alice")
    assert other_device.ok("conv.missing_key", {"raw": to_carol["raw"], "bio_raw": a.bio}) == {"known": False}
    assert other_device.ok("conv.missing_key", {"raw": to_alice["raw"], "bio_raw": "Hi"}) == {"known": False}
    # the device's own key is never the missing one
    assert a.ok("conv.missing_key", {"raw": to_alice["raw"], "bio_raw": a.bio}) == {"known": False}
    assert other_device.err("conv.missing_key", {"raw": "plain text", "bio_raw": a.bio})["code"] == "malformed_input"
    assert other_device.err("conv.missing_key", {"raw": to_alice["raw"], "bio_raw": a.bio}, sender="content",
                            router_rejects=True)["code"] == "rejected"


# ------------------------------------------------------------------------------ conversations
def _start(a, b, title="Dinner plans ☃", body="Saturday at 8?"):
    out = a.ok("conv.start", {"origin": ORIGIN, "me": a.name, "recipients": [b.ref()], "title": title, "body": body})
    assert out["title"] == inband.PLACEHOLDER_TITLE and out["target_recipients"] == b.name
    assert title not in out["raw"] and body not in out["raw"]
    return out


def test_conversation_round_trip(users):
    a, b = users["alice"], users["bob"]
    started = _start(a, b)
    opened = b.ok("conv.open", {"origin": ORIGIN, "topic_id": 7, "raw": started["raw"], "me": "bob",
                                "author": a.ref()})
    assert (opened["status"], opened["title"], opened["body"], opened["author"]) == \
        ("valid", "Dinner plans ☃", "Saturday at 8?", "alice")
    assert opened["conversation_id"] == started["conversation_id"]
    assert [p[0] for p in opened["participants"]] == ["alice", "bob"]
    reply = b.ok("conv.reply", {"origin": ORIGIN, "topic_id": 7, "conversation_id": started["conversation_id"], "me": "bob", "body": "Yes!"})["raw"]
    assert inband.is_encrypted_raw(reply) and "Yes!" not in reply
    assert a.ok("conv.open", {"origin": ORIGIN, "topic_id": 7, "raw": started["raw"], "me": "alice",
                              "author": a.ref()})["status"] == "valid"
    posts = a.ok("conv.read", {"origin": ORIGIN, "topic_id": 7, "posts": [
        {"post_id": 11, "raw": reply, "username": "bob", "bio_raw": b.bio},
        {"post_id": 12, "raw": reply, "username": "bob"},  # the server duplicated the post
        {"post_id": 13, "raw": reply, "username": "alice"},  # shown under another author
        {"post_id": 14, "raw": "plain text", "username": "bob"},
    ]})["posts"]
    assert [(p["post_id"], p["status"]) for p in posts] == \
        [(11, "valid"), (12, "duplicate"), (13, "wrong_author"), (14, "malformed")]
    assert posts[0]["body"] == "Yes!" and posts[0]["author"] == "bob" and posts[0]["kind"] == "reply"
    assert all(p["body"] is None for p in posts[1:])
    # re-reading the same post is not a duplicate of itself
    again = a.ok("conv.read", {"origin": ORIGIN, "topic_id": 7, "posts": [{"post_id": 11, "raw": reply,
                                                                         "username": "bob"}]})["posts"]
    assert again[0]["status"] == "valid"
    inbox = b.ok("conv.list", {"origin": ORIGIN}, sender="page:inbox")["conversations"]
    assert [(c["topic_id"], c["title"], c["author"]) for c in inbox] == [(7, "Dinner plans ☃", "alice")]
    # nothing readable at rest
    for u in (a, b):
        stored = u.stored_text()
        for secret in ("Dinner plans", "Saturday at 8", "Yes!"):
            assert secret not in stored


def test_an_edit_is_a_new_signed_version_with_its_history(users):
    """Editing my reply (or my first post) keeps the message's identity and carries the earlier
    versions inside the new signature; someone else's post, or a post of another conversation
    that the forum slips in as "my" current raw, is refused before anything is signed."""
    a, b = users["alice"], users["bob"]
    started = _start(a, b)
    cid = started["conversation_id"]
    for u in (a, b):
        u.ok("conv.open", {"origin": ORIGIN, "topic_id": 7, "raw": started["raw"], "me": u.name, "author": a.ref()})
    first = b.ok("conv.reply", {"origin": ORIGIN, "topic_id": 7, "conversation_id": cid, "me": "bob", "body": "Yes!"})["raw"]

    def read(raw, username="bob", post_id=11):
        return a.ok("conv.read", {"origin": ORIGIN, "topic_id": 7, "posts": [
            {"post_id": post_id, "raw": raw, "username": username, "bio_raw": users[username].bio}]})["posts"][0]
    original = read(first)
    assert original["edited_at"] is None and original["history"] == []
    b.clock_advance(60)
    second = b.ok("conv.edit", {"origin": ORIGIN, "topic_id": 7, "conversation_id": cid, "me": "bob",
                                "raw": first, "body": "Yes! At 8:30?"})["raw"]
    assert inband.is_encrypted_raw(second) and "8:30" not in second
    b.clock_advance(60)
    third = b.ok("conv.edit", {"origin": ORIGIN, "topic_id": 7, "conversation_id": cid, "me": "bob",
                               "raw": second, "body": "Yes! At 9?"})["raw"]
    post = read(third)
    assert (post["status"], post["body"], post["created_at"]) == ("valid", "Yes! At 9?", original["created_at"])
    assert post["edited_at"] > post["created_at"]
    assert [h["raw"] for h in post["history"]] == ["Yes!", "Yes! At 8:30?"]
    assert post["history"][0]["at"] == original["created_at"] and post["history_omitted"] == 0
    # the same message: a later version in another post is a duplicate of the first one
    assert read(third, post_id=12)["status"] == "duplicate"

    # not mine: alice cannot re-sign bob's words; nor another conversation's post
    e = a.err("conv.edit", {"origin": ORIGIN, "topic_id": 7, "conversation_id": cid, "me": "alice",
                            "raw": third, "body": "forged"})
    assert e["code"] == "not_your_post"
    other = _start(a, b, title="other")
    a.ok("conv.open", {"origin": ORIGIN, "topic_id": 8, "raw": other["raw"], "me": "alice", "author": a.ref()})
    mine_elsewhere = a.ok("conv.reply", {"origin": ORIGIN, "topic_id": 8, "conversation_id": other["conversation_id"],
                                         "me": "alice", "body": "elsewhere"})["raw"]
    e = a.err("conv.edit", {"origin": ORIGIN, "topic_id": 7, "conversation_id": cid, "me": "alice",
                            "raw": mine_elsewhere, "body": "moved"})
    assert e["code"] == "authentication_failed"

    # the first post: same conversation, wrapped keys and title; bob still opens it
    edited_start = a.ok("conv.edit", {"origin": ORIGIN, "topic_id": 7, "conversation_id": cid, "me": "alice",
                                      "raw": started["raw"], "body": "Saturday at 9?"})["raw"]
    reopened = b.ok("conv.open", {"origin": ORIGIN, "topic_id": 7, "raw": edited_start, "me": "bob", "author": a.ref()})
    assert (reopened["status"], reopened["conversation_id"], reopened["title"], reopened["body"]) == \
        ("valid", cid, "Dinner plans ☃", "Saturday at 9?")
    assert [h["raw"] for h in reopened["history"]] == ["Saturday at 8?"] and reopened["edited_at"]
    for secret in ("8:30", "At 9?", "Saturday at 9"):
        assert secret not in a.stored_text() and secret not in b.stored_text()


def test_an_edit_leaves_out_the_oldest_versions_when_the_post_would_not_fit(users):
    a, b = users["alice"], users["bob"]
    started = _start(a, b)
    cid = started["conversation_id"]
    a.ok("conv.open", {"origin": ORIGIN, "topic_id": 7, "raw": started["raw"], "me": "alice", "author": a.ref()})
    raw = a.ok("conv.reply", {"origin": ORIGIN, "topic_id": 7, "conversation_id": cid, "me": "alice",
                              "body": "v0 " + "x" * 1500, "max_chars": 5000})["raw"]
    for i in range(1, 4):
        raw = a.ok("conv.edit", {"origin": ORIGIN, "topic_id": 7, "conversation_id": cid, "me": "alice", "raw": raw,
                                 "body": f"v{i} " + "x" * 1500, "max_chars": 5000})["raw"]
        assert len(raw) <= 5000
    post = a.ok("conv.read", {"origin": ORIGIN, "topic_id": 7, "posts": [
        {"post_id": 3, "raw": raw, "username": "alice", "bio_raw": a.bio}]})["posts"][0]
    assert post["status"] == "valid" and post["body"].startswith("v3 ")
    assert post["history_omitted"] >= 1
    assert [h["raw"][:2] for h in post["history"]] == [f"v{i}" for i in range(post["history_omitted"], 3)]
    e = a.err("conv.edit", {"origin": ORIGIN, "topic_id": 7, "conversation_id": cid, "me": "alice", "raw": raw,
                            "body": "x" * 6000, "max_chars": 5000})
    assert e["code"] == "message_too_large"


def test_the_content_script_gets_no_plaintext(users):
    a, b = users["alice"], users["bob"]
    started = _start(a, b)
    for type, payload in [
        ("conv.open", {"origin": ORIGIN, "topic_id": 1, "raw": started["raw"], "me": "bob", "author": a.ref()}),
        ("conv.read", {"origin": ORIGIN, "topic_id": 1, "posts": []}),
        ("conv.start", {"origin": ORIGIN, "me": "bob", "recipients": [a.ref()], "title": "t", "body": "b"}),
        ("conv.reply", {"origin": ORIGIN, "topic_id": 1, "conversation_id": started["conversation_id"], "me": "bob", "body": "b"}),
        ("conv.list", {"origin": ORIGIN}),
        ("drafts.load", {"origin": ORIGIN, "draft_key": "new"}),
        ("backup.make", {"passphrase": PASS, "paper_key": True}),
    ]:
        assert b.err(type, payload, sender="content", router_rejects=True)["code"] == "rejected", type


def test_recipient_without_key_is_named(users):
    a = users["alice"]
    e = a.err("conv.start", {"origin": ORIGIN, "me": "alice", "title": "t", "body": "b",
                             "recipients": [users["bob"].ref(), {"username": "dave", "bio_raw": "just text"}]})
    assert e["code"] == "recipient_without_key" and e["username"] == "dave" and "dave" in e["message"]


def test_message_too_large(users):
    a, b = users["alice"], users["bob"]
    e = a.err("conv.start", {"origin": ORIGIN, "me": "alice", "recipients": [b.ref()], "title": "t",
                             "body": "x" * 40000})
    assert e["code"] == "message_too_large" and e["excess"] > 0
    e = a.err("conv.start", {"origin": ORIGIN, "me": "alice", "recipients": [b.ref()], "title": "t",
                             "body": "x" * 4000, "max_chars": 3000})
    assert e["code"] == "message_too_large"
    # replies and key shares obey the forum's limit too (a key share takes about 1900 characters)
    started = _start(a, b)
    a.ok("conv.open", {"origin": ORIGIN, "topic_id": 8, "raw": started["raw"], "me": "alice", "author": a.ref()})
    e = a.err("conv.reply", {"origin": ORIGIN, "topic_id": 8, "conversation_id": started["conversation_id"], "me": "alice", "body": "x" * 2500, "max_chars": 2000})
    assert e["code"] == "message_too_large" and e["excess"] > 500
    fits = a.ok("conv.reply", {"origin": ORIGIN, "topic_id": 8, "conversation_id": started["conversation_id"], "me": "alice", "body": "x" * 500, "max_chars": 2000})
    assert len(fits["raw"]) <= 2000
    c = users["carol"]
    check(a, c)
    e = a.err("conv.share_key", {"origin": ORIGIN, "topic_id": 8, "conversation_id": started["conversation_id"], "me": "alice", "invitee": c.ref(), "max_chars": 1000})
    assert e["code"] == "message_too_large"
    assert len(a.ok("conv.share_key", {"origin": ORIGIN, "topic_id": 8, "conversation_id": started["conversation_id"], "me": "alice", "invitee": c.ref(),
                                       "max_chars": 4000})["raw"]) <= 4000


def test_a_reply_goes_only_to_the_conversation_shown(users):
    """The composer names the conversation it shows; a topic id the page swapped underneath makes
    the engine refuse to encrypt, instead of encrypting to the other conversation's key."""
    a, b = users["alice"], users["bob"]
    shown, other = _start(a, b, title="shown"), _start(a, b, title="other")
    for topic_id, started in ((70, shown), (71, other)):
        b.ok("conv.open", {"origin": ORIGIN, "topic_id": topic_id, "raw": started["raw"], "me": "bob", "author": a.ref()})
    e = b.err("conv.reply", {"origin": ORIGIN, "topic_id": 71, "conversation_id": shown["conversation_id"],
                             "me": "bob", "body": "meant for 'shown'"})
    assert e["code"] == "conversation_changed"
    assert b.ok("conv.reply", {"origin": ORIGIN, "topic_id": 70, "conversation_id": shown["conversation_id"],
                               "me": "bob", "body": "meant for 'shown'"})["raw"]
    read = b.ok("conv.read", {"origin": ORIGIN, "topic_id": 70, "posts": []})
    assert read["conversation"] == {"id": shown["conversation_id"], "title": "shown"}


def test_reply_before_open_is_refused(users):
    assert users["bob"].err("conv.reply", {"origin": ORIGIN, "topic_id": 99, "conversation_id": "0" * 32, "me": "bob", "body": "x"})["code"] \
        == "conversation_unknown"


def test_invite_with_key_share(users):
    a, b, c = users["alice"], users["bob"], users["carol"]
    started = _start(a, b)
    b.ok("conv.open", {"origin": ORIGIN, "topic_id": 5, "raw": started["raw"], "me": "bob", "author": a.ref()})
    share = b.ok("conv.share_key", {"origin": ORIGIN, "topic_id": 5, "conversation_id": started["conversation_id"], "me": "bob", "invitee": c.ref()})
    assert share["invite"] == {"user": "carol"}
    # carol cannot open the conversation before accepting the share
    assert c.err("conv.open", {"origin": ORIGIN, "topic_id": 5, "raw": started["raw"], "me": "carol",
                               "author": a.ref()})["code"] == "not_a_participant"
    acc = c.ok("conv.accept_share", {"origin": ORIGIN, "topic_id": 5, "raw": share["raw"], "me": "carol",
                                     "poster": b.ref()})
    assert acc["status"] == "valid" and acc["conversation_id"] == started["conversation_id"]
    opened = c.ok("conv.open", {"origin": ORIGIN, "topic_id": 5, "raw": started["raw"], "me": "carol",
                                "author": a.ref()})
    assert opened["status"] == "valid" and opened["title"] == "Dinner plans ☃"
    reply = c.ok("conv.reply", {"origin": ORIGIN, "topic_id": 5, "conversation_id": started["conversation_id"], "me": "carol", "body": "Count me in"})["raw"]
    # alice sees who added whom, and carol's reply
    a.ok("conv.open", {"origin": ORIGIN, "topic_id": 5, "raw": started["raw"], "me": "alice", "author": a.ref()})
    before = a.ok("conv.open", {"origin": ORIGIN, "topic_id": 5, "raw": started["raw"], "me": "alice",
                                "author": a.ref(), "allowed_users": ["alice", "bob", "Carol", "mallory"]})
    assert before["without_key"] == ["Carol", "mallory"] and before["invited"] == []
    posts = a.ok("conv.read", {"origin": ORIGIN, "topic_id": 5, "posts": [
        {"post_id": 2, "raw": share["raw"], "username": "bob", "bio_raw": b.bio},
        {"post_id": 3, "raw": reply, "username": "carol", "bio_raw": c.bio,
         "created_at": "2027-01-15T08:00:05.000Z"}]})["posts"]
    assert (posts[0]["kind"], posts[0]["status"], posts[0]["invitee"], posts[0]["author"]) == \
        ("key_share", "valid", "carol", "bob")
    assert (posts[1]["status"], posts[1]["body"]) == ("valid", "Count me in")
    assert posts[1]["created_at"] == inband.iso_time(1_800_000_000.0)  # carol's (injected) clock, signed
    assert posts[1]["time_skew_seconds"] == 5 and posts[0]["time_skew_seconds"] is None
    # after the key share, mallory (added by the server, say) is the only one without a key
    after = a.ok("conv.open", {"origin": ORIGIN, "topic_id": 5, "raw": started["raw"], "me": "alice",
                               "author": a.ref(), "allowed_users": ["alice", "bob", "Carol", "mallory"]})
    assert after["without_key"] == ["mallory"] and after["invited"] == ["carol"]
    assert a.ok("conv.list", {"origin": ORIGIN})["conversations"][0]["invited"] == ["carol"]
    # a key share posted under someone else's name is not accepted
    bad = c.ok("conv.accept_share", {"origin": ORIGIN, "topic_id": 6, "raw": share["raw"], "me": "carol",
                                     "poster": a.ref()})
    assert bad["status"] == "wrong_author" and bad["conversation_id"] is None


def test_a_key_share_for_another_topic_does_not_lock_me_out(users):
    a, b, c = users["alice"], users["bob"], users["carol"]
    one, two = _start(a, b, title="one"), _start(a, c, title="two")  # carol is a participant of "two"
    b.ok("conv.open", {"origin": ORIGIN, "topic_id": 40, "raw": one["raw"], "me": "bob", "author": a.ref()})
    share = b.ok("conv.share_key", {"origin": ORIGIN, "topic_id": 40, "conversation_id": one["conversation_id"], "me": "bob", "invitee": c.ref()})["raw"]
    # the page makes carol's extension accept conversation "one"'s share for topic 41 ("two")
    acc = c.ok("conv.accept_share", {"origin": ORIGIN, "topic_id": 41, "raw": share, "me": "carol",
                                     "poster": b.ref()})
    assert acc["status"] == "valid"
    opened = c.ok("conv.open", {"origin": ORIGIN, "topic_id": 41, "raw": two["raw"], "me": "carol", "author": a.ref()})
    assert (opened["status"], opened["title"]) == ("valid", "two")
    # once a topic holds a conversation, a share for another one is refused
    again = c.ok("conv.accept_share", {"origin": ORIGIN, "topic_id": 41, "raw": share, "me": "carol",
                                       "poster": b.ref()})
    assert (again["status"], again["conversation_id"]) == ("wrong_conversation", None)


def test_copied_first_post_is_flagged(users):
    a, b = users["alice"], users["bob"]
    started = _start(a, b)
    first = b.ok("conv.open", {"origin": ORIGIN, "topic_id": 20, "raw": started["raw"], "me": "bob", "author": a.ref()})
    assert "copied_from_topic" not in first
    copy = b.ok("conv.open", {"origin": ORIGIN, "topic_id": 21, "raw": started["raw"], "me": "bob", "author": a.ref()})
    assert copy["copied_from_topic"] == 20


# ------------------------------------------------------------------------------ drafts
def test_encrypted_drafts(users):
    a = users["alice"]
    payload = {"origin": ORIGIN, "draft_key": "topic_7", "text": "half-written secret", "title": "draft title"}
    saved = a.ok("drafts.save", payload, sender="frame:composer")
    assert saved["saved"] is True
    assert "half-written secret" not in a.stored_text() and "draft title" not in a.stored_text()
    loaded = a.ok("drafts.load", {"origin": ORIGIN, "draft_key": "topic_7"}, sender="frame:composer")
    assert (loaded["found"], loaded["text"], loaded["title"]) == (True, "half-written secret", "draft title")
    # locked: no draft can be read; after unlocking again it is still there
    a.ok("identity.lock")
    assert a.err("drafts.load", {"origin": ORIGIN, "draft_key": "topic_7"})["code"] == "locked"
    a.ok("identity.unlock", {"passphrase": PASS})
    assert a.ok("drafts.load", {"origin": ORIGIN, "draft_key": "topic_7"})["text"] == "half-written secret"
    assert a.ok("drafts.delete", {"origin": ORIGIN, "draft_key": "topic_7"})["deleted"] is True
    assert a.ok("drafts.load", {"origin": ORIGIN, "draft_key": "topic_7"})["found"] is False
    assert a.ok("drafts.delete", {"origin": ORIGIN, "draft_key": "topic_7"})["deleted"] is False
    assert a.refused("drafts.save", {"origin": ORIGIN, "draft_key": "../x", "text": "t"})["code"] == "bad_request"
    assert a.refused("drafts.save", {"origin": "javascript:x", "draft_key": "k", "text": "t"})["code"] == "bad_request"


def test_conversation_keys_survive_lock_and_unlock(users):
    a, b = users["alice"], users["bob"]
    started = _start(a, b)
    b.ok("conv.open", {"origin": ORIGIN, "topic_id": 30, "raw": started["raw"], "me": "bob", "author": a.ref()})
    b.ok("identity.lock")
    assert b.err("conv.reply", {"origin": ORIGIN, "topic_id": 30, "conversation_id": started["conversation_id"], "me": "bob", "body": "x"})["code"] == "locked"
    b.ok("identity.unlock", {"passphrase": PASS})
    assert b.ok("conv.reply", {"origin": ORIGIN, "topic_id": 30, "conversation_id": started["conversation_id"], "me": "bob", "body": "x"})["raw"]


# ------------------------------------------------------------------------------ backup
def test_backup_make_and_restore_on_a_new_device(users, prims):
    a = users["alice"]
    made = a.ok("backup.make", {"passphrase": PASS, "paper_key": True, "backup_passphrase": "another long passphrase"},
                sender="page:options")
    assert made["title"] == inband.BACKUP_TITLE and inband.is_backup_raw(made["raw"])
    assert made["info"] == {"slots": ["passphrase", "paper_key"], "iterations": [FAST_KDF, FAST_KDF]}
    assert len(made["paper_key"].split()) == 12
    assert a.ok("backup.inspect", {"raw": made["raw"]}) == made["info"]
    assert a.err("backup.make", {"passphrase": "wrong passphrase!!", "paper_key": True})["code"] == "wrong_passphrase"
    assert a.refused("backup.make", {"passphrase": PASS})["code"] == "bad_request"
    fp = a.ok("identity.public")["fingerprint"]
    for secret in (made["paper_key"].lower(), "another long passphrase"):
        device = User(prims, "alice")
        restored = device.ok("backup.restore", {"raw": made["raw"], "secret": secret, "new_passphrase": PASS + "2"},
                             sender="page:options")
        assert restored["fingerprint"] == fp and restored["unlocked"] is True
        assert device.err("backup.restore", {"raw": made["raw"], "secret": secret, "new_passphrase": PASS})["code"] \
            == "identity_exists"
    device = User(prims, "alice")
    assert device.err("backup.restore", {"raw": made["raw"], "secret": "not it", "new_passphrase": PASS})["code"] \
        == "wrong_passphrase"


def test_backup_with_a_paper_key_only(users, prims):
    """"Protect with a new paper key" without a backup passphrase. The paper key comes
    from the engine once; a second device restores with it however it is typed (any case, any
    white space); the local passphrase is not a key to the backup; the content script can neither
    make nor restore backups."""
    a = users["alice"]
    assert a.err("backup.make", {"passphrase": PASS, "paper_key": True}, sender="content", router_rejects=True)["code"] == "rejected"
    made = a.ok("backup.make", {"passphrase": PASS, "paper_key": True}, sender="page:inbox")
    assert made["info"] == {"slots": ["paper_key"], "iterations": [FAST_KDF]}
    words = made["paper_key"].split(" ")
    assert len(words) == 12 and made["paper_key"] == made["paper_key"].upper()
    assert made["paper_key"] not in made["raw"] and words[0] not in made["raw"].split()
    again = a.ok("backup.make", {"passphrase": PASS, "paper_key": True}, sender="page:inbox")
    assert again["paper_key"] != made["paper_key"]             # a new paper key each time
    messy = "\n  " + "\t".join(w.lower() for w in words[:6]) + "  \n " + "   ".join(words[6:]).title() + " \n"
    device = User(prims, "alice")
    assert device.err("backup.restore", {"raw": made["raw"], "secret": messy, "new_passphrase": PASS},
                      sender="content", router_rejects=True)["code"] == "rejected"
    assert device.err("backup.restore", {"raw": made["raw"], "secret": PASS, "new_passphrase": PASS},
                      sender="page:inbox")["code"] == "wrong_passphrase"
    wrong_word = " ".join(words[:11] + [words[0] if words[11] != words[0] else words[1]])
    assert device.err("backup.restore", {"raw": made["raw"], "secret": wrong_word, "new_passphrase": PASS},
                      sender="page:inbox")["code"] == "wrong_passphrase"
    assert not device.call("engine.status")["result"]["has_identity"]
    restored = device.ok("backup.restore", {"raw": made["raw"], "secret": messy, "new_passphrase": PASS + "3"},
                         sender="page:inbox")
    assert restored["fingerprint"] == a.ok("identity.public")["fingerprint"] and restored["unlocked"]
    assert made["paper_key"] not in device.stored_text() and "encryptPrivate" not in device.stored_text()
    device.ok("identity.lock")
    device.ok("identity.unlock", {"passphrase": PASS + "3"})    # the new local passphrase protects it


def test_engine_public_identity_helpers(users, prims):
    """Engine.open_identity / install_identity: what the backup handlers use instead of private
    helpers. Wrong passphrases are throttled; installing over an existing identity is refused."""
    from pycore.errors import IdentityExists, Throttled, WrongPassphrase
    a = users["alice"]
    rec, inner = run(a.engine.open_identity(PASS))
    assert inner.startswith("1$") and rec["fingerprint"] == a.ok("identity.public")["fingerprint"]
    for _ in range(2):                                  # the second failure in a row imposes a wait
        with pytest.raises(WrongPassphrase):
            run(a.engine.open_identity("not the passphrase at all"))
    with pytest.raises(Throttled):
        run(a.engine.open_identity(PASS))
    ident = run(identity.import_identity(prims, inner, extractable=True))
    with pytest.raises(IdentityExists):
        run(a.engine.install_identity(ident, PASS, "test"))
    fresh = User(prims, "alice")
    fresh.call("engine.status")                         # the router's browser-session marker arrives first
    rec2 = run(fresh.engine.install_identity(ident, PASS + "4", "test"))
    assert rec2["fingerprint"] == rec["fingerprint"] and rec2["origin"] == "test"
    assert fresh.call("engine.status")["result"]["unlocked"] is True


# ------------------------------------------------------------------------------ Pyodide + WebCrypto
PYODIDE_FLOW = '''
import json
from pycore import engine as E, inband
from pycore.primitives import default_primitives
prims = default_primitives()
assert prims.name == "webcrypto", prims.name
assert inband.armour._unicodedata is not None
cases = json.load(open("/vectors/identities.json"))["cases"]
texts = [next(e["private"] for e in c["exports"] if e["passphrase"] is None) for c in cases[:2]]
PASS = "a long enough passphrase 1"
ORIGIN = "https://forum.example"
steps = []

async def call(eng, type, payload, sender="frame:viewer"):
    r = await eng.handle(type, payload, {"sender": sender, "marker": "m1"})
    assert r["ok"], (type, r)
    return r["result"]

async def user(text):
    eng = E.Engine(prims, E.MemoryStore(), lambda: 1.8e9, kdf_iterations=1000)
    await call(eng, "identity.import", {"text": text, "new_passphrase": PASS})
    bio = (await call(eng, "keys.publish", {"bio_raw": "Hi ☃"}))["bio_raw"]
    return eng, bio

a, a_bio = await user(texts[0])
b, b_bio = await user(texts[1])
steps.append("publish")
chk = await call(b, "keys.check", {"origin": ORIGIN, "username": "alice", "bio_raw": a_bio})
assert chk["status"] == "first_seen", chk
started = await call(a, "conv.start", {"origin": ORIGIN, "me": "alice", "title": "Título ☃",
                                       "body": "Hello 😀", "recipients": [{"username": "bob", "bio_raw": b_bio}]})
opened = await call(b, "conv.open", {"origin": ORIGIN, "topic_id": 3, "raw": started["raw"], "me": "bob",
                                     "author": {"username": "alice", "bio_raw": a_bio}})
assert (opened["status"], opened["title"], opened["body"]) == ("valid", "Título ☃", "Hello 😀"), opened
steps.append("conversation")
reply = (await call(b, "conv.reply", {"origin": ORIGIN, "topic_id": 3, "conversation_id": started["conversation_id"], "me": "bob", "body": "Hi"}))["raw"]
await call(a, "conv.open", {"origin": ORIGIN, "topic_id": 3, "raw": started["raw"], "me": "alice",
                            "author": {"username": "alice", "bio_raw": a_bio}})
i = reply.index("-----\\n", reply.index("BEGIN EFD MESSAGE")) + 300
bad = reply[:i] + ("A" if reply[i] != "A" else "B") + reply[i + 1:]
posts = (await call(a, "conv.read", {"origin": ORIGIN, "topic_id": 3, "posts": [
    {"post_id": 9, "raw": reply, "username": "bob", "bio_raw": b_bio},
    {"post_id": 10, "raw": bad, "username": "bob"}]}))["posts"]
assert [p["status"] for p in posts] == ["valid", "cannot_decrypt"], posts
assert posts[0]["body"] == "Hi"
steps.append("reply")
await call(a, "drafts.save", {"origin": ORIGIN, "draft_key": "k", "text": "draft ☃"})
assert (await call(a, "drafts.load", {"origin": ORIGIN, "draft_key": "k"}))["text"] == "draft ☃"
steps.append("drafts")
made = await call(a, "backup.make", {"passphrase": PASS, "paper_key": True})
c = E.Engine(prims, E.MemoryStore(), lambda: 1.8e9, kdf_iterations=1000)
restored = await call(c, "backup.restore", {"raw": made["raw"], "secret": made["paper_key"], "new_passphrase": PASS})
assert restored["fingerprint"] == chk["fingerprint"]
steps.append("backup")
print(" ".join(steps))
0
'''


def test_the_same_flow_in_pyodide_with_webcrypto(tmp_path):
    import subprocess

    from pycore.__main__ import zip_package
    from tests.conftest import REPO_DIR, shared_dir

    archive = tmp_path / "pycore.zip"
    zip_package(archive)
    proc = subprocess.run(["node", str(REPO_DIR / "tools" / "pyodide-run.mjs"), "--pyodide",
                           str(REPO_DIR / "node_modules" / "pyodide"), "--package", str(archive),
                           "--mount", f"{shared_dir() / 'vectors'}:/vectors", "--code", PYODIDE_FLOW],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.split()[-5:] == ["publish", "conversation", "reply", "drafts", "backup"]


# ------------------------------------------------------------------------------ robustness
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_JSONISH = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=20),
                        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                        max_leaves=6)


def _field_values(base):
    bio = base["alice"].bio
    user_ref = st.fixed_dictionaries({"username": st.sampled_from(["alice", "bob", "x y"]),
                                      "bio_raw": st.sampled_from([bio, "plain", None])})
    return {
        "origin": st.sampled_from([ORIGIN, "ftp://x", ""]) | _JSONISH,
        "username": st.sampled_from(["alice", "bob", "no,comma"]) | _JSONISH,
        "me": st.sampled_from(["alice", "bob"]) | _JSONISH,
        "bio_raw": st.sampled_from([bio, bio[:600], "x" * 2990]) | _JSONISH,
        "fingerprint": st.sampled_from(["0" * 64, "zz"]) | _JSONISH,
        "raw": st.sampled_from([inband.MSG_BEGIN + "\nabc\n" + inband.MSG_END, "x"]) | _JSONISH,
        "topic_id": st.integers(-3, 5) | _JSONISH,
        "recipients": st.lists(user_ref, max_size=2) | _JSONISH,
        "author": user_ref | _JSONISH, "poster": user_ref | _JSONISH, "invitee": user_ref | _JSONISH,
        "posts": st.lists(st.fixed_dictionaries({"post_id": st.integers(0, 3), "raw": st.text(max_size=20),
                                                 "username": st.sampled_from(["bob", "?"])}), max_size=2) | _JSONISH,
        "title": _JSONISH, "body": _JSONISH, "text": _JSONISH, "draft_key": st.sampled_from(["k", "../"]) | _JSONISH,
        "max_chars": st.integers(0, 40000) | _JSONISH, "secret": _JSONISH, "passphrase": _JSONISH,
        "new_passphrase": _JSONISH, "backup_passphrase": _JSONISH, "paper_key": _JSONISH,
        "confirm": _JSONISH, "allowed_users": st.lists(st.sampled_from(["alice", "x y"]), max_size=2) | _JSONISH,
    }


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_handlers_answer_any_payload_with_a_result_or_an_error(base_users, data):
    from pycore.engine.handlers import HANDLERS
    values = _field_values(base_users)
    type = data.draw(st.sampled_from(sorted(HANDLERS)))
    names = data.draw(st.lists(st.sampled_from(sorted(values)), max_size=6, unique=True))
    payload = {n: data.draw(values[n]) for n in names}
    sender = data.draw(st.sampled_from(["content", "frame:viewer", "page:options"]))
    user = base_users["bob"].clone()
    r = user.call_unrouted(type, payload, sender=sender)  # an exception here fails the test
    assert isinstance(r["ok"], bool)
    if not r["ok"]:
        assert isinstance(r["error"]["code"], str) and isinstance(r["error"]["message"], str)
    json.dumps(r)  # results are plain JSON


def test_reset_then_restoring_the_same_identity_reads_everything_again(users, texts):
    """Reset, a different identity for a while, reset again, then the same identity restored:
    the conversations and drafts stored on this device before read as before (the device's vault
    key of every identity is kept), and a conversation whose stored key cannot be opened any more
    is opened again from its first post instead of failing."""
    a, b = users["alice"], users["bob"]
    started = _start(a, b, body="before the reset")
    b.ok("conv.open", {"origin": ORIGIN, "topic_id": 40, "raw": started["raw"], "me": "bob", "author": a.ref()})
    b.ok("drafts.save", {"origin": ORIGIN, "draft_key": "topic_40", "text": "unsent words"}, sender="frame:composer")
    b.ok("identity.reset", {"confirm": "RESET"})
    b.ok("identity.import", {"text": texts[2], "new_passphrase": PASS})   # another identity for a while
    b.ok("drafts.save", {"origin": ORIGIN, "draft_key": "new_topic", "text": "by the other identity"},
         sender="frame:composer")
    b.ok("identity.reset", {"confirm": "RESET"})
    b.ok("identity.import", {"text": texts[1], "new_passphrase": PASS})   # bob's own key, restored
    opened = b.ok("conv.open", {"origin": ORIGIN, "topic_id": 40, "raw": started["raw"], "me": "bob", "author": a.ref()})
    assert (opened["status"], opened["body"]) == ("valid", "before the reset")
    assert b.ok("drafts.load", {"origin": ORIGIN, "draft_key": "topic_40"}, sender="frame:composer")["text"] == "unsent words"
    reply = b.ok("conv.reply", {"origin": ORIGIN, "topic_id": 40, "conversation_id": started["conversation_id"],
                                "me": "bob", "body": "after the restore"})
    assert a.ok("conv.open", {"origin": ORIGIN, "topic_id": 40, "raw": started["raw"], "me": "alice", "author": a.ref()})
    read = a.ok("conv.read", {"origin": ORIGIN, "topic_id": 40,
                              "posts": [{"post_id": 2, "raw": reply["raw"], "username": "bob", "bio_raw": b.bio}]})
    assert read["posts"][0]["body"] == "after the restore"


def test_a_stored_conversation_key_that_no_longer_opens_is_replaced_from_the_first_post(users):
    a, b = users["alice"], users["bob"]
    started = _start(a, b, body="still readable")
    b.ok("conv.open", {"origin": ORIGIN, "topic_id": 41, "raw": started["raw"], "me": "bob", "author": a.ref()})
    key = E.store.conversation(ORIGIN, 41)
    rec = run(b.store.get(key))
    rec["key"] = {"iv": rec["key"]["iv"], "ct": rec["key"]["ct"][:-4] + "AAAA"}   # sealed under a key gone
    run(b.store.set(key, rec))
    assert b.ok("conv.open", {"origin": ORIGIN, "topic_id": 41, "raw": started["raw"], "me": "bob",
                              "author": a.ref()})["body"] == "still readable"


def test_published_says_whether_the_bio_holds_this_device_s_key(users):
    a, b = users["alice"], users["bob"]
    mine = a.ok("identity.public")
    assert a.ok("keys.published", {"bio_raw": a.bio}) == {"state": "same", "digits": mine["digits"]}
    assert a.ok("keys.published", {"bio_raw": "Hi, I am alice."})["state"] == "none"
    # another key in my bio (published from another device, or before a reset): named by its digits
    other = a.ok("keys.published", {"bio_raw": b.bio})
    assert other["state"] == "other" and other["published_digits"] == b.ok("identity.public")["digits"]
    assert other["digits"] == mine["digits"] != other["published_digits"]
    damaged = b.bio.replace("Fingerprint:", "Fingerprnt:")
    assert a.ok("keys.published", {"bio_raw": damaged})["state"] == "damaged"
    # the content script may not ask
    assert a.err("keys.published", {"bio_raw": a.bio}, sender="content", router_rejects=True)["code"] == "rejected"


def test_published_on_a_device_without_an_identity_names_the_key_to_restore(users, prims):
    """Setup on a new device (or after a reset) looks at the profile first: a key published there
    is one the user may restore instead of making a new one."""
    a = users["alice"]
    new_device = User(prims, "alice")
    assert new_device.ok("engine.status")["has_identity"] is False
    found = new_device.ok("keys.published", {"bio_raw": a.bio})
    assert found == {"state": "published", "digits": None, "published_digits": a.ok("identity.public")["digits"]}
    assert new_device.ok("keys.published", {"bio_raw": "Hi, I am alice."}) == {"state": "none", "digits": None}
    damaged = a.bio.replace("Fingerprint:", "Fingerprnt:")
    assert new_device.ok("keys.published", {"bio_raw": damaged})["state"] == "damaged"

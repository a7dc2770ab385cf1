"""In real browsers: the key backup protected with a paper key, the backup PM as
shown in the forum page, and failed sends (503, dropped connection) retried by the composer.

One user, bob, with two Chromium profiles (device 1 and device 2) on the Discourse stand-in
(hostile page scripts + E2E_EXTRA_INJECT, leak oracle with passphrases, the paper key and the
message texts registered). alice, the other participant, is pycore's Engine on CPython (same
handlers as the extension's engine): she sends bob an encrypted PM and checks what bob sends.

Ordered story (each step needs the previous ones): device 1 backs up with a new paper key (shown
once, in the extension page only) → the backup PM shows in the forum page as "Encrypted key
backup", never opened there → device 2 activates with the paper key (typed loosely) and reads
alice's message → a reply hitting 503 twice is retried and arrives → a reply whose connection is
dropped is retried and arrives → device 2 resets, writes a draft under a new identity (old posts
then name the key they were written to), resets again and restores the backup: every old post
reads again → nothing secret reached the server or
the page scripts.
"""
from __future__ import annotations

import asyncio
import time

import pytest

from pycore import engine as E
from pycore import inband

from .browser import ChromiumExt, wait_until
from .conftest import PASSPHRASE, vectors
from .convo import ForumUser, close_all, enable_and_publish, import_vector, send_new_message, story_fixtures

pytestmark = pytest.mark.e2e

BOB2_PASSPHRASE = "bob's second device passphrase 5"
ALICE_PASSPHRASE = "alice engine passphrase on cpython"
TITLE = "Paper key test: hidden title"
BODY = "Hello Bob, this is for your new device. Secret marker: saffron-pelican."
REPLY_503 = "Reply after two 503s. Secret marker: cobalt-lynx."
REPLY_DROP = "Reply after a dropped connection. Secret marker: amber-stoat."
DRAFT_TITLE, DRAFT = "A draft of the other identity", "words kept in a draft"
SECRETS = [DRAFT_TITLE, DRAFT, PASSPHRASE, BOB2_PASSPHRASE, ALICE_PASSPHRASE, TITLE, BODY, REPLY_503, REPLY_DROP,
           "saffron-pelican", "cobalt-lynx", "amber-stoat"]


story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob"], paper_key=None, backup_topic=None,
                                              backup_post=None, topic_id=None, first_post_id=None)


class CpythonUser:
    """alice: pycore's Engine on CPython, with identities.json case 0, acting through the stand-in's API."""

    def __init__(self, srv, username="alice", index=0):
        from pycore.primitives import default_primitives
        self.srv, self.username = srv, username
        self.engine = E.Engine(default_primitives(), E.MemoryStore(), time.time, kdf_iterations=1000)
        case = vectors("identities")["cases"][index]
        clear = next(e for e in case["exports"] if e["passphrase"] is None)
        self.ok("identity.import", {"text": clear["private"], "new_passphrase": ALICE_PASSPHRASE})
        bio = self.ok("keys.publish", {"bio_raw": "I am alice."}, sender="content")["bio_raw"]
        srv.set_bio(username, bio)

    def ok(self, type_, payload, sender="page:inbox"):
        r = asyncio.run(self.engine.handle(type_, payload, {"sender": sender, "marker": "e2e-marker"}))
        assert r["ok"], r
        return r["result"]

    def ref(self, username):
        return {"username": username, "bio_raw": self.srv.user(username)["bio_raw"]}

    def read(self, topic_id, post) -> dict:
        """What alice's engine makes of a post of the topic (opening the conversation first)."""
        first = self.srv.posts(topic_id)[0]
        self.ok("conv.open", {"origin": self.srv.origin, "topic_id": topic_id, "raw": first["raw"], "me": self.username,
                              "author": self.ref(self.username)})
        bob = self.srv.user("bob")
        out = self.ok("conv.read", {"origin": self.srv.origin, "topic_id": topic_id, "posts": [
            {"post_id": post["id"], "raw": post["raw"], "username": bob["username"], "bio_raw": bob["bio_raw"]}]})
        return out["posts"][0]


@pytest.fixture(scope="module")
def users(request, ext_dir, tmp_path_factory, srv):
    out = {}

    def launch(name):
        u = ForumUser(ChromiumExt.launch(ext_dir, tmp_path_factory.mktemp(f"paperkey-{name}")), srv, "bob")
        out[name] = u          # the forum user is bob on both devices
        return u
    out["launch"] = launch
    yield out
    close_all(request, [u for k, u in out.items() if k != "launch"])


def test_01_device1_backs_up_with_a_new_paper_key(users, srv, oracle, story):
    bob1 = users["launch"]("bob-1")
    bob1.login()
    import_vector(bob1, 1, PASSPHRASE)
    enable_and_publish(bob1)
    before = {t["id"] for t in srv.topics()}
    bob1.type("#backup-local", PASSPHRASE)
    bob1.d.find_element("css selector", "#backup-paper").click()
    bob1.b.click("#backup-btn")
    wait_until(lambda: bob1.d.find_element("css selector", "#backup-btn").get_attribute("data-state") == "done"
               or "error" in (bob1.d.find_element("css selector", "#msg").get_attribute("class") or ""),
               timeout=180, what="bob-1: backup done")
    assert bob1.d.find_element("css selector", "#backup-btn").get_attribute("data-state") == "done", \
        bob1.d.find_element("css selector", "#msg").text
    box = bob1.d.find_element("css selector", "#paperkey-box")
    assert box.is_displayed() and "Write the 12 words on paper" in box.text
    paper = bob1.d.find_element("css selector", "#paperkey-words").text.strip()
    story.paper_key = paper
    oracle.register(paper)
    oracle.register(paper.lower())
    oracle.register(" ".join(paper.split()[:4]))
    words = paper.split()
    assert len(words) == 12 and all(w.isalpha() and w.isupper() for w in words)
    # The backup PM: to bob himself, only the encrypted record, one paper-key slot.
    new = [t for t in srv.topics() if t["id"] not in before]
    assert len(new) == 1
    posts = srv.posts(new[0]["id"])
    assert len(posts) == 1 and inband.is_backup_raw(posts[0]["raw"])
    assert inband.backup_info(posts[0]["raw"])["slots"] == ["paper_key"]
    assert paper not in posts[0]["raw"]
    story.backup_topic, story.backup_post = new[0]["id"], posts[0]["id"]
    # Shown once: hidden (and gone from the page) after "I have written it down", not shown again.
    bob1.b.click("#paperkey-done")
    assert not bob1.d.find_element("css selector", "#paperkey-box").is_displayed()
    assert paper not in bob1.d.find_element("css selector", "body").get_attribute("innerHTML")
    bob1.inbox()
    assert paper not in bob1.d.find_element("css selector", "body").get_attribute("innerHTML")
    assert paper not in bob1.hostile_loot() and paper.lower() not in bob1.hostile_loot().lower()


def test_02_backup_pm_shows_as_a_key_backup_in_the_forum_page(users, story):
    bob1 = users["bob-1"]
    bob1.to_forum(f"/t/{story.backup_topic}")
    shown = bob1.read_viewer(story.backup_post, want=("backup",), timeout=60)
    assert "Encrypted key backup" in shown["head"]
    assert "restore it from the extension's inbox" in shown["content"]
    assert shown["title"] is None and shown["body"] is None
    cooked = bob1.d.find_element("css selector", f'article[data-post-id="{story.backup_post}"] .cooked')
    assert not cooked.is_displayed()
    assert len(bob1.d.find_elements("css selector", f'iframe.efd-viewer[data-efd-post-id="{story.backup_post}"]')) == 1
    # No secret is involved: locked, the backup is still recognised (and still not opened).
    bob1.call("identity.lock")
    bob1.to_forum(f"/t/{story.backup_topic}")
    assert bob1.read_viewer(story.backup_post, want=("backup",), timeout=60)["state"] == "backup"
    bob1.call("identity.unlock", {"passphrase": PASSPHRASE})


def restore_from_the_forum_backup(u: ForumUser, paper_key: str):
    """In the inbox of a profile without an identity: restores the forum backup with the paper key."""
    assert u.inbox() == "no-identity"
    # the inbox looked on the forum first and offers the restore
    assert u.d.find_element("css selector", "#status").get_attribute("data-found") == "backup"
    u.type("#restore-secret", paper_key)
    u.type("#restore-new", BOB2_PASSPHRASE)
    u.b.click("#restore-btn")
    wait_until(lambda: u.page_state() == "ready" or "error" in (u.d.find_element("css selector", "#msg")
               .get_attribute("class") or ""), timeout=180, what=f"{u.username}: restored from the forum backup")
    assert u.page_state() == "ready", u.d.find_element("css selector", "#msg").text


def test_03_device2_activates_with_the_paper_key_and_reads_alices_message(users, srv, story):
    alice = CpythonUser(srv)
    start = alice.ok("conv.start", {"origin": srv.origin, "me": "alice", "recipients": [alice.ref("bob")],
                                    "title": TITLE, "body": BODY})
    post = srv.create_pm("alice", ["bob"], start["title"], start["raw"], skip_validations=True)
    story.topic_id, story.first_post_id = post["topic_id"], post["id"]
    story.alice = alice
    bob2 = users["launch"]("bob-2")
    bob2.login()
    bob2.ext_page("ui/options.html")
    bob2.b.engine_ready(timeout=180)
    bob2.call("site.enable", {"origin": srv.origin})
    bob2.to_forum("/")
    words = story.paper_key.split()
    restore_from_the_forum_backup(bob2, "  ".join(w.lower() for w in words[:6]) + "   " +
                                  " ".join(w.title() for w in words[6:]) + " ")
    st, st1 = bob2.call("engine.status"), users["bob-1"].call("engine.status")
    assert st["unlocked"] and st["fingerprint"] == st1["fingerprint"]
    bob2.to_forum(f"/t/{story.topic_id}")
    shown = bob2.read_viewer(story.first_post_id)
    assert shown["title"] == TITLE and "saffron-pelican" in shown["body"]


def _reply(u: ForumUser, srv, story, text, failures: dict) -> tuple[dict, list]:
    """Sends an encrypted reply from the topic page while the stand-in fails the next POSTs to
    /posts.json as asked; returns the new post and the statuses of the POSTs to /posts.json."""
    u.to_forum(f"/t/{story.topic_id}")
    n = len(srv.posts(story.topic_id))
    u.click_page(".efd-reply")
    u.composer()
    u.type("#body", text)
    mark = len(srv.requests)
    srv.fail_next("/posts.json", method="POST", **failures)
    u.send_composer()
    assert u.wait_composer(("retrying", "sent", "error"), timeout=60) == "retrying"
    status_text = u.d.find_element("css selector", "#status").text
    assert "your text is kept" in status_text
    assert u.d.find_element("css selector", "#body").get_attribute("value") == text
    u.wait_topic_page(timeout=120)
    assert srv.failures_left() == 0
    posts = srv.posts(story.topic_id)
    assert len(posts) == n + 1                          # exactly one post arrived (no duplicate)
    statuses = [r["status"] for r in srv.requests[mark:] if r["app_path"] == "/posts.json" and r["method"] == "POST"]
    return posts[-1], statuses, status_text


def test_04_a_send_hitting_503_twice_is_retried_and_arrives(users, srv, story):
    bob2 = users["bob-2"]
    post, statuses, text = _reply(bob2, srv, story, REPLY_503, {"status": 503, "count": 2})
    # then one post (Discourse's rate limit may add a 429 the composer waits out)
    assert statuses[:2] == [503, 503] and statuses[-1] == 200 and set(statuses[2:-1]) <= {429}, statuses
    assert "The forum had a problem answering" in text
    assert "cobalt-lynx" not in post["raw"] and "-----BEGIN EFD MESSAGE-----" in post["raw"]
    got = story.alice.read(story.topic_id, post)
    assert got["status"] == "valid" and got["body"] == REPLY_503
    assert "cobalt-lynx" in bob2.read_viewer(post["id"])["body"]


def test_05_a_send_whose_connection_is_dropped_is_retried_and_arrives(users, srv, story):
    bob1 = users["bob-1"]
    post, statuses, text = _reply(bob1, srv, story, REPLY_DROP, {"drop": True, "count": 2})
    assert statuses.count(None) == 2 and statuses[-1] == 200
    assert "could not be reached" in text
    got = story.alice.read(story.topic_id, post)
    assert got["status"] == "valid" and got["body"] == REPLY_DROP
    assert "amber-stoat" in bob1.read_viewer(post["id"])["body"]


def reset_in_the_options_page(u: ForumUser):
    u.ext_page("ui/options.html")
    u.type("#reset-confirm", "RESET")
    u.b.click("#reset-btn")
    wait_until(lambda: not u.call("engine.status")["has_identity"], timeout=30, what=f"{u.username}: reset")


def test_06_reset_then_restore_on_the_same_profile_reads_everything_again(users, srv, story):
    """A user who resets, works with a new identity for a while (its draft is sealed on this
    device), then resets again and restores the key from the forum backup reads every old
    conversation on this profile again."""
    bob2 = users["bob-2"]
    fingerprint = bob2.call("engine.status")["fingerprint"]
    reset_in_the_options_page(bob2)
    bob2.call("identity.create", {"passphrase": BOB2_PASSPHRASE})
    send_new_message(bob2, ["alice"], DRAFT_TITLE, DRAFT, send=False)
    wait_until(lambda: bob2.d.find_element("css selector", "#body").get_attribute("data-saved") == "1",
               timeout=30, what="bob-2: the draft saved in the engine")
    # under the new identity, old posts name the key they were written to (still in bob's
    # profile) and how to get it back, instead of claiming damage
    digits = users["bob-1"].call("engine.status")["digits"]
    bob2.to_forum(f"/t/{story.topic_id}")
    lost = bob2.read_viewer(story.first_post_id, want=("cannot_decrypt", "error"))
    assert lost["state"] == "cannot_decrypt" and digits in lost["content"], lost
    assert "does not have" in lost["content"] and "backup" in lost["content"] and "altered" not in lost["content"]
    reset_in_the_options_page(bob2)
    bob2.to_forum("/")
    restore_from_the_forum_backup(bob2, story.paper_key)
    assert bob2.call("engine.status")["fingerprint"] == fingerprint
    bob2.to_forum(f"/t/{story.topic_id}")
    shown = bob2.read_viewer(story.first_post_id, want=("valid", "cannot_decrypt", "error"))
    assert shown["state"] == "valid" and "saffron-pelican" in shown["body"], shown
    later = srv.posts(story.topic_id)[-1]
    assert "amber-stoat" in bob2.read_viewer(later["id"])["body"]


def test_07_no_secret_reached_the_server_or_the_page_scripts(users, oracle):
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)

"""The whole product in real browsers: alice, bob and carol on the Discourse stand-in.

One ordered story per module (shared browsers and server; each test builds on the previous
one's state and is skipped when an earlier step failed):
enable encryption and publish keys → alice starts an encrypted PM with a title to bob → bob
reads it → bob replies → alice invites carol, who reads the whole history → bob activates a
second device from his forum backup → the server swaps bob's key (alice is warned, cannot send
until she acknowledges) → the server alters a ciphertext (shown as invalid) → after lock nothing
decrypted is shown → the locked viewer and composer unlock in the extension's unlock window.

The stand-in runs with its hostile page scripts plus E2E_EXTRA_INJECT, and the leak oracle has
every message text, title and passphrase registered: any of them reaching the server (posts,
drafts, exfiltration by the hostile scripts) fails the module.
"""
from __future__ import annotations

import pytest

from .browser import wait_until
from .conftest import PASSPHRASE
from .convo import (a256_tamper, assert_no_secret_leaked, browsers, enable_and_publish, import_vector, launch_chromium,
                    story_fixtures)

pytestmark = pytest.mark.e2e

CAROL_PASSPHRASE = "carol's own device passphrase 42"
BOB_BACKUP = "bob backup passphrase, kept on paper"
BOB2_PASSPHRASE = "bob second device passphrase 77"
TITLE = "Quarterly plans (secret title)"
BODY = "Hello Bob! The **launch** is moved to Thursday. Secret word: periwinkle-giraffe."
REPLY = "Thanks Alice, Thursday works. Secret answer: tangerine-walrus."
BLOCKED = "This must wait for the key check: marmalade-heron."
SECRETS = [PASSPHRASE, CAROL_PASSPHRASE, BOB_BACKUP, BOB2_PASSPHRASE, TITLE, "periwinkle-giraffe",
           "tangerine-walrus", "marmalade-heron", "Thursday works", "launch** is moved",
           BODY, REPLY, BLOCKED, "Second thread"]


story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob", "carol"],
                                              topic_id=None, first_post_id=None, reply_post_id=None)


@pytest.fixture(scope="module")
def users(request, ext_dir, tmp_path_factory, srv):
    with browsers(request) as started:
        def launch(name):
            return launch_chromium(started, ext_dir, tmp_path_factory, srv, f"profile-{name}", name.split("-")[0])

        out = {"launch": launch}
        for n in ("alice", "bob", "carol"):
            out[n] = launch(n)
        yield out


# ------------------------------------------------------------------------------------ the story
def test_01_everyone_enables_encryption_and_publishes_a_key(users, srv):
    alice, bob, carol = users["alice"], users["bob"], users["carol"]
    import_vector(alice, 0, PASSPHRASE, ready_timeout=120)   # fast path: known identities
    import_vector(bob, 1, PASSPHRASE, ready_timeout=120)
    carol.ext_page("ui/options.html")  # carol generates a new identity
    carol.b.engine_ready()
    carol.call("identity.create", {"passphrase": CAROL_PASSPHRASE}, timeout=240)
    for u in (alice, bob, carol):
        enable_and_publish(u, timeout=60)
    # Bob backs up his identity to the forum (a PM to himself holding only ciphertext).
    bob.d.switch_to.window(bob.ext_handle)
    bob.type("#backup-local", PASSPHRASE)
    bob.type("#backup-pass", BOB_BACKUP)
    bob.b.click("#backup-btn")
    wait_until(lambda: bob.d.find_element("css selector", "#backup-btn").get_attribute("data-state") == "done",
               timeout=120, what="bob: backup posted")
    backups = [t for t in srv.topics() if t["title"] == "Encrypted key backup"]
    assert len(backups) == 1
    assert "-----BEGIN EFD KEY BACKUP-----" in srv.posts(backups[0]["id"])[0]["raw"]


def test_02_alice_sends_an_encrypted_pm_with_a_title_to_bob(users, srv, story):
    alice = users["alice"]
    alice.to_forum("/u/alice/messages")
    alice.click_page(".efd-new-message")
    alice.composer()
    alice.type("#to", "bo")
    # Autocomplete from /u/search/users.json (public data through the content script).
    wait_until(lambda: alice.d.find_elements("css selector", '#suggest [data-username="bob"]'), timeout=30,
               what="autocomplete suggestion for bob")
    alice.d.find_element("css selector", '#suggest [data-username="bob"]').click()
    assert alice.d.find_element("css selector", '#chips [data-user="bob"]')
    alice.type("#title", TITLE)
    alice.type("#body", BODY)
    alice.send_composer()
    story.topic_id = alice.wait_topic_page()
    topic = srv.topic(story.topic_id)
    assert topic["title"] == "Encrypted message"
    assert sorted(topic["allowed_usernames"]) == ["alice", "bob"]
    posts = srv.posts(story.topic_id)
    assert len(posts) == 1 and "-----BEGIN EFD MESSAGE-----" in posts[0]["raw"]
    assert "periwinkle" not in posts[0]["raw"]
    story.first_post_id = posts[0]["id"]
    # Alice sees her own message in the viewer frame, with its title.
    shown = alice.read_viewer(story.first_post_id)
    assert shown["title"] == TITLE and "periwinkle-giraffe" in shown["body"]
    assert shown["key"] == "own"                   # her own published key
    # The forum page itself never holds the plaintext or the title.
    html = alice.d.page_source
    assert "periwinkle" not in html and TITLE not in html
    # Nothing of it in Discourse's drafts.
    assert all("periwinkle" not in (d["data"] or "") for d in srv.drafts("alice"))


def test_03_bob_reads_it(users, story):
    bob = users["bob"]
    bob.to_forum(f"/t/{story.topic_id}")
    shown = bob.read_viewer(story.first_post_id)
    assert shown["title"] == TITLE
    assert "periwinkle-giraffe" in shown["body"] and "launch" in shown["body"]
    assert "alice" in shown["head"] and shown["key"] == "first_seen"
    assert "periwinkle" not in bob.d.page_source


def test_04_bob_replies(users, srv, story):
    bob = users["bob"]
    bob.click_page(".efd-reply")
    bob.composer()
    bob.type("#body", REPLY)
    bob.send_composer()
    assert bob.wait_topic_page() == story.topic_id
    posts = srv.posts(story.topic_id)
    assert len(posts) == 2 and posts[1]["user_id"] == srv.user("bob")["id"]
    assert "tangerine" not in posts[1]["raw"]
    story.reply_post_id = posts[1]["id"]
    alice = users["alice"]
    alice.to_forum(f"/t/{story.topic_id}")
    assert "tangerine-walrus" in alice.read_viewer(story.reply_post_id)["body"]
    assert alice.read_viewer(story.first_post_id)["title"] == TITLE


def test_05_alice_invites_carol_who_reads_the_whole_history(users, srv, story):
    alice, carol = users["alice"], users["carol"]
    alice.click_page(".efd-invite")
    alice.composer()
    alice.type("#invitee", "carol")
    alice.send_composer()
    alice.wait_topic_page()
    assert "carol" in srv.topic(story.topic_id)["allowed_usernames"]
    shares = [p for p in srv.posts(story.topic_id)[2:] if "-----BEGIN EFD MESSAGE-----" in p["raw"]]
    assert len(shares) == 1 and shares[0]["user_id"] == srv.user("alice")["id"]
    share_id = shares[0]["id"]
    carol.to_forum(f"/t/{story.topic_id}")
    first = carol.read_viewer(story.first_post_id)
    assert first["title"] == TITLE and "periwinkle-giraffe" in first["body"]
    assert "tangerine-walrus" in carol.read_viewer(story.reply_post_id)["body"]
    share = carol.read_viewer(share_id)
    assert "added carol" in share["content"]
    # Carol got her key in a key share: nobody is named as added without a key, on either side.
    assert first["warnings"] == ""
    alice.to_forum(f"/t/{story.topic_id}")
    assert alice.read_viewer(story.first_post_id)["warnings"] == ""
    # Carol's encrypted inbox lists the conversation with its decrypted title.
    carol.inbox()
    wait_until(lambda: any(e.text == TITLE for e in carol.d.find_elements("css selector", "#conversations .conv-title")),
               timeout=30, what="carol's inbox to list the decrypted title")


def test_06_bob_activates_a_second_device_from_his_backup(users, story):
    bob2 = users["launch"]("bob-2")
    bob2.ext_page("ui/options.html")
    bob2.b.engine_ready()
    bob2.call("site.enable", {"origin": bob2.srv.origin})
    bob2.to_forum("/")
    assert bob2.inbox() == "no-identity"
    bob2.type("#restore-secret", BOB_BACKUP)
    bob2.type("#restore-new", BOB2_PASSPHRASE)
    bob2.b.click("#restore-btn")
    wait_until(lambda: bob2.page_state() == "ready", timeout=180, what="bob-2: restored from the forum backup")
    st = bob2.call("engine.status")
    bob1 = users["bob"].call("engine.status")
    assert st["unlocked"] and st["fingerprint"] == bob1["fingerprint"]
    # The new device's encrypted inbox finds the conversation by itself (no click) and decrypts
    # its title (only there).
    bob2.d.switch_to.window(bob2.ext_handle)
    wait_until(lambda: [e.text for e in bob2.d.find_elements("css selector", "#conversations .conv-title")] == [TITLE],
               timeout=60, what="bob-2: inbox lists the decrypted title without a click")
    # The list shows a conversation as soon as it is opened; the look goes on to read its replies
    # for search and says "done" after.
    wait_until(lambda: bob2.d.find_element("css selector", "#sync-state").get_attribute("data-state") == "done",
               timeout=60, what="bob-2: the look for messages ends")
    # Search finds bob's reply, which no viewer of this device has shown yet (discovery read it),
    # with the conversation's title and the match marked; the title finds the conversation.
    results = "#search-results li"
    bob2.type("#search-q", "Tangerine")
    wait_until(lambda: bob2.d.find_elements("css selector", results), timeout=30, what="bob-2: a search result")
    hits = bob2.d.find_elements("css selector", results)
    assert len(hits) == 1 and hits[0].get_attribute("data-topic-id") == str(story.topic_id)
    assert hits[0].find_element("css selector", ".result-title").text == TITLE
    assert hits[0].find_element("css selector", ".result-title").get_attribute("href").endswith(f"/t/{story.topic_id}")
    assert [m.text for m in hits[0].find_elements("css selector", "mark")] == ["tangerine"]
    assert "bob" in hits[0].find_element("css selector", ".result-meta").text
    bob2.d.find_element("css selector", "#search-q").clear()
    bob2.type("#search-q", "quarterly pla")
    wait_until(lambda: [e.text for e in bob2.d.find_elements("css selector", results + " .result-title")] == [TITLE]
               and "periwinkle" in bob2.d.find_element("css selector", results).text,
               timeout=30, what="bob-2: the first post found by its title while typing")
    bob2.to_forum(f"/t/{story.topic_id}")
    shown = bob2.read_viewer(story.first_post_id)
    assert shown["title"] == TITLE and "periwinkle-giraffe" in shown["body"]
    bob2.b.close()


def test_07_swapped_key_warns_alice_and_blocks_sending_until_acknowledged(users, srv, story):
    alice = users["alice"]
    # The server shows alice carol's key as bob's.
    srv.serve_bio_to("alice", "bob", srv.user("carol")["bio_raw"])
    try:
        alice.to_forum(f"/t/{story.topic_id}")
        shown = alice.read_viewer(story.reply_post_id)
        assert shown["key"] == "key_changed" and "KEY CHANGED" in shown["head"]
        alice.to_forum("/u/alice/messages")
        alice.click_page(".efd-new-message")
        alice.composer()
        alice.type("#to", "bob\n")
        alice.type("#title", "Second thread")
        alice.type("#body", BLOCKED)
        n_topics = len(srv.topics())
        assert alice.click_send() == "blocked"
        assert alice.d.find_element("css selector", '.keychanged[data-user="bob"]').is_displayed()
        assert len(srv.topics()) == n_topics       # nothing was sent
        # Sending again without acknowledging is still refused.
        assert alice.click_send() == "blocked"
        assert len(srv.topics()) == n_topics
        # Acknowledge, then sending works.
        alice.click_decision('.keychanged[data-user="bob"] button.ack')
        wait_until(lambda: not alice.d.find_elements("css selector", ".keychanged"), timeout=30, what="warning gone")
        alice.send_composer()
        alice.wait_topic_page()
        assert len(srv.topics()) == n_topics + 1
    finally:
        srv.serve_bio_to("alice", "bob", None)


def test_08_altered_ciphertext_shows_as_invalid(users, srv, story):
    carol = users["carol"]
    post = srv.post(story.reply_post_id)
    srv.rewrite_post(story.reply_post_id, a256_tamper(post["raw"]))
    carol.to_forum(f"/t/{story.topic_id}")
    shown = carol.read_viewer(story.reply_post_id, want=("cannot_decrypt", "invalid_signature", "valid"))
    assert shown["state"] in ("cannot_decrypt", "invalid_signature")
    assert shown["body"] is None and "tangerine" not in shown["content"]
    # The other posts still show.
    assert carol.read_viewer(story.first_post_id)["title"] == TITLE


def test_09_after_lock_nothing_decrypted_is_shown(users, story):
    carol = users["carol"]
    carol.to_forum(f"/t/{story.topic_id}")
    assert carol.read_viewer(story.first_post_id)["title"] == TITLE
    carol.call("identity.lock")
    carol.to_forum()
    shown = carol.read_viewer(story.first_post_id, want=("locked",), timeout=20)
    assert shown["title"] is None and shown["body"] is None
    frame = carol.viewer_for(story.first_post_id)
    carol.d.switch_to.frame(frame)
    assert "periwinkle" not in carol.d.page_source and TITLE not in carol.d.page_source
    carol.d.switch_to.default_content()
    # A fresh page load shows locked viewers too.
    carol.to_forum(f"/t/{story.topic_id}")
    carol.read_viewer(story.first_post_id, want=("locked",), timeout=30)


def test_09b_a_locked_viewer_and_composer_unlock_in_the_extension_s_window(users, story):
    carol = users["carol"]
    # test_09 left carol locked on the topic page.
    carol.read_viewer(story.first_post_id, want=("locked",), timeout=30)
    carol.d.switch_to.frame(carol.viewer_for(story.first_post_id))
    assert carol.d.find_element("css selector", "#open-unlock").is_displayed()
    carol.unlock_outside(CAROL_PASSPHRASE)
    # The viewer that asked shows the post again, without a reload of the page.
    shown = carol.read_viewer(story.first_post_id, timeout=60)
    assert shown["title"] == TITLE and "periwinkle-giraffe" in shown["body"]
    carol.d.switch_to.frame(carol.viewer_for(story.first_post_id))
    assert not carol.d.find_element("css selector", "#open-unlock").is_displayed()
    carol.d.switch_to.default_content()

    # A composer opened while locked: wrong passphrases are refused in the window, which stays
    # open and counts the wait down; the right one closes it and the composer goes on.
    carol.call("identity.lock")
    carol.to_forum(f"/u/{carol.username}/messages")
    carol.click_page(".efd-new-message")
    carol.composer()
    assert carol.d.execute_script("return document.body.dataset.state") == "locked"
    assert carol.d.find_element("css selector", "#open-unlock").is_displayed()
    handle = carol.open_unlock_window()

    def attempt(passphrase):
        carol.d.execute_script("delete document.querySelector('#msg').dataset.code")
        carol.type_passphrase(passphrase)
        return wait_until(lambda: carol.d.execute_script(
            "const b = document.querySelector('#unlock-btn'), m = document.querySelector('#msg');"
            "return !b.disabled && m.dataset.code"), timeout=60, what="carol: the unlock window answered")
    assert attempt("not carol's passphrase") == "wrong_passphrase"
    # From the second wrong one in a row on, each starts a longer wait (1 s, then 2 s), counted down.
    codes = [attempt("still not carol's passphrase") for _ in range(2)]
    assert codes[-1] == "throttled", codes
    assert carol.d.execute_script("return document.body.dataset.state") == "locked"
    wait_until(lambda: carol.d.find_element("css selector", "#msg").get_attribute("class") == "msg info",
               timeout=30, what="carol: the wait counted down to its end")
    carol.unlock_in_window(handle, CAROL_PASSPHRASE)
    carol.composer()
    wait_until(lambda: carol.d.execute_script("return document.body.dataset.state") in ("ready", "idle"), timeout=60,
               what="the composer ready after unlocking")
    assert not carol.d.find_element("css selector", "#open-unlock").is_displayed()
    carol.d.switch_to.default_content()


def test_10_no_secret_reached_the_server_or_the_page_scripts(users, srv, oracle):
    assert_no_secret_leaked(oracle, srv, [users[n] for n in ("alice", "bob", "carol")],
                            ("periwinkle", "tangerine", "marmalade", TITLE, PASSPHRASE))

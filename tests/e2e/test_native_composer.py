"""Discourse's own composer in an encrypted conversation: no character typed reaches the server.
alice and bob in Chromium on the stand-in with Discourse's rich editor available (hostile page
scripts + E2E_EXTRA_INJECT, leak oracle on).

Ordered story: alice writes to bob → in that topic, Discourse's footer Reply, a post's Reply and
the shift+r and q shortcuts open the encrypted composer, not Discourse's → Edit on one's own
encrypted post (the first post, then a reply twice) edits it encrypted: a new revision of ciphertext,
readers see the new text, "edited" and the earlier versions; Edit aimed by the page at someone
else's post is refused → Discourse's composer opened
anyway (by the page) is covered, and a secret typed into its textarea, then into its rich editor,
reaches neither the editor nor the server, also after the autosave interval → outside encrypted
conversations Discourse's composer works as usual → no secret reached the server.
"""
from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from .browser import wait_until
from .conftest import PASSPHRASE
from .convo import ForumUser, published_users, send_new_message, story_fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.real_forum_pass]

TITLE = "Guard test: hidden title"
BODY = "Guarded conversation. Secret marker: vermilion-tapir."
EDITED = "Guarded conversation, edited. Secret marker: azure-wombat."
REPLY = "A reply to edit: saffron-ibex"
REPLY_EDITED = "A reply, edited once: umber-quokka"
REPLY_EDITED_AGAIN = "A reply, edited twice: teal-pangolin"
TYPED = "typed into the forum editor: ochre-narwhal"
TYPED_RICH = "typed into the rich editor: celadon-okapi"
# What is typed into the forum's own editor is, by nature, visible to the forum page's scripts
# (the hostile keylogger reports it): the story's oracle does not hold it. What must not happen is
# Discourse's own code saving or sending it: every request but the page scripts' is scanned for it.
SECRETS = [PASSPHRASE, TITLE, BODY, "vermilion-tapir", "azure-wombat", "saffron-ibex", "umber-quokka", "teal-pangolin"]

story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob"], settings={"rich_editor": True},
                                              topic_id=None)


@pytest.fixture(scope="module")
def users(request, ext_dir, tmp_path_factory, srv):
    yield from published_users(request, ext_dir, tmp_path_factory, srv, ("alice", "bob"), "guard", PASSPHRASE)


def encrypted_composer_opened(u: ForumUser) -> bool:
    u.d.switch_to.default_content()
    return bool(u.d.find_elements("css selector", "iframe.efd-composer" + u.OURS))


def discourse_composer_open(u: ForumUser) -> bool:
    u.d.switch_to.default_content()
    return bool(u.d.execute_script("const r = document.querySelector('#reply-control');"
                                   "return !!(r && r.classList.contains('open') && r.querySelector('.d-editor-input'))"))


def close_encrypted_composer(u: ForumUser):
    u.composer()
    u.d.find_element("css selector", "#cancel-btn").click()
    u.d.switch_to.default_content()
    wait_until(lambda: not encrypted_composer_opened(u), timeout=30, what="the encrypted composer closed")


def test_1_alice_writes_to_bob(users, srv, story):
    send_new_message(users["alice"], ["bob"], TITLE, BODY)
    story.topic_id = users["alice"].wait_topic_page()
    bob = users["bob"]
    bob.to_forum(f"/t/{story.topic_id}")
    assert "vermilion-tapir" in bob.read_viewer(srv.posts(story.topic_id)[0]["id"])["body"]


@pytest.mark.parametrize("how", ["footer reply", "post reply", "shift+r", "q"])
def test_2_discourse_s_ways_into_its_composer_open_the_encrypted_one(users, story, how):
    bob = users["bob"]
    bob.to_forum(f"/t/{story.topic_id}")
    bob.read_viewer(bob.srv.posts(story.topic_id)[0]["id"])
    if how == "footer reply":
        bob.click_page("#topic-footer-buttons .btn-primary.create")
    elif how == "post reply":
        bob.click_page(".post-controls .reply")
    else:
        # the keyboard's focus on the forum page (the topic's title), not in one of our frames
        bob.click_page("#topic-title h1")
        if how == "q":
            ActionChains(bob.d).send_keys("q").perform()
        else:
            ActionChains(bob.d).key_down(Keys.SHIFT).send_keys("r").key_up(Keys.SHIFT).perform()
    wait_until(lambda: encrypted_composer_opened(bob), timeout=30, what=f"{how}: the encrypted composer")
    time.sleep(1)
    assert not discourse_composer_open(bob)
    close_encrypted_composer(bob)


def test_2a_ways_in_used_twice_at_once_open_one_encrypted_composer(users, story):
    """Shortcuts pressed in quick succession (or a double click on Reply) are requests to open the
    composer while the first is still being placed: there is one composer afterwards."""
    bob = users["bob"]
    bob.to_forum(f"/t/{story.topic_id}")
    bob.read_viewer(bob.srv.posts(story.topic_id)[0]["id"])
    bob.click_page("#topic-title h1")   # the keyboard's focus on the forum page
    # shift+r pressed four times in a few milliseconds (trusted key events, as a user's)
    for kind in ("keyDown", "keyUp") * 4:
        bob.d.execute_cdp_cmd("Input.dispatchKeyEvent", {"type": kind, "key": "R", "code": "KeyR", "text": "R" if kind == "keyDown" else "",
                                                         "windowsVirtualKeyCode": 82, "modifiers": 8})
    wait_until(lambda: encrypted_composer_opened(bob), timeout=30, what="the encrypted composer")
    time.sleep(3)   # the later requests have arrived
    docks = bob.d.find_elements("css selector", ".efd-composer-dock")
    assert len(docks) == 1 and len(bob.d.find_elements("css selector", "iframe.efd-composer" + bob.OURS)) == 1
    close_encrypted_composer(bob)


def _edit_in_composer(u: ForumUser, post_id: int, before: str, after: str):
    """Discourse's Edit on the user's own post `post_id` opens the encrypted composer in edit mode
    with the post's decrypted text; the user changes it and saves. Waits for the topic again."""
    u.click_page(f'article[data-post-id="{post_id}"] .post-controls .edit')
    wait_until(lambda: encrypted_composer_opened(u), timeout=30, what="Edit: the encrypted composer")
    assert not discourse_composer_open(u)
    u.composer()
    wait_until(lambda: u.d.find_element("css selector", "#body").get_attribute("value") == before, timeout=30,
               what=f"the composer shows the post's current text {before!r}")
    assert u.d.find_element("css selector", "#send-btn").text == "Save the encrypted edit"
    u.type("#body", after)
    u.send_composer()
    u.wait_topic_page()


def _edited_note(u: ForumUser, post_id: int) -> list[str]:
    """The viewer's "edited" note opened: its summary, then each earlier version's text."""
    u.d.switch_to.default_content()
    u.d.switch_to.frame(u.viewer_for(post_id))
    try:
        note = u.d.find_element("css selector", "#edited")
        u.d.execute_script("arguments[0].open = true", note)
        return [note.find_element("css selector", "summary").text] + \
            [v.text for v in note.find_elements("css selector", ".version-text")]
    finally:
        u.d.switch_to.default_content()


def test_2b_edit_on_one_s_own_encrypted_post_edits_it_encrypted(users, srv, story):
    """alice edits her first post with Discourse's Edit: a new revision of ciphertext on the forum,
    and both readers see the new text, "edited", and the earlier version."""
    alice, bob = users["alice"], users["bob"]
    first = srv.posts(story.topic_id)[0]
    alice.to_forum(f"/t/{story.topic_id}")
    alice.read_viewer(first["id"])
    _edit_in_composer(alice, first["id"], BODY, EDITED)
    assert srv.post(first["id"])["version"] == 2 and len(srv.revisions(first["id"])) == 1
    assert "azure-wombat" not in srv.post(first["id"])["raw"] and "BEGIN" in srv.post(first["id"])["raw"]
    for u in (alice, bob):
        u.to_forum(f"/t/{story.topic_id}")
        shown = u.read_viewer(first["id"])
        assert "azure-wombat" in shown["body"] and "vermilion-tapir" not in shown["body"], u.username
        assert shown["title"] == TITLE
        note = _edited_note(u, first["id"])
        assert note[0].startswith("edited") and note[1:] == [BODY], note
    alice.to_forum("/")


def test_2c_a_reply_edited_twice_keeps_its_history_and_others_cannot_edit_it(users, srv, story):
    bob, alice = users["bob"], users["alice"]
    bob.to_forum(f"/t/{story.topic_id}")
    bob.read_viewer(srv.posts(story.topic_id)[0]["id"])
    bob.click_page("#topic-footer-buttons .btn-primary.create")
    bob.composer()
    bob.type("#body", REPLY)
    bob.send_composer()
    bob.wait_topic_page()
    reply = srv.posts(story.topic_id)[-1]
    bob.read_viewer(reply["id"])
    _edit_in_composer(bob, reply["id"], REPLY, REPLY_EDITED)
    bob.read_viewer(reply["id"])
    _edit_in_composer(bob, reply["id"], REPLY_EDITED, REPLY_EDITED_AGAIN)
    assert srv.post(reply["id"])["version"] == 3
    alice.to_forum(f"/t/{story.topic_id}")
    shown = alice.read_viewer(reply["id"])
    assert shown["body"] == REPLY_EDITED_AGAIN
    assert _edited_note(alice, reply["id"])[1:] == [REPLY, REPLY_EDITED]
    # The forum page can aim Edit at someone else's post (a page script adds the button): the
    # composer refuses to edit it, and nothing is posted.
    alice.d.execute_script("""
      const post = document.querySelector(`article[data-post-id="${arguments[0]}"] .post-controls`);
      const b = document.createElement('button'); b.className = 'edit'; b.textContent = 'Edit';
      post.append(b);""", reply["id"])
    alice.click_page(f'article[data-post-id="{reply["id"]}"] .post-controls .edit')
    wait_until(lambda: encrypted_composer_opened(alice), timeout=30, what="Edit: the encrypted composer")
    alice.in_composer()
    state = alice.wait_composer(("error",), timeout=60)
    assert state == "error" and "Only your own encrypted posts can be edited" in \
        alice.d.find_element("css selector", "#status").text
    alice.d.find_element("css selector", "#cancel-btn").click()
    alice.d.switch_to.default_content()
    wait_until(lambda: not encrypted_composer_opened(alice), timeout=30, what="the encrypted composer closed")
    assert srv.post(reply["id"])["version"] == 3
    alice.to_forum("/")


@pytest.mark.parametrize("mode", ["markdown", "rich"])
def test_3_discourse_s_composer_opened_anyway_takes_no_keystroke(users, srv, story, mode):
    bob = users["bob"]
    srv.set_composition_mode("bob", mode)
    secret, marker = (TYPED, "ochre-narwhal") if mode == "markdown" else (TYPED_RICH, "celadon-okapi")
    bob.to_forum(f"/t/{story.topic_id}")
    bob.read_viewer(srv.posts(story.topic_id)[0]["id"])
    bob.d.execute_script("window.__standin.openReply()")          # the page opens it itself
    wait_until(lambda: discourse_composer_open(bob), timeout=30, what="Discourse's composer open")
    assert bob.d.execute_script("return window.__standin.composerMode()") == mode
    wait_until(lambda: bob.d.find_elements("css selector", "#reply-control .efd-composer-guard"), timeout=30,
               what="the guard's notice over Discourse's composer")
    editor = bob.d.find_element("css selector", "#reply-control .d-editor-input")
    # the notice covers the editor (a click there lands on the notice): focus it the page's way
    bob.d.execute_script("arguments[0].focus()", editor)
    ActionChains(bob.d).send_keys(secret).perform()
    time.sleep(4)     # past Discourse's draft autosave (2 s after a change)
    assert marker not in (bob.d.execute_script("return window.__standin.composerReply()") or "")
    assert not any(marker in (d.get("data") or "") for d in srv.drafts("bob"))
    from tests.standin.oracle import LeakOracle
    typed = LeakOracle()
    typed.register(marker)
    forum_requests = [r for r in srv.requests if not r["path"].startswith("/__hostile")]
    assert typed.scan(forum_requests) == []
    # the notice offers the encrypted composer (a key typed after the notice appeared may have
    # opened it already: the keyboard's shortcuts lead there too)
    if encrypted_composer_opened(bob):
        close_encrypted_composer(bob)
    bob.click_page("#reply-control .efd-guard-open")
    wait_until(lambda: encrypted_composer_opened(bob), timeout=30, what="the encrypted composer from the notice")
    close_encrypted_composer(bob)
    srv.set_composition_mode("bob", None)


def test_4_outside_encrypted_conversations_discourse_s_composer_works(users, srv):
    bob = users["bob"]
    plain = srv.create_pm("alice", ["bob"], "A plain conversation", "Nothing encrypted here, just a plain message.",
                          skip_validations=True)
    bob.to_forum(f"/t/{plain['topic_id']}")
    bob.click_page("#topic-footer-buttons .btn-primary.create")
    wait_until(lambda: discourse_composer_open(bob), timeout=30, what="Discourse's composer in a plain PM")
    editor = bob.d.find_element("css selector", "#reply-control .d-editor-input")
    editor.send_keys("plain text is fine here")
    assert "plain text is fine here" in (bob.d.execute_script("return window.__standin.composerReply()") or "")
    assert not encrypted_composer_opened(bob)
    assert not bob.d.find_elements("css selector", "#reply-control .efd-composer-guard")


def test_5_no_secret_reached_the_server_or_the_page_scripts(users, oracle):
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)
    loot = users["bob"].hostile_loot()
    for s in ("vermilion-tapir", TITLE):
        assert s not in loot, f"bob's page scripts saw {s!r}"

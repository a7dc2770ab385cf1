"""Discourse's own composer in an encrypted conversation: no character typed reaches the server.
alice and bob in Chromium on the stand-in with Discourse's rich editor available (hostile page
scripts + E2E_EXTRA_INJECT, leak oracle on).

Ordered story: alice writes to bob → in that topic, Discourse's footer Reply, a post's Reply and
the shift+r and q shortcuts open the encrypted composer, not Discourse's; so does Edit on one's
own encrypted post → Discourse's composer opened
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

pytestmark = pytest.mark.e2e

TITLE = "Guard test: hidden title"
BODY = "Guarded conversation. Secret marker: vermilion-tapir."
TYPED = "typed into the forum editor: ochre-narwhal"
TYPED_RICH = "typed into the rich editor: celadon-okapi"
# What is typed into the forum's own editor is, by nature, visible to the forum page's scripts
# (the hostile keylogger reports it): the story's oracle does not hold it. What must not happen is
# Discourse's own code saving or sending it: every request but the page scripts' is scanned for it.
SECRETS = [PASSPHRASE, TITLE, BODY, "vermilion-tapir"]

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


def test_2b_edit_on_one_s_own_encrypted_post_opens_the_encrypted_composer(users, srv, story):
    alice = users["alice"]
    alice.to_forum(f"/t/{story.topic_id}")
    alice.read_viewer(srv.posts(story.topic_id)[0]["id"])
    alice.click_page(".post-controls .edit")
    wait_until(lambda: encrypted_composer_opened(alice), timeout=30, what="Edit: the encrypted composer")
    time.sleep(1)
    assert not discourse_composer_open(alice)
    alice.composer()
    assert "cannot be edited with the forum's editor" in alice.d.find_element("css selector", "#status").text
    close_encrypted_composer(alice)
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

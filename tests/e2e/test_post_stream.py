"""The post stream as Discourse renders it: embedded replies get their own viewer (and the post's
own viewer stays on the post), small actions are left alone, and a post that comes back from
cloaking shows its viewer at once, at its height, without decrypting again. alice and bob in
Chromium (hostile page scripts + E2E_EXTRA_INJECT, leak oracle on).
"""
from __future__ import annotations

import pytest

from .browser import wait_until
from .conftest import PASSPHRASE
from .convo import published_users, send_new_message, story_fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.real_forum_pass]

TITLE = "Stream test: hidden title"
BODY = "The first post. Secret marker: taupe-kestrel."
REPLY = "A reply to the first post. Secret marker: mauve-axolotl."
SECRETS = [PASSPHRASE, TITLE, BODY, REPLY, "taupe-kestrel", "mauve-axolotl"]

story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob", "carol"], topic_id=None, first=None,
                                              reply=None)


@pytest.fixture(scope="module")
def users(request, ext_dir, tmp_path_factory, srv):
    yield from published_users(request, ext_dir, tmp_path_factory, srv, ("alice", "bob"), "stream", PASSPHRASE)


def test_1_a_conversation_with_a_reply_to_the_first_post(users, srv, story):
    alice, bob = users["alice"], users["bob"]
    send_new_message(alice, ["bob"], TITLE, BODY)
    story.topic_id = alice.wait_topic_page()
    # a plain post in between: Discourse hides "N replies" under a post whose only reply is
    # directly below it (suppress_reply_directly_below, on by default)
    srv.reply("alice", story.topic_id, "A plain word in between.", skip_validations=True)
    bob.to_forum(f"/t/{story.topic_id}")
    story.first = srv.posts(story.topic_id)[0]["id"]
    bob.read_viewer(story.first)
    bob.click_page(".efd-reply")
    bob.composer()
    bob.type("#body", REPLY)
    bob.send_composer()
    bob.wait_topic_page()
    story.reply = srv.posts(story.topic_id)[2]["id"]
    # the server records it as a reply to post 1, so Discourse embeds it under post 1
    srv.forum.db.run("UPDATE posts SET reply_to_post_number = 1 WHERE id = ?", story.reply)
    # and a small action (a participant invited): no cooked, no data-post-id
    srv.add_allowed_user(story.topic_id, "carol")


def test_2_an_embedded_reply_gets_its_own_viewer(users, srv, story):
    bob = users["bob"]
    bob.to_forum(f"/t/{story.topic_id}")
    assert "taupe-kestrel" in bob.read_viewer(story.first)["body"]
    bob.click_page("#post_1 .show-replies")
    wait_until(lambda: bob.d.find_elements("css selector", f'#post_1 .reply[data-post-id="{story.reply}"]'),
               timeout=30, what="the embedded reply under post 1")
    embedded = f'#post_1 .reply[data-post-id="{story.reply}"] iframe.efd-viewer{bob.OURS}'
    frame = wait_until(lambda: (lambda e: e[0] if e else None)(bob.d.find_elements("css selector", embedded)),
                       timeout=60, what="a viewer inside the embedded reply")

    def embedded_state():
        bob.d.switch_to.default_content()
        bob.d.switch_to.frame(bob.d.find_element("css selector", embedded))
        try:
            return bob.d.execute_script("return document.body.dataset.state")
        finally:
            bob.d.switch_to.default_content()
    wait_until(lambda: embedded_state() == "valid", timeout=60, what="the embedded reply decrypted")
    assert frame.is_displayed()
    # post 1's own body is still post 1's viewer, and no ciphertext shows anywhere
    assert bob.d.find_elements("css selector", f'#post_1 iframe.efd-viewer[data-efd-post-id="{story.first}"]{bob.OURS}')
    for cooked in bob.d.find_elements("css selector", "#post_1 .cooked"):
        assert not (cooked.is_displayed() and "BEGIN EFD MESSAGE" in cooked.text)


def test_3_a_post_that_comes_back_from_cloaking_shows_at_once(users, srv, story):
    bob = users["bob"]
    bob.to_forum(f"/t/{story.topic_id}")
    bob.read_viewer(story.reply)
    height = bob.viewer_for(story.reply).size["height"]
    n = srv.post(story.reply)["post_number"]
    bob.d.execute_script("window.__standin.setAutoCloak(false); window.__standin.cloak(arguments[0])", n)
    wait_until(lambda: bob.d.execute_script("return window.__standin.isCloaked(arguments[0])", n), timeout=10,
               what="the reply cloaked")
    mark = len(srv.requests)
    bob.d.execute_script("window.__standin.uncloak(arguments[0])", n)
    frame = bob.viewer_for(story.reply)
    assert frame.size["height"] == height          # at its height before it even loads
    assert "mauve-axolotl" in bob.read_viewer(story.reply)["body"]
    raws = [r for r in srv.requests[mark:] if "include_raw" in (r.get("query") or "")]
    assert raws == []                                # the page view's topic was not fetched again


def test_4_small_actions_are_left_alone(users, story):
    bob = users["bob"]
    bob.to_forum(f"/t/{story.topic_id}")
    bob.read_viewer(story.first)
    for sa in bob.d.find_elements("css selector", "article.small-action"):
        assert not sa.find_elements("css selector", "iframe.efd-viewer")


def test_5_no_secret_reached_the_server(users, oracle):
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)

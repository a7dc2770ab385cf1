"""Participants the server adds to an encrypted PM without a key are named in the viewer; a topic
page fetches its raws once for all its viewers. alice and bob in Chromium on the stand-in (hostile
page scripts + E2E_EXTRA_INJECT, leak oracle on).

Ordered story: alice sends bob an encrypted PM, bob reads it (nobody is named as without a key)
and replies → opening the topic again fetches its raws once for both viewers → acting as the
server, the stand-in silently adds mallory (no key, no key share) to the PM's allowed users →
bob's viewer of the first post names mallory as added by the server without a key, and the posts
still read → no secret reached the server or the page scripts.
"""
from __future__ import annotations

import time

import pytest

from .browser import wait_until
from .conftest import PASSPHRASE
from .convo import published_users, send_new_message, story_fixtures

pytestmark = pytest.mark.e2e

TITLE = "Members test: hidden title"
BODY = "Only for bob. Secret marker: cinnabar-tortoise."
REPLY = "Only for alice. Secret marker: glaucous-marten."
SECRETS = [PASSPHRASE, TITLE, BODY, REPLY, "cinnabar-tortoise", "glaucous-marten", "hidden title"]
WITHOUT_KEY = "Added by the server without a key (cannot read this conversation)"


story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob", "mallory"], topic_id=None,
                                              first_post_id=None, reply_post_id=None)


@pytest.fixture(scope="module")
def users(request, ext_dir, tmp_path_factory, srv):
    yield from published_users(request, ext_dir, tmp_path_factory, srv, ("alice", "bob"), "members", PASSPHRASE)


def test_1_alice_writes_to_bob_who_replies(users, srv, story):
    alice, bob = users["alice"], users["bob"]
    send_new_message(alice, ["bob"], TITLE, BODY)
    story.topic_id = alice.wait_topic_page()
    story.first_post_id = srv.posts(story.topic_id)[0]["id"]
    alice.to_forum("/")   # from now on only bob's page shows the topic
    bob.to_forum(f"/t/{story.topic_id}")
    shown = bob.read_viewer(story.first_post_id)
    assert shown["title"] == TITLE and "cinnabar-tortoise" in shown["body"]
    assert shown["warnings"] == ""
    bob.click_page(".efd-reply")
    bob.composer()
    bob.type("#body", REPLY)
    bob.send_composer()
    assert bob.wait_topic_page() == story.topic_id
    story.reply_post_id = srv.posts(story.topic_id)[1]["id"]


def test_2_a_topic_page_fetches_the_raws_once_for_all_its_viewers(users, srv, story):
    bob = users["bob"]
    # The page bob was sent to after replying may still be fetching for its own viewers: leave it,
    # and count from when the forum has been quiet for a moment.
    bob.to_forum("/")
    quiet_since = {"n": -1, "at": 0.0}

    def quiet():   # the hostile page scripts report every second: they do not count
        n = sum(1 for r in srv.requests if not r["path"].startswith("/__hostile"))
        if n != quiet_since["n"]:
            quiet_since.update(n=n, at=time.monotonic())
        return time.monotonic() - quiet_since["at"] > 1.5
    wait_until(quiet, timeout=30, interval=0.25, what="the forum to be quiet")
    mark = len(srv.requests)
    bob.to_forum(f"/t/{story.topic_id}")
    assert "glaucous-marten" in bob.read_viewer(story.reply_post_id)["body"]
    assert bob.read_viewer(story.first_post_id)["title"] == TITLE
    raws = [r for r in srv.requests[mark:]
            if r["app_path"] == f"/t/{story.topic_id}/posts.json" and "include_raw=true" in (r["query"] or "")]
    assert len(raws) == 1, [r["raw_uri"] for r in raws]


def test_3_a_member_added_by_the_server_without_a_key_is_named(users, srv, story):
    bob = users["bob"]
    srv.add_allowed_user(story.topic_id, "mallory")
    assert "mallory" in srv.topic(story.topic_id)["allowed_usernames"]
    bob.to_forum(f"/t/{story.topic_id}")
    shown = bob.read_viewer(story.first_post_id)
    assert shown["warnings"] == f"{WITHOUT_KEY}: mallory"
    assert shown["title"] == TITLE and "cinnabar-tortoise" in shown["body"]
    # Only the first post's viewer speaks for the conversation's members.
    reply = bob.read_viewer(story.reply_post_id)
    assert "glaucous-marten" in reply["body"] and reply["warnings"] == ""


def test_4_no_secret_reached_the_server_or_the_page_scripts(users, oracle):
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)
    for name in ("alice", "bob"):
        loot = users[name].hostile_loot()
        for s in ("cinnabar", "glaucous", TITLE, PASSPHRASE):
            assert s not in loot, f"{name}'s page scripts saw {s!r}"

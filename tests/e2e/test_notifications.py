"""Desktop notifications for new encrypted messages: alice and bob in Chromium on the stand-in
(hostile page scripts + E2E_EXTRA_INJECT, leak oracle on).

Ordered story: alice turns notifications on in the options → the first poll only records what is
there → bob writes to alice → the next poll shows one browser notification with bob's name and
the decrypted title, pointing at the topic → a second poll shows nothing new → while alice's key
is locked, a new message is notified without its title → the title never reached the forum page
(the hostile page's loot) nor the server.
"""
from __future__ import annotations

import pytest

from .browser import wait_until
from .conftest import PASSPHRASE
from .convo import ForumUser, published_users, send_new_message, story_fixtures

pytestmark = pytest.mark.e2e

TITLE = "Notified title: magenta-heron"
BODY = "Notified body: cobalt-lynx"
TITLE_LOCKED = "Notified while locked: russet-gecko"
SECRETS = [PASSPHRASE, TITLE, BODY, "magenta-heron", "cobalt-lynx", "russet-gecko"]

story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob"], topic_id=None)


@pytest.fixture(scope="module")
def users(request, ext_dir, tmp_path_factory, srv):
    yield from published_users(request, ext_dir, tmp_path_factory, srv, ("alice", "bob"), "notify", PASSPHRASE)


def poll(u: ForumUser) -> list[dict]:
    """Runs the router's notification poll now (a forum tab of the user is open)."""
    u.to_forum("/")
    return u.call("test.notify_poll")["notified"]


def browser_notifications(u: ForumUser) -> list[str]:
    """The ids of the notifications the browser holds for the extension."""
    u.call("engine.status")   # the extension tab
    return sorted(u.d.execute_async_script(
        "const done = arguments[arguments.length - 1]; chrome.notifications.getAll((n) => done(Object.keys(n)));"))


def test_1_alice_turns_notifications_on(users):
    alice = users["alice"]
    alice.ext_page("ui/options.html")
    assert alice.call("notify.get")["enabled"] is False
    box = wait_until(lambda: alice.d.find_element("css selector", "#notify-toggle"), what="the notification setting")
    box.click()
    wait_until(lambda: "Notifications are on" in alice.d.find_element("css selector", "#notify-msg").text,
               timeout=30, what="notifications turned on")
    assert alice.call("notify.get") == {"enabled": True, "permitted": True}
    assert poll(alice) == []   # the first poll only records what is there


def test_2_a_new_message_is_notified_with_its_decrypted_title(users, srv, story):
    alice, bob = users["alice"], users["bob"]
    send_new_message(bob, ["alice"], TITLE, BODY)
    story.topic_id = bob.wait_topic_page()
    shown = poll(alice)
    assert len(shown) == 1, shown
    n = shown[0]
    assert n["title"] == "New encrypted message" and n["message"] == f"bob in “{TITLE}”"
    assert n["url"] == f"{srv.url}/t/{story.topic_id}"
    assert n["id"] in browser_notifications(alice)
    assert poll(alice) == []   # nothing new since


def test_3_while_locked_the_notification_has_no_title(users, story):
    alice, bob = users["alice"], users["bob"]
    alice.call("identity.lock")
    send_new_message(bob, ["alice"], TITLE_LOCKED, "locked body")
    bob.wait_topic_page()
    shown = poll(alice)
    assert [n["message"] for n in shown] == ["From bob. Unlock your key to read it."]
    alice.call("identity.unlock", {"passphrase": PASSPHRASE})


def test_4_the_titles_never_reached_the_forum_page(users):
    loot = users["alice"].hostile_loot()
    for secret in ("magenta-heron", "russet-gecko"):
        assert secret not in loot

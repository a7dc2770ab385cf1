"""The main send/read flow with Firefox ESR: alice in Firefox, bob in Chromium, on the stand-in
with its hostile scripts (plus E2E_EXTRA_INJECT) and the leak oracle.

Ordered module story: both publish keys → alice (Firefox) sends an encrypted PM with a title →
bob (Chromium) reads it and replies → alice reads the reply in Firefox → locked, alice unlocks
from the viewer in the extension's unlock window.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import missing_tool

from .browser import FIREFOX, ChromiumExt, FirefoxExt
from .conftest import PASSPHRASE
from .convo import ForumUser, browsers, enable_and_publish, import_vector, story_fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.firefox]

TITLE = "Firefox flow: secret title"
BODY = "From Firefox with love: secret phrase apricot-lighthouse."
REPLY = "Chromium answers: secret phrase juniper-anchor."
SECRETS = [PASSPHRASE, TITLE, BODY, REPLY, "apricot-lighthouse", "juniper-anchor"]


class FirefoxUser(ForumUser):
    """Firefox refuses WebDriver navigation to moz-extension:// URLs: FirefoxExt.open_page reuses
    the extension's own tab (opened at install) and navigates it from inside."""

    def login(self):
        # The setup page the extension opened at install may reuse the first tab: keep that tab
        # for extension pages and open the forum in a new one.
        self.ext_page("ui/options.html")
        self.d.switch_to.new_window("tab")
        self.b.main_handle = self.d.current_window_handle
        super().login()

    def ext_page(self, path: str):
        if self.ext_handle is not None:
            self.d.switch_to.window(self.ext_handle)
        self.b.open_page(path)
        self.ext_handle = self.d.current_window_handle

    def call(self, type_, payload=None, timeout=120):
        if self.ext_handle is None:
            self.ext_page("ui/options.html")
        self.d.switch_to.window(self.ext_handle)
        return self.b.call(type_, payload, timeout=timeout)


story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob"], topic_id=None)


@pytest.fixture(scope="module")
def pair(request, ext_dir, ext_dir_firefox, tmp_path_factory, srv):
    if not Path(FIREFOX).exists():
        missing_tool("Firefox ESR is not installed")
    with browsers(request) as started:
        alice = FirefoxUser(FirefoxExt.launch(ext_dir_firefox, tmp_path_factory.mktemp("ff-alice")), srv, "alice")
        started.append(alice)
        bob = ForumUser(ChromiumExt.launch(ext_dir, tmp_path_factory.mktemp("ch-bob")), srv, "bob")
        started.append(bob)
        # Firefox opens the extension's setup page in its own tab at install; main_handle stays the forum's.
        alice.login()
        bob.login()
        yield alice, bob


def _setup(u: ForumUser, index: int):
    import_vector(u, index, PASSPHRASE)
    enable_and_publish(u)


def test_1_both_publish_keys(pair, srv):
    alice, bob = pair
    _setup(alice, 0)
    _setup(bob, 1)


def test_2_alice_sends_from_firefox(pair, srv, story):
    alice, _bob = pair
    alice.to_forum("/u/alice/messages")
    alice.click_page(".efd-new-message")
    alice.composer(timeout=90)
    alice.type("#to", "bob\n")
    alice.type("#title", TITLE)
    alice.type("#body", BODY)
    alice.send_composer()
    story.topic_id = alice.wait_topic_page()
    posts = srv.posts(story.topic_id)
    assert len(posts) == 1 and "-----BEGIN EFD MESSAGE-----" in posts[0]["raw"]
    assert srv.topic(story.topic_id)["title"] == "Encrypted message"
    story.first_post_id = posts[0]["id"]
    shown = alice.read_viewer(story.first_post_id)
    assert shown["title"] == TITLE and "apricot-lighthouse" in shown["body"]
    assert "apricot" not in alice.d.page_source


def test_3_bob_reads_in_chromium_and_replies(pair, srv, story):
    _alice, bob = pair
    bob.to_forum(f"/t/{story.topic_id}")
    shown = bob.read_viewer(story.first_post_id)
    assert shown["title"] == TITLE and "apricot-lighthouse" in shown["body"]
    bob.click_page(".efd-reply")
    bob.composer()
    bob.type("#body", REPLY)
    bob.send_composer()
    bob.wait_topic_page()
    posts = srv.posts(story.topic_id)
    assert len(posts) == 2
    story.reply_post_id = posts[1]["id"]


def test_4_alice_reads_the_reply_in_firefox(pair, srv, story, oracle):
    alice, _bob = pair
    alice.to_forum(f"/t/{story.topic_id}")
    assert "juniper-anchor" in alice.read_viewer(story.reply_post_id)["body"]
    assert "juniper" not in alice.d.page_source
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)


def test_5_alice_unlocks_a_locked_viewer_in_the_extension_s_window(pair, story, oracle):
    alice, _bob = pair
    alice.call("identity.lock")
    alice.to_forum(f"/t/{story.topic_id}")
    alice.read_viewer(story.first_post_id, want=("locked",), timeout=30)
    alice.d.switch_to.frame(alice.viewer_for(story.first_post_id))
    alice.unlock_outside(PASSPHRASE)
    shown = alice.read_viewer(story.first_post_id, timeout=60)
    assert shown["title"] == TITLE and "apricot-lighthouse" in shown["body"]
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)

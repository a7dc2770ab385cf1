"""The main send/read flow with Firefox ESR: alice in Firefox, bob in Chromium, on the stand-in
with its hostile scripts (plus E2E_EXTRA_INJECT) and the leak oracle.

Ordered module story: both publish keys → alice (Firefox) sends an encrypted PM with a title →
bob (Chromium) reads it and replies → alice reads the reply in Firefox.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.standin.oracle import LeakOracle
from tests.standin.server import StandinServer, hostile_scripts

from .browser import FIREFOX, ChromiumExt, FirefoxExt, wait_until
from .conftest import PASSPHRASE, vectors
from .convo import ForumUser

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


class Story:
    failed = False
    topic_id = None


@pytest.fixture(scope="module")
def story():
    return Story()


@pytest.fixture(autouse=True)
def _ordered(request, story):
    if story.failed:
        pytest.skip("an earlier step of the story failed")
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        story.failed = True


@pytest.fixture(scope="module")
def oracle():
    o = LeakOracle()
    for s in SECRETS:
        o.register(s)
    return o


@pytest.fixture(scope="module")
def srv(oracle):
    extra = [p for p in os.environ.get("E2E_EXTRA_INJECT", "").split(":") if p.strip()]
    s = StandinServer(inject=hostile_scripts() + extra).start()
    oracle.watch(s)
    for name in ("alice", "bob"):
        s.create_user(name, "standin-password-1", trust_level=1)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def pair(request, ext_dir, ext_dir_firefox, tmp_path_factory, srv):
    if not Path(FIREFOX).exists():
        pytest.skip("Firefox ESR is not installed")
    ff = FirefoxExt.launch(ext_dir_firefox, tmp_path_factory.mktemp("ff-alice"))
    ch = None
    try:
        ch = ChromiumExt.launch(ext_dir, tmp_path_factory.mktemp("ch-bob"))
        alice, bob = FirefoxUser(ff, srv, "alice"), ForumUser(ch, srv, "bob")
        # Firefox opens the extension's setup page in its own tab at install; main_handle stays the forum's.
        alice.login()
        bob.login()
        yield alice, bob
    finally:
        failed = any(getattr(i, "rep_call", None) is not None and i.rep_call.failed for i in request.session.items
                     if i.module is request.module)
        for b in (ff, ch):
            if b is None:
                continue
            if failed:
                print(f"\n===== log of {b.name} =====")
                for line in b.logs()[-150:]:
                    print(line[:2000])
            b.close()


def _setup(u: ForumUser, index: int, srv):
    case = vectors("identities")["cases"][index]
    clear = next(e for e in case["exports"] if e["passphrase"] is None)
    u.ext_page("ui/options.html")
    u.b.engine_ready(timeout=180)
    u.b.import_identity(clear["private"], PASSPHRASE)
    u.call("site.enable", {"origin": srv.url})
    u.to_forum("/")
    assert u.inbox() == "ready"
    u.b.click("#publish-btn")
    wait_until(lambda: u.page_state("#publish-state") == "published", timeout=90, what=f"{u.username}: key published")
    assert "-----BEGIN EFD PUBLIC KEY-----" in srv.user(u.username)["bio_raw"]


def test_1_both_publish_keys(pair, srv):
    alice, bob = pair
    _setup(alice, 0, srv)
    _setup(bob, 1, srv)


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

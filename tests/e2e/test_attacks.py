"""The red team: attacks of a malicious forum (its page scripts and its server) against alice and
bob, in Chromium. Each test asserts the attack fails, with the product's own evidence: what the
composer or the viewer shows, whether a button is armed, whether anything was posted or reached
the server. The page attacks are tests/standin/hostile/attacks/dispatch.js, switched on per page
load through the page's localStorage; the server attacks use the stand-in's powers. All of it runs
beside the usual hostile scripts and E2E_EXTRA_INJECT. THREAT_MODEL.md §6 lists them.
"""
from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from pycore import inband
from pycore.inband import messages
from pycore.plugin import identity

from .browser import wait_until
from .conftest import PASSPHRASE
from .convo import ForumUser, published_users, send_new_message, story_fixtures

pytestmark = pytest.mark.e2e

DISPATCH = Path(__file__).resolve().parents[1] / "standin" / "hostile" / "attacks" / "dispatch.js"
TITLE_A = "Attack test A: hidden title"
TITLE_B = "Attack test B: with mallory"
BODY_A = "Conversation A. Secret marker: obsidian-lynx."
BODY_B = "Conversation B. Secret marker: chartreuse-mole."
REPLY = "A reply that must stay in A. Secret marker: russet-wren."
FORGED = "Forged by the server. Secret marker: forged-amber-kite."
PHRASE = "blue heron at dawn"
SECRETS = [PASSPHRASE, TITLE_A, TITLE_B, BODY_A, BODY_B, REPLY, "obsidian-lynx", "chartreuse-mole", "russet-wren",
           PHRASE, "blue heron"]

story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob", "mallory"], a=None, b=None, a_first=None)


@pytest.fixture(scope="module")
def users(request, ext_dir, tmp_path_factory, srv):
    srv.inject(DISPATCH)
    yield from published_users(request, ext_dir, tmp_path_factory, srv, ("alice", "bob"), "attacks", PASSPHRASE)


@pytest.fixture(scope="module")
def prims():
    from pycore.primitives import default_primitives
    return default_primitives()


def run(coro):
    return asyncio.run(coro)


def attack(u: ForumUser, name: str | None, arg: str | None = None):
    """Switches the forum's page attack for the pages `u` loads next."""
    u.to_forum("/", ready=False)
    u.d.execute_script("localStorage.removeItem('attack'); localStorage.removeItem('attack_arg');"
                       "if (arguments[0]) localStorage.setItem('attack', arguments[0]);"
                       "if (arguments[1]) localStorage.setItem('attack_arg', arguments[1]);", name, arg)


def open_reply_composer(u: ForumUser, topic_id: int):
    u.to_forum(f"/t/{topic_id}")
    u.click_page(".efd-reply")
    u.composer()


def posts_of(srv, topic_id):
    return srv.posts(topic_id)


def test_01_two_conversations_and_a_security_phrase(users, srv, story, prims):
    alice, bob = users["alice"], users["bob"]
    # mallory (the server's friend) has a published key, so alice can include her in B
    mallory = run(identity.generate(prims))
    srv.set_bio("mallory", run(inband.make_bio_block(prims, mallory)))
    send_new_message(alice, ["bob"], TITLE_A, BODY_A)
    story.a = alice.wait_topic_page()
    send_new_message(alice, ["bob", "mallory"], TITLE_B, BODY_B)
    story.b = alice.wait_topic_page()
    story.a_first = posts_of(srv, story.a)[0]["id"]
    bob.ext_page("ui/options.html")
    bob.call("settings.set", {"security_phrase": PHRASE})
    bob.to_forum(f"/t/{story.a}")
    assert "obsidian-lynx" in bob.read_viewer(story.a_first)["body"]


def test_02_the_page_cannot_choose_the_conversation_a_reply_goes_to(users, srv, story):
    """The page says bob's topic A is topic B (ids and URL): the composer names the conversation
    the reply would really go to, from the engine's verified first post: B, with mallory."""
    bob = users["bob"]
    attack(bob, "swap_topic", str(story.b))
    try:
        open_reply_composer(bob, story.a)
        title = bob.d.find_element("css selector", "#conversation-title").text
        people = bob.d.find_element("css selector", "#conversation-participants").text
        assert TITLE_B in title and "mallory" in people, (title, people)
        assert TITLE_A not in title
        bob.d.find_element("css selector", "#cancel-btn").click()
    finally:
        attack(bob, None)
    # without the attack, the same button names A and the reply lands in A
    open_reply_composer(bob, story.a)
    assert TITLE_A in bob.d.find_element("css selector", "#conversation-title").text
    bob.type("#body", REPLY)
    bob.send_composer()
    assert bob.wait_topic_page() == story.a
    assert len(posts_of(srv, story.a)) == 2 and len(posts_of(srv, story.b)) == 1
    # a reply's viewer names its conversation
    shown = bob.read_viewer(posts_of(srv, story.a)[1]["id"])
    assert "russet-wren" in shown["body"]
    bob.d.switch_to.frame(bob.viewer_for(posts_of(srv, story.a)[1]["id"]))
    assert TITLE_A in bob.d.find_element("css selector", "#conversation-title").text
    bob.d.switch_to.default_content()


def test_03_a_key_shown_once_verifies_nothing(users, srv, story, prims):
    """Forge, then restore: the server shows bob a forged key in alice's bio once, posts a message
    "from alice" signed with it, and serves the real bio again. bob never sees it as alice's."""
    bob = users["bob"]
    real_bio = srv.user("alice")["bio_raw"]
    forger = run(identity.generate(prims))
    forged_bio = inband.put_bio_block(inband.remove_bio_block(real_bio), run(inband.make_bio_block(prims, forger)))
    bob_key = run(inband.find_bio_block(prims, srv.user("bob")["bio_raw"]))
    # bob marks alice verified first (the strongest state to abuse)
    fp = bob.call("keys.check", {"origin": srv.origin, "username": "alice", "bio_raw": real_bio})["fingerprint"]
    bob.call("keys.mark_verified", {"origin": srv.origin, "username": "alice", "fingerprint": fp})
    srv.serve_bio_to("bob", "alice", forged_bio)
    bob.to_forum(f"/t/{story.a}")                    # bob's viewer looks up alice's key: the forged one
    bob.read_viewer(story.a_first, want=("valid", "key_changed"))
    wait_until(lambda: bob.call("keys.check", {"origin": srv.origin, "username": "alice",
                                               "bio_raw": forged_bio})["status"] == "key_changed",
               timeout=10, what="bob's engine saw the forged key")
    srv.serve_bio_to("bob", "alice", None)
    new = run(inband.start_conversation(prims, forger, "alice", [("bob", bob_key)], "Urgent", FORGED,
                                        inband.iso_time()))
    post = srv.create_pm("alice", ["bob"], inband.PLACEHOLDER_TITLE, new.raw, skip_validations=True)
    for _ in range(2):   # while the forged key is pending, and after the real key is back
        bob.to_forum(f"/t/{post['topic_id']}")
        shown = bob.read_viewer(post["id"], want=("key_not_accepted", "wrong_author", "valid"))
        assert shown["state"] in ("key_not_accepted", "wrong_author"), shown
        assert "forged-amber-kite" not in (shown["body"] or "") + shown["content"]


def _composer_refuses_to_send(u: ForumUser, srv, topic_id):
    u.type("#body", "this must not be sent")
    time.sleep(2.5)   # longer than the arming delay
    btn = u.d.find_element("css selector", "#send-btn")
    assert btn.get_attribute("data-armed") == "0"
    before = len(posts_of(srv, topic_id))
    btn.click()
    wait_until(lambda: u.composer_state() == "blocked", timeout=10, what="the click refused")
    time.sleep(1)
    assert len(posts_of(srv, topic_id)) == before


@pytest.mark.parametrize("how", ["transparent_composer", "cover_composer"])
def test_04_a_hidden_or_covered_composer_does_not_send(users, srv, story, how):
    bob = users["bob"]
    attack(bob, how)
    try:
        open_reply_composer(bob, story.a)
        _composer_refuses_to_send(bob, srv, story.a)
    finally:
        attack(bob, None)


def test_05_synthetic_clicks_open_no_composer(users, story):
    bob = users["bob"]
    bob.to_forum(f"/t/{story.a}")
    wait_until(lambda: bob.d.find_elements("css selector", ".efd-reply"), timeout=30, what="the reply button")
    bob.d.execute_script("const b = document.querySelector('.efd-reply'); b.click();"
                         "b.dispatchEvent(new MouseEvent('click', {bubbles: true}));")
    time.sleep(2)
    assert not bob.d.find_elements("css selector", "iframe.efd-composer")


def test_06_focus_taken_while_typing_is_reported(users, story):
    bob = users["bob"]
    attack(bob, "steal_focus")
    try:
        open_reply_composer(bob, story.a)
        assert not bob.d.find_element("css selector", "#focus-warning").is_displayed()
        bob.d.find_element("css selector", "#body").send_keys("typing along")
        wait_until(lambda: bob.d.find_element("css selector", "#focus-warning").is_displayed(), timeout=10,
                   what="the focus warning")
    finally:
        bob.d.switch_to.default_content()
        attack(bob, None)


def test_07_a_counterfeit_viewer_neither_stops_the_real_one_nor_shows_the_phrase(users, story):
    bob = users["bob"]
    attack(bob, "counterfeit_viewer")
    try:
        bob.to_forum(f"/t/{story.a}")
        wait_until(lambda: bob.d.execute_script("return (window.__attack || {log: []}).log.includes('faked')"),
                   timeout=30, what="the counterfeit drawn")
        shown = bob.read_viewer(story.a_first)
        assert "obsidian-lynx" in shown["body"]
        bob.d.switch_to.frame(bob.viewer_for(story.a_first))
        assert bob.d.find_element("css selector", "[data-security-phrase]").text == PHRASE
        bob.d.switch_to.default_content()
        assert PHRASE not in bob.d.page_source and "blue heron" not in bob.hostile_loot()
    finally:
        attack(bob, None)


def test_08_viewer_heights_do_not_follow_the_plaintext(users, srv, story):
    alice, bob = users["alice"], users["bob"]
    for body in ("ok", "\n\n".join(f"line {i} of a longer reply" for i in range(15))):
        open_reply_composer(alice, story.a)
        alice.type("#body", body)
        alice.send_composer()
        alice.wait_topic_page()
    short, long_ = posts_of(srv, story.a)[-2:]
    bob.to_forum(f"/t/{story.a}")
    bob.read_viewer(short["id"])
    bob.read_viewer(long_["id"])
    heights = [bob.viewer_for(p["id"]).size["height"] for p in (short, long_)]
    assert heights[0] == heights[1], heights


def test_09_a_flood_of_fake_posts_neither_blocks_real_ones_nor_grows_without_bound(users, srv, story):
    bob = users["bob"]
    attack(bob, "flood", "1500")
    try:
        mark = len(srv.requests)
        bob.to_forum(f"/t/{story.a}")
        wait_until(lambda: bob.d.execute_script("return (window.__attack || {log: []}).log.includes('flooded')"),
                   timeout=30, what="the flood")
        assert "obsidian-lynx" in bob.read_viewer(story.a_first)["body"]
        time.sleep(2)
        real_posts = len(posts_of(srv, story.a))
        assert len(bob.viewers()) <= 2 * real_posts
        # posts claiming other topics than the page's cost no request at all
        made_up = [r["path"] for r in srv.requests[mark:] if re.search(r"/t/9\d{5}\b", r["path"])]
        assert made_up == [], made_up[:5]
    finally:
        attack(bob, None)


def test_10_a_first_post_with_many_entries_for_me_is_cheap(users, srv, story):
    bob = users["bob"]
    bob_fp = bytes.fromhex(bob.call("identity.public")["fingerprint"])
    genuine = inband.a256_decode(srv.post(story.a_first)["raw"].split(inband.MSG_BEGIN)[1].split(inband.MSG_END)[0])
    rest = genuine[3 + genuine[2] * 516:]
    # as many entries under bob's hint as fit in one post (the engine tries two: tests/test_inband.py counts them)
    forged = bytes([1, 1, 55]) + (bob_fp[:4] + bytes(512)) * 55 + rest
    raw = messages._armour_message(forged)
    post = srv.create_pm("alice", ["bob"], inband.PLACEHOLDER_TITLE, raw, skip_validations=True)
    bob.to_forum(f"/t/{post['topic_id']}")
    shown = bob.read_viewer(post["id"], want=("cannot_decrypt", "malformed", "error"), timeout=60)
    assert shown["state"] == "cannot_decrypt"
    bob.to_forum(f"/t/{story.a}")
    assert "obsidian-lynx" in bob.read_viewer(story.a_first, timeout=30)["body"]


def test_11_a_base_path_written_by_the_page_does_not_steer_requests(users, srv, story):
    bob = users["bob"]
    attack(bob, "fake_base_uri", "/attack-base")
    try:
        mark = len(srv.requests)
        bob.to_forum(f"/t/{story.a}")
        assert "obsidian-lynx" in bob.read_viewer(story.a_first)["body"]
        # the forum's own page code follows the base it was given (its screen-time reports):
        # what matters is that none of the extension's requests does
        steered = [r["raw_uri"] for r in srv.requests[mark:]
                   if r["path"].startswith("/attack-base") and not r["path"].endswith("/topics/timings")]
        assert steered == []
    finally:
        attack(bob, None)


def test_12_nothing_reached_the_server_or_the_page_scripts(users, oracle):
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)
    for name in ("alice", "bob"):
        loot = users[name].hostile_loot()
        for s in ("obsidian", "chartreuse", "russet", TITLE_A, TITLE_B, PASSPHRASE, "blue heron"):
            assert s not in loot, f"{name}'s page scripts saw {s!r}"

"""The frames look like the forum around them, in real Chromium: on the stand-in's dark colour
scheme the viewer, its sandboxed body and the composer take the page's colours and font, and the
post is rendered as Discourse cooks it (emoji, line breaks, mentions that notify nobody); a page
whose colours would make text unreadable gets the extension's own look; at a phone's 360 px width
nothing of a viewer or of the composer lies outside the viewport, and in Discourse's mobile layout
(which the forum switches to below 40rem, live) its icon-only Reply opens our composer, nothing of
the page covers our Send, and a reply goes out. Screenshots of both widths are written and checked.

alice (light theme) sends bob (dark theme) a message with a table and code."""
from __future__ import annotations

import struct

import pytest

from .browser import wait_until
from .conftest import PASSPHRASE
from .convo import ForumUser, published_users, send_new_message, story_fixtures

pytestmark = pytest.mark.e2e

TITLE = "Look test: hidden title"
BODY = ("Secret marker teal-ibis. :tada: for @alice, not for bob@example.org\nsecond line\n\n| fruit | count |\n|---|---|\n| pear | 3 |\n| fig | 12 |\n\n"
        "```\nlet a = 1;\n```\n\nAnd `inline code` here.")
MOBILE_REPLY = "Sent from the mobile layout: marker slate-heron."
SECRETS = [PASSPHRASE, TITLE, "teal-ibis", "slate-heron"]
PHONE = (360, 780)

story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob"], topic_id=None, first_post_id=None)


@pytest.fixture(scope="module")
def users(request, ext_dir, tmp_path_factory, srv):
    yield from published_users(request, ext_dir, tmp_path_factory, srv, ("alice", "bob"), "look", PASSPHRASE)


def rgb(u: ForumUser, css: str, prop: str) -> str:
    return u.d.execute_script(f"return getComputedStyle(document.querySelector({css!r}))[{prop!r}]")


def in_viewer(u: ForumUser, post_id: int):
    u.read_viewer(post_id)
    u.d.switch_to.frame(u.viewer_for(post_id))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_1_on_a_dark_theme_the_viewer_takes_the_page_s_colours(users, srv, story):
    alice, bob = users["alice"], users["bob"]
    srv.set_theme("bob", "dark")
    send_new_message(alice, ["bob"], TITLE, BODY)
    story.topic_id = alice.wait_topic_page()
    story.first_post_id = srv.posts(story.topic_id)[0]["id"]
    bob.to_forum(f"/t/{story.topic_id}")
    page_bg = rgb(bob, "body", "backgroundColor")
    page_fg = rgb(bob, "body", "color")
    assert page_bg == "rgb(28, 28, 28)" and page_fg == "rgb(221, 221, 221)"   # the stand-in's dark scheme
    in_viewer(bob, story.first_post_id)
    d = bob.d
    assert d.execute_script("return document.documentElement.dataset.scheme") == "dark"
    assert rgb(bob, "body", "backgroundColor") == page_bg and rgb(bob, "body", "color") == page_fg
    # the decrypted post in its sandbox: the same colours, Discourse-like tables and code
    d.switch_to.frame(d.find_element("css selector", "iframe.body"))
    assert rgb(bob, "body", "backgroundColor") == page_bg and rgb(bob, "body", "color") == page_fg
    assert [c.text for c in d.find_elements("css selector", "td")] == ["pear", "3", "fig", "12"]
    assert rgb(bob, "td", "borderBottomStyle") == "solid"
    assert rgb(bob, "pre", "backgroundColor") not in (page_bg, "rgba(0, 0, 0, 0)")
    # as Discourse cooks: emoji shortcodes, a line break for a single newline, and mentions,
    # which here notify nobody (an e-mail address is no mention)
    first = d.find_element("css selector", "p")
    assert "\U0001F389" in first.text and ":tada:" not in first.text
    assert d.find_elements("css selector", "p br")
    mentions = d.find_elements("css selector", ".mention")
    assert [m.text for m in mentions] == ["@alice"] and "not notified" in mentions[0].get_attribute("title")
    d.switch_to.default_content()
    # the light reader is unchanged
    in_viewer(alice, story.first_post_id)
    assert alice.d.execute_script("return document.documentElement.dataset.scheme") == "light"
    assert rgb(alice, "body", "backgroundColor") == "rgb(255, 255, 255)"
    alice.d.switch_to.default_content()


def test_2_a_page_that_would_make_text_unreadable_gets_our_own_look(users, story):
    bob = users["bob"]
    bob.to_forum(f"/t/{story.topic_id}")
    pid = story.first_post_id
    bob.read_viewer(pid)
    # the page makes its text the colour of its background, then the post stream re-creates the
    # post (cloaking): the new viewer must not take colours that hide its warnings
    bob.d.execute_script("document.body.style.color = getComputedStyle(document.body).backgroundColor;"
                         "window.__standin.cloak(1);")
    sel = f'iframe.efd-viewer[data-efd-post-id="{pid}"]'
    wait_until(lambda: not bob.d.find_elements("css selector", sel), timeout=10, what="viewer gone while cloaked")
    bob.d.execute_script("window.__standin.uncloak(1)")
    in_viewer(bob, pid)
    assert bob.d.execute_script("return document.documentElement.dataset.scheme") == "light"
    assert rgb(bob, "body", "backgroundColor") == "rgb(255, 255, 255)" and rgb(bob, "body", "color") == "rgb(27, 31, 36)"
    bob.d.switch_to.default_content()


def test_3_at_360_px_viewer_and_composer_stay_inside_the_viewport(users, story, tmp_path):
    bob = users["bob"]
    wide = bob.d.get_window_size()
    try:
        bob.d.set_window_size(*PHONE)
        bob.to_forum(f"/t/{story.topic_id}")
        bob.read_viewer(story.first_post_id)
        width = bob.d.execute_script("return document.documentElement.clientWidth")
        assert width <= PHONE[0]
        for r in bob.d.execute_script(
                "return [...document.querySelectorAll('iframe.efd-viewer')].map((f) => f.getBoundingClientRect().toJSON())"):
            assert r["left"] >= 0 and r["right"] <= width, r
        # nothing inside the viewer is wider than the frame
        in_viewer(bob, story.first_post_id)
        assert bob.d.execute_script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        bob.d.switch_to.default_content()
        shot = bob.d.get_screenshot_as_png()
        assert png_size(shot)[0] <= PHONE[0] and len(shot) > 5_000
        (tmp_path / "viewer-360-dark.png").write_bytes(shot)
        # the composer (an encrypted reply) docks inside the viewport, its fields inside the frame
        bob.click_page(".efd-reply")
        bob.composer()
        assert bob.d.execute_script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        assert bob.d.execute_script("return document.documentElement.dataset.scheme") == "dark"
        send = bob.d.execute_script("return document.querySelector('#send-btn').getBoundingClientRect().toJSON()")
        assert send["right"] <= bob.d.execute_script("return document.documentElement.clientWidth")
        bob.d.switch_to.default_content()
        dock = bob.d.execute_script(
            "return document.querySelector('.efd-composer-dock').getBoundingClientRect().toJSON()")
        assert dock["left"] >= 0 and dock["right"] <= width and dock["width"] >= width * 0.9, dock
        shot = bob.d.get_screenshot_as_png()
        (tmp_path / "composer-360-dark.png").write_bytes(shot)
        assert png_size(shot)[0] <= PHONE[0] and len(shot) > 5_000
    finally:
        bob.d.switch_to.default_content()
        bob.d.set_window_size(wide["width"], wide["height"])


def mobile_view(u: ForumUser) -> bool:
    return u.d.execute_script("return document.documentElement.classList.contains('mobile-view')")


def uncovered(u: ForumUser, frame_css: str, inner_css: str) -> bool:
    """Whether a tap at the centre of `inner_css` (inside our frame) reaches our frame, not
    something of the page drawn above it. The driver is on the page's top document."""
    frame = u.d.find_element("css selector", frame_css)
    outer = u.d.execute_script("return arguments[0].getBoundingClientRect().toJSON()", frame)
    u.d.switch_to.frame(frame)
    inner = u.d.execute_script(f"return document.querySelector({inner_css!r}).getBoundingClientRect().toJSON()")
    u.d.switch_to.default_content()
    x, y = outer["left"] + inner["left"] + inner["width"] / 2, outer["top"] + inner["top"] + inner["height"] / 2
    return u.d.execute_script("return document.elementFromPoint(arguments[0], arguments[1]) === arguments[2]", x, y, frame)


def test_3b_in_discourse_s_mobile_layout_its_reply_opens_ours_and_sending_works(users, srv, story):
    bob = users["bob"]
    wide = bob.d.get_window_size()
    pid = story.first_post_id
    try:
        bob.d.set_window_size(*PHONE)
        bob.to_forum(f"/t/{story.topic_id}")
        wait_until(lambda: mobile_view(bob), timeout=10, what="the forum's mobile layout")
        bob.read_viewer(pid)
        # Discourse's Reply on a post is an icon on mobile (no `.create`): it opens our composer
        bob.click_page(f'article[data-post-id="{pid}"] .post-controls .post-action-menu__reply')
        bob.composer()
        bob.d.switch_to.default_content()
        assert "open" not in bob.d.find_element("css selector", "#reply-control").get_attribute("class")
        assert uncovered(bob, "iframe.efd-composer", "#send-btn")
        bob.composer()
        bob.type("#body", MOBILE_REPLY)
        bob.send_composer()
        assert bob.wait_topic_page() == story.topic_id
        reply_id = srv.posts(story.topic_id)[1]["id"]
        wait_until(lambda: mobile_view(bob), timeout=10, what="the mobile layout after sending")
        assert "Sent from the mobile layout" in bob.read_viewer(reply_id)["body"]
        # two posts: Discourse shows its progress fixed at the bottom; our composer stays above it
        assert bob.d.find_element("css selector", "#topic-progress-wrapper").is_displayed()
        bob.click_page(".efd-reply")
        bob.composer()
        bob.d.switch_to.default_content()
        assert uncovered(bob, "iframe.efd-composer", "#send-btn")
        width = bob.d.execute_script("return document.documentElement.clientWidth")
        for r in bob.d.execute_script(
                "return [...document.querySelectorAll('iframe.efd-viewer, .efd-composer-dock')].map((f) => f.getBoundingClientRect().toJSON())"):
            assert r["left"] >= 0 and r["right"] <= width, r
    finally:
        bob.d.switch_to.default_content()
        bob.d.set_window_size(wide["width"], wide["height"])
    # back to the desktop layout, live: each post keeps exactly one viewer, still readable
    wait_until(lambda: not mobile_view(bob), timeout=10, what="the desktop layout again")
    bob.read_viewer(reply_id)
    ids = [v.get_attribute("data-efd-post-id") for v in bob.viewers()]
    assert sorted(ids) == sorted([str(pid), str(reply_id)]), ids


def test_4_no_secret_reached_the_server_or_the_page_scripts(users, oracle):
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)

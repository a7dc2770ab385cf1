"""The stand-in's pages against the selectors of Discourse's own system-spec page objects
(spec/system/page_objects/**) and the component templates they rely on: what Discourse's tests
find on a real Discourse, this test finds on the stand-in. Headless Chromium; run under
`flock /tmp/browser.lock`."""
from __future__ import annotations

import time

import pytest

from tests.conftest import missing_tool
from tests.standin import chromium as chromium_mod
from tests.standin.browser import browser_login, wait_route

pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402

PW = "pw-123456"
pytestmark = pytest.mark.timeout(240)

TOPIC_PO = "pages/topic.rb @ edeb04f"
POST_PO = "components/post.rb @ 1aa9a6e"
COMPOSER_PO = "components/composer.rb @ 9f15be7 + idx:1174013448"
PM_MAP_PO = "components/private_message_map.rb @ 3ddc10f"

# (selector, source). {n}/{id}/{tid} are filled in from the seeded topic.
TOPIC_PAGE = [
    ("h1[data-topic-id='{tid}']", TOPIC_PO),
    ("h1 .fancy-title", TOPIC_PO),
    (".topic-post:not(.staged) #post_1", TOPIC_PO),
    (".topic-post:not(.staged) #post_2", TOPIC_PO),
    (".post-stream > [data-post-number='1']", "spec/system/post_stream_spec.rb idx:3154974343"),
    ("#post_1 .contents > .cooked", POST_PO),
    ("#post_2 .reply.create", POST_PO),
    ("#post_2 .post-controls .actions", TOPIC_PO),
    ("#post_2 .post-controls .reply", TOPIC_PO),
    ("#post_2 .post-controls .show-more-actions", TOPIC_PO),
    ("#post_1 .post-controls .edit", "post/menu/buttons/edit.gjs @ 216662e (own post: not hidden)"),
    ("#post_1 .show-replies", POST_PO),
    ("#post_1 .post__topic-map.topic-map.--op .private-message-map .participants .user", PM_MAP_PO),
    ("#post_1 .private-message-map .controls .add-participant-btn", PM_MAP_PO),
    ("#post_1 .private-message-map .add-remove-participant-btn", PM_MAP_PO),
    ("#topic-footer-buttons .create", TOPIC_PO),
    ("#topic-footer-buttons .btn-primary", TOPIC_PO),
    ("article.small-action#post_{small}", "post/small-action.gjs @ 016d1c3"),
]
REPLIES = [
    (".embedded-posts", TOPIC_PO),
    ("#embedded-posts__bottom--1 .reply[data-post-id='{reply_id}'] a.post-info.arrow", POST_PO),
    ("#embedded-posts__bottom--1 .reply[data-post-id='{reply_id}'] .cooked", "post/embedded.gjs @ 25ff2d2"),
    ("#embedded-posts__top--{deep} .reply", POST_PO),
]
COMPOSER = [
    ("#reply-control.open", COMPOSER_PO),
    ("#reply-control .d-editor .d-editor-input", COMPOSER_PO),
    ("#reply-control .d-editor-input", COMPOSER_PO + " (COMPOSER_INPUT_SELECTOR)"),
    ("#reply-control .save-or-cancel .create", COMPOSER_PO),
    ("#reply-control .save-or-cancel .cancel", COMPOSER_PO),
    ("#reply-control .btn-primary .d-button-label", COMPOSER_PO),
    ("#reply-control .toggle-minimize", COMPOSER_PO),
    ("#reply-control .d-editor-preview-wrapper", COMPOSER_PO),
    ("#reply-control .d-editor-button-bar button.bold", COMPOSER_PO),
    ("#reply-control .composer-action-title", COMPOSER_PO),
]
PM_COMPOSER = [
    ("#reply-control.private-message", "acceptance idx:2661445383"),
    ("#reply-control #reply-title", COMPOSER_PO),
    ("#private-message-users", COMPOSER_PO),
]
RICH_COMPOSER = [
    ("#reply-control .d-editor-input.ProseMirror[contenteditable='true']", COMPOSER_PO + " (RICH_EDITOR)"),
    ("#reply-control .composer-toggle-switch.--rte[data-rich-editor='true']", COMPOSER_PO),
    ("#reply-control .d-editor-container.d-editor-container--rich-editor-enabled", "d-editor.gjs idx:655749126"),
]
MESSAGES = [
    (".user-nav-messages-dropdown .combo-box-header[data-name='Inbox']", "pages/user_private_messages.rb @ 077bf13"),
    (".new-private-message", "system spec idx:16806412031"),
    (".user-navigation-secondary", "pages/user.rb @ 37df44b"),
    (".topic-list .topic-list-item[data-topic-id='{tid}']", "topic list"),
]
PROFILE = [
    (".new-user-wrapper", "pages/user.rb @ 37df44b"),
    (".user-navigation-primary li a.active", "pages/user.rb @ 37df44b"),
    ("section.controls ul li button.btn-primary.compose-pm", "templates/user.gjs @ 015ecbb"),
    ("div.bio", "templates/user.gjs @ 015ecbb"),
]


@pytest.fixture(scope="module")
def driver():
    if not chromium_mod.available():
        missing_tool("Chromium/chromedriver not installed")
    with chromium_mod.chromium(20) as d:
        yield d


def wait_for(d, sel, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if d.find_elements(By.CSS_SELECTOR, sel):
            return True
        time.sleep(0.05)
    return False


def missing(d, table, **fmt):
    return [(sel.format(**fmt), src) for sel, src in table if not wait_for(d, sel.format(**fmt), timeout=3)]


@pytest.fixture
def world(standin):
    standin.settings["cloaking"] = False          # cloaking is checked on its own below
    standin.create_user("alice", PW, trust_level=2, age_days=30)
    standin.create_user("bob", PW, trust_level=1, age_days=30)
    standin.create_user("carol", PW, trust_level=1, age_days=30)
    standin.set_bio("bob", "bob's *bio*")
    first = standin.create_pm("alice", "bob", "Page objects", "post number 1 body", skip_validations=True)
    tid = first["topic_id"]
    reply = standin.reply("bob", tid, "post number 2 body", reply_to_post_number=1, skip_validations=True)
    standin.reply("alice", tid, "post number 3 body", reply_to_post_number=1, skip_validations=True)
    deep = standin.reply("bob", tid, "post number 4 body", reply_to_post_number=2, skip_validations=True)
    standin.forum.invite(standin.user("alice"), tid, "carol")
    small = standin.posts(tid)[-1]["post_number"]
    return {"srv": standin, "tid": tid, "reply_id": reply["id"], "deep": deep["post_number"], "small": small}


def test_topic_page_has_the_page_object_selectors(driver, world):
    d, srv, tid = driver, world["srv"], world["tid"]
    browser_login(d, srv, "alice", f"/t/{tid}")
    wait_route(d, "topic")
    assert missing(d, TOPIC_PAGE, tid=tid, small=world["small"]) == []
    # small actions: no data-post-id, no .cooked; not inside a .topic-post wrapper
    assert d.execute_script(f"const a = document.getElementById('post_{world['small']}');"
                            "return [a.hasAttribute('data-post-id'), a.querySelectorAll('.cooked').length,"
                            " a.parentElement.classList.contains('post-stream')]") == [False, 0, True]
    d.find_element(By.CSS_SELECTOR, "#post_1 .show-replies").click()
    d.find_element(By.CSS_SELECTOR, f"#post_{world['deep']} .reply-to-tab").click()
    assert missing(d, REPLIES, reply_id=world["reply_id"], deep=world["deep"]) == []
    d.find_element(By.CSS_SELECTOR, "#topic-footer-buttons .btn-primary").click()
    assert missing(d, COMPOSER) == []
    assert d.find_element(By.CSS_SELECTOR, "#reply-control .d-editor-input").tag_name == "textarea"
    d.delete_all_cookies()


def test_pm_composer_messages_and_profile(driver, world):
    d, srv = driver, world["srv"]
    browser_login(d, srv, "bob", "/u/bob/messages")
    wait_route(d, "user-messages")
    assert missing(d, MESSAGES, tid=world["tid"]) == []
    d.find_element(By.CSS_SELECTOR, ".new-private-message").click()
    assert missing(d, COMPOSER + PM_COMPOSER) == []
    d.find_element(By.CSS_SELECTOR, "#reply-control .save-or-cancel .cancel").click()
    d.execute_script("window.__standin.navigate('/u/bob/messages/sent')")
    wait_route(d, "user-messages-sent")
    d.execute_script("window.__standin.navigate('/u/alice')")
    wait_route(d, "user")
    assert missing(d, PROFILE) == []
    d.delete_all_cookies()


def test_rich_composer_selectors(driver, world):
    d, srv = driver, world["srv"]
    srv.settings["rich_editor"] = True
    browser_login(d, srv, "alice", f"/t/{world['tid']}")
    wait_route(d, "topic")
    d.find_element(By.CSS_SELECTOR, "#topic-footer-buttons .create").click()
    assert missing(d, COMPOSER + RICH_COMPOSER) == []
    d.delete_all_cookies()


def test_cloaked_posts_match_the_post_stream_spec(driver, standin):
    """spec/system/post_stream_spec.rb: far posts get .post-stream--cloaked; the first post is a
    direct child [data-post-number='1'] and not cloaked at the top; after scrolling to the end
    the last post is not cloaked and the first one is."""
    standin.create_user("alice", PW, age_days=30)
    standin.create_user("bob", PW, age_days=30)
    first = standin.create_pm("alice", "bob", "Scrolling", "post number 1 body", skip_validations=True)
    for i in range(2, 21):
        standin.reply("bob" if i % 2 else "alice", first["topic_id"], f"post number {i} body", skip_validations=True)
    d = driver
    browser_login(d, standin, "alice", f"/t/{first['topic_id']}/1")
    wait_route(d, "topic")
    assert wait_for(d, ".topic-post")
    assert wait_for(d, ".post-stream > [data-post-number='1']")
    assert not d.find_elements(By.CSS_SELECTOR, ".post-stream > [data-post-number='1'].post-stream--cloaked")
    assert wait_for(d, ".post-stream .post-stream--cloaked")
    d.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    assert wait_for(d, ".post-stream > [data-post-number='1'].post-stream--cloaked")
    assert not d.find_elements(By.CSS_SELECTOR, ".post-stream > [data-post-number='20'].post-stream--cloaked")
    d.delete_all_cookies()

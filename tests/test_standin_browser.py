"""The stand-in's pages in headless Chromium: pushState navigation, cloaking, embedded replies,
the post menu, quoting and keyboard shortcuts, the composer (both editors) with Discourse's
draft autosave, subfolder installs, bio editor, themes, and hostile injection under the CSP.
Run under `flock /tmp/browser.lock`."""
from __future__ import annotations

import json
import time

import pytest

from tests.conftest import missing_tool
from tests.standin import chromium as chromium_mod
from tests.standin.browser import browser_login, wait_route
from tests.standin.oracle import LeakOracle

pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

PW = "pw-123456"
TIMEOUT = 20

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def driver():
    if not chromium_mod.available():
        missing_tool("Chromium/chromedriver not installed")
    with chromium_mod.chromium(TIMEOUT) as d:
        yield d


@pytest.fixture
def d(driver, request):
    driver.get_log("browser")   # drop earlier tests' messages
    yield driver
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print("---- browser log ----")
        for line in driver.get_log("browser"):
            print(line)
        print("---- url:", driver.current_url)
    driver.delete_all_cookies()


def wait(fn, what, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except WebDriverException as e:
            last = e
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what} ({last})")


def ready(d, route):
    return wait_route(d, route, TIMEOUT)


def login(d, srv, username, path="/"):
    browser_login(d, srv, username, path)


def css(d, sel):
    return d.find_elements(By.CSS_SELECTOR, sel)


def composer_open(d):
    wait(lambda: "open" in d.find_element(By.ID, "reply-control").get_attribute("class"), "composer open")


def draft_posts(srv):
    return [r for r in srv.requests if r["app_path"] == "/drafts.json" and r["method"] == "POST"]


def form(entry):
    from urllib.parse import parse_qs
    return {k: v[0] for k, v in parse_qs(entry["body"]).items()}


@pytest.fixture
def forum(standin):
    standin.create_user("alice", PW, trust_level=2, age_days=30)
    standin.create_user("bob", PW, trust_level=1, age_days=30)
    return standin


def thread(srv, n, replies_to=None, a="alice", b="bob", title="A long thread"):
    """A PM and n-1 replies, seeded without rate limits; replies_to: {post_number: reply_to}."""
    replies_to = replies_to or {}
    post = srv.create_pm(a, b, title, "post number 1 body", skip_validations=True)
    for i in range(2, n + 1):
        srv.reply(b if i % 2 == 0 else a, post["topic_id"], f"post number {i} body",
                  reply_to_post_number=replies_to.get(i), skip_validations=True)
    return post


def test_login_form(d, forum):
    d.get(forum.url + "/login")
    ready(d, "login")
    d.find_element(By.ID, "login-account-name").send_keys("alice")
    d.find_element(By.ID, "login-account-password").send_keys("wrong")
    d.find_element(By.ID, "login-button").click()
    wait(lambda: d.find_element(By.ID, "modal-alert").text, "login error")
    d.find_element(By.ID, "login-account-password").clear()
    d.find_element(By.ID, "login-account-password").send_keys(PW)
    d.find_element(By.ID, "login-button").click()
    wait(lambda: css(d, "#current-user"), "logged-in header")
    assert d.find_element(By.ID, "current-user").text == "alice"
    cookie = d.get_cookie("_t")
    assert cookie and cookie["httpOnly"]
    assert d.execute_script("return document.cookie").find("_t=") == -1


def test_topic_dom_and_spa_navigation(d, forum):
    post = thread(forum, 2, title="Our plans")
    login(d, forum, "alice", "/u/alice/messages")
    ready(d, "user-messages")
    assert d.execute_script("return document.body.classList.contains('user-messages-page')")
    assert not css(d, 'meta[name="discourse-base-uri"]')         # only on subfolder installs
    d.execute_script("window.__sameDocument = 'yes'")
    d.find_element(By.CSS_SELECTOR, "a.raw-topic-link").click()
    ready(d, "topic")
    assert d.current_url.endswith(f"/t/our-plans/{post['topic_id']}")
    assert d.execute_script("return window.__sameDocument") == "yes"      # no reload
    assert d.execute_script("return performance.getEntriesByType('navigation').length") == 1
    h1 = d.find_element(By.CSS_SELECTOR, "h1[data-topic-id]")
    assert h1.get_attribute("data-topic-id") == str(post["topic_id"])
    assert h1.find_element(By.CSS_SELECTOR, ".fancy-title").text == "Our plans"
    assert d.execute_script("return document.body.classList.contains('archetype-private_message')")
    arts = css(d, ".post-stream > div.topic-post[data-post-number][aria-busy='false'] > "
                  "article.boxed.onscreen-post[data-post-id][data-topic-id][data-user-id]")
    assert [a.get_attribute("id") for a in arts] == ["post_1", "post_2"]
    assert arts[0].get_attribute("data-post-id") == str(post["id"])
    assert arts[0].find_element(By.CSS_SELECTOR, ".post__contents.contents > .cooked").text == "post number 1 body"
    assert arts[1].find_element(By.CSS_SELECTOR, ".names a[data-user-card]").get_attribute("data-user-card") == "bob"
    # the PM's topic map is inside article #1, after its rows
    assert d.execute_script("const m = document.querySelector('#post_1 > .topic-map.--op');"
                            "return !!m && m === document.querySelector('#post_1').lastElementChild")
    assert not css(d, "#post_2 .topic-map")
    assert css(d, "#topic-footer-buttons .btn-primary.create.topic-footer-button")
    assert d.find_element(By.ID, "reply-control").get_attribute("class") == "closed"
    d.back()
    ready(d, "user-messages")
    assert d.execute_script("return window.__sameDocument") == "yes"
    assert not d.execute_script("return document.body.classList.contains('archetype-private_message')")
    d.forward()
    ready(d, "topic")
    # the composer persists across SPA navigations (it lives outside #main-outlet)
    d.find_element(By.CSS_SELECTOR, "#topic-footer-buttons .create").click()
    composer_open(d)
    d.find_element(By.CSS_SELECTOR, "#reply-control textarea.d-editor-input").send_keys("kept")
    d.execute_script("window.__standin.navigate('/u/alice/messages')")
    ready(d, "user-messages")
    assert "open" in d.find_element(By.ID, "reply-control").get_attribute("class")
    assert d.find_element(By.CSS_SELECTOR, "#reply-control .d-editor-input").get_attribute("value") == "kept"
    d.back()
    ready(d, "topic")
    d.find_element(By.ID, "current-user").click()
    ready(d, "user")
    assert d.execute_script("return window.__sameDocument") == "yes"


def test_cloaking_like_the_viewport_tracker(d, forum):
    """Posts more than one viewport height away are cloaked once measured: div#post_N.post-stream--cloaked
    [aria-busy=true] with an inline height and no article; back in view they are rendered anew."""
    forum.settings["cloaking"] = True
    post = thread(forum, 30)
    login(d, forum, "alice", f"/t/{post['topic_id']}")
    ready(d, "topic")
    placeholder_js = ("const e = document.querySelector('.post-stream > [data-post-number=\"%d\"]');"
                      "return e && [e.tagName, e.id, e.className, e.getAttribute('aria-busy'), e.style.height,"
                      " e.querySelectorAll('article, .cooked').length, e.querySelector('p.sr-only') !== null]")
    # the first chunk is 20 posts: the bottom ones are far enough to be cloaked after measuring
    wait(lambda: css(d, ".post-stream > div.post-stream--cloaked"), "far posts cloaked")
    el = d.execute_script(placeholder_js % 20)
    assert el[:4] == ["DIV", "post_20", "post-stream--cloaked", "true"] and el[4].endswith("px") and el[5:] == [0, True]
    inner = d.execute_script("return window.innerHeight")
    geometry = d.execute_script("""return [...document.querySelectorAll('.post-stream > [data-post-number]')].map(e => {
        const r = e.getBoundingClientRect(); return [e.classList.contains('post-stream--cloaked'), r.top, r.bottom]; })""")
    # one viewport height of slack: nothing near the viewport is cloaked, and posts just below it are not
    assert all(bottom <= -inner + 2 or top >= 2 * inner - 2 for cl, top, bottom in geometry if cl)
    assert any(not cl and top >= inner for cl, top, bottom in geometry)
    # manual control for tests
    d.execute_script("window.__standin.setAutoCloak(false)")
    d.execute_script("document.querySelector('#post_2').__mark = 1")
    assert d.execute_script("return window.__standin.cloak(2)")
    assert d.execute_script(placeholder_js % 2)[:4] == ["DIV", "post_2", "post-stream--cloaked", "true"]
    assert not css(d, "article[data-post-id]#post_2")
    assert d.execute_script("return window.__standin.uncloak(2)")
    art = d.find_element(By.CSS_SELECTOR, ".topic-post[data-post-number='2'] > article#post_2.onscreen-post")
    assert art.find_element(By.CSS_SELECTOR, ".cooked").text == "post number 2 body"
    assert d.execute_script("return document.querySelector('#post_2').__mark") is None   # a new subtree
    # scrolling down loads the rest (20-post chunks) and cloaks the top posts
    d.execute_script("window.__standin.setAutoCloak(true)")
    for _ in range(8):
        d.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        time.sleep(0.2)
    wait(lambda: d.execute_script("return document.querySelectorAll('.post-stream > [data-post-number]').length") == 30,
         "all 30 posts in the stream")
    wait(lambda: d.execute_script("return document.querySelector('.post-stream > div#post_1.post-stream--cloaked') !== null"),
         "post 1 cloaked")
    d.execute_script("window.scrollTo(0, 0)")
    wait(lambda: css(d, ".topic-post > article#post_1 .cooked"), "post 1 re-created")
    d.execute_script("document.querySelector('#post_1 .cooked').__old = 1")
    assert d.execute_script("return window.__standin.rerenderCooked(1)")
    assert d.execute_script("return document.querySelector('#post_1 .cooked').__old") is None
    # with the tracker running, a post in view cloaked by the hook stays cloaked until the hook uncloaks it
    assert d.execute_script("return window.__standin.cloak(1)")
    time.sleep(0.5)   # several tracker batches (10 ms each) and a scroll event
    d.execute_script("window.scrollBy(0, 1)")
    time.sleep(0.3)
    assert d.execute_script("return window.__standin.isCloaked(1)") and not css(d, "article#post_1")
    assert d.execute_script("return window.__standin.uncloak(1)")
    wait(lambda: css(d, ".topic-post > article#post_1 .cooked"), "post 1 back after the hook uncloaked it")


def test_embedded_replies(d, forum):
    """show-replies loads replies below (post__contents/contents dropped while shown); the reply-to
    tab loads the replied-to posts above; both survive a cloak/uncloak, in a fresh subtree."""
    post = thread(forum, 6, replies_to={2: 1, 3: 1, 5: 2, 6: 5})
    login(d, forum, "alice", f"/t/{post['topic_id']}")
    ready(d, "topic")
    d.execute_script("window.__standin.setAutoCloak(false)")
    btn = d.find_element(By.CSS_SELECTOR, "#post_1 .post-controls > .show-replies")
    assert btn.text.startswith("2") and btn.get_attribute("aria-expanded") == "false"
    btn.click()
    wait(lambda: css(d, "#post_1 section#embedded-posts__bottom--1.embedded-posts.bottom .reply[data-post-id]"), "replies below")
    replies = css(d, "#embedded-posts__bottom--1 .reply[data-post-id]")
    assert [r.find_element(By.CSS_SELECTOR, ".cooked").text for r in replies] == ["post number 2 body", "post number 3 body"]
    assert replies[0].find_element(By.CSS_SELECTOR, ".topic-meta-data.embedded-reply a.post-info.arrow")
    regular = d.find_element(By.CSS_SELECTOR, "#post_1 .post__regular")
    assert "contents" not in regular.get_attribute("class").split()
    # the main .cooked comes first, the replies after the menu
    order = d.execute_script("const r = document.querySelector('#post_1 .post__regular');"
                             "return [...r.children].map(c => c.className.split(' ')[0])")
    assert order == ["cooked", "post__menu-area", "post__embedded-posts"]
    # replying to the post directly above shows no reply-to tab (suppress_reply_directly_above)
    assert not css(d, "#post_2 .reply-to-tab") and not css(d, "#post_6 .reply-to-tab")
    assert css(d, "#post_3 .reply-to-tab") and "avoid-tab" in d.find_element(By.CSS_SELECTOR, "#post_3 .post__regular").get_attribute("class")
    d.find_element(By.CSS_SELECTOR, "#post_5 .reply-to-tab").click()
    wait(lambda: css(d, "#post_5.replies-above #embedded-posts__top--5 .reply[data-post-id] .cooked"), "replies above")
    assert [e.text for e in css(d, "#embedded-posts__top--5 .reply .cooked")] == ["post number 1 body", "post number 2 body"]
    # the replies above come before the post's own row
    assert d.execute_script("const a = document.querySelector('#post_5'); return a.firstElementChild.querySelector('#embedded-posts__top--5') !== null")
    assert css(d, "#post_2 .show-replies")
    # cloaking keeps the component's state: the sections come back with the post
    d.execute_script("document.querySelector('#embedded-posts__bottom--1').__mark = 1")
    assert d.execute_script("return window.__standin.cloak(1) && window.__standin.uncloak(1)")
    assert css(d, "#embedded-posts__bottom--1 .reply[data-post-id]")
    assert d.execute_script("return document.querySelector('#embedded-posts__bottom--1').__mark") is None
    d.find_element(By.CSS_SELECTOR, "#embedded-posts__bottom--1 .collapse-up").click()
    wait(lambda: not css(d, "#embedded-posts__bottom--1"), "replies collapsed")
    assert "contents" in d.find_element(By.CSS_SELECTOR, "#post_1 .post__regular").get_attribute("class").split()
    # a single reply directly below is not offered (suppress_reply_directly_below)
    assert not css(d, "#post_5 .show-replies")


def test_post_menu_quote_and_keyboard(d, forum):
    forum.create_user("admin", PW, trust_level=4, admin=True, age_days=30)
    post = thread(forum, 3)
    login(d, forum, "alice", f"/t/{post['topic_id']}")
    ready(d, "topic")
    d.execute_script("window.__standin.setAutoCloak(false)")
    # own post: Edit is visible; bob's post: no Edit for alice
    assert css(d, "#post_1 .post-controls .actions .post-action-menu__edit.edit")
    assert not css(d, "#post_2 .post-controls .edit")
    assert css(d, "#post_2 .post-controls .post-action-menu__reply.reply.create")
    # select text in bob's post: the quote toolbar appears and quotes it into a reply
    d.execute_script("""const c = document.querySelector('#post_2 .cooked p'); const r = document.createRange();
        r.setStart(c.firstChild, 5); r.setEnd(c.firstChild, 11); const s = getSelection(); s.removeAllRanges(); s.addRange(r);""")
    btn = wait(lambda: css(d, "div.quote-button.visible .buttons button.insert-quote"), "quote toolbar")[0]
    btn.click()
    composer_open(d)
    text = d.execute_script("return window.__standin.composerReply()")
    assert text.startswith(f'[quote="bob, post:2, topic:{post["topic_id"]}"]\nnumber\n[/quote]')
    d.find_element(By.CSS_SELECTOR, "#reply-control .save-or-cancel .cancel").click()
    assert not css(d, ".quote-button")
    # keyboard: j/k select, r replies to the selected post, shift+r to the topic, e edits
    body = d.find_element(By.TAG_NAME, "body")
    body.send_keys("j")
    body.send_keys("j")
    wait(lambda: css(d, ".post-stream > .topic-post.selected[data-post-number='2']"), "post 2 selected")
    body.send_keys("r")
    composer_open(d)
    assert d.find_element(By.CSS_SELECTOR, "#reply-control .action-title").text == "Reply to post #2"
    d.find_element(By.CSS_SELECTOR, "#reply-control .cancel").click()
    body.send_keys("k")
    body.send_keys("e")
    composer_open(d)
    assert d.find_element(By.CSS_SELECTOR, "#reply-control .d-editor-input").get_attribute("value") == "post number 1 body"
    d.find_element(By.CSS_SELECTOR, "#reply-control .cancel").click()
    body.send_keys(Keys.SHIFT, "r")
    composer_open(d)
    assert d.find_element(By.CSS_SELECTOR, "#reply-control .action-title").text == "Reply"
    d.find_element(By.CSS_SELECTOR, "#reply-control .cancel").click()
    # staff editing someone else's post: Edit sits behind show-more
    login(d, forum, "admin", f"/t/{post['topic_id']}")
    ready(d, "topic")
    assert not css(d, "#post_2 .post-controls .edit")
    d.find_element(By.CSS_SELECTOR, "#post_2 .post-controls .show-more-actions").click()
    wait(lambda: css(d, "#post_2 .post-controls.expanded .actions button.edit"), "edit behind show more")


def test_mobile_layout_follows_the_viewport_width_live(d, forum):
    post = thread(forum, 3)
    wide = d.get_window_size()
    login(d, forum, "alice", f"/t/{post['topic_id']}")
    ready(d, "topic")
    root = lambda: d.execute_script("return document.documentElement.className")  # noqa: E731
    assert "desktop-view" in root() and "not-mobile-device" in root() and "mobile-view" not in root()
    assert css(d, ".topic-post.sticky-avatar[data-post-number='2']")
    assert css(d, "#post_2 .post-action-menu__reply.reply.create .d-button-label")
    assert not css(d, "#topic-progress-wrapper")
    d.execute_script("window.__same = 1; window.__cooked2 = document.querySelector('#post_2 .cooked')")
    try:
        d.set_window_size(360, 780)
        wait(lambda: "mobile-view" in root(), "mobile view")
        assert "mobile-device" in root() and "desktop-view" not in root()
        # the components update in place: the same page and post body, a mobile menu
        assert d.execute_script("return window.__same === 1 && window.__cooked2 === document.querySelector('#post_2 .cooked')")
        reply = css(d, "#post_2 .post-controls .post-action-menu__reply.reply")
        assert reply and not css(d, "#post_2 .post-action-menu__reply.create") and not css(d, "#post_2 .post-action-menu__reply .d-button-label")
        assert not css(d, ".topic-post.sticky-avatar")
        assert d.find_element(By.CSS_SELECTOR, "#topic-progress-wrapper nav#topic-progress").is_displayed()
        assert css(d, "#topic-footer-buttons .btn-primary.create.topic-footer-button")
        reply[0].click()
        composer_open(d)
        assert d.find_element(By.CSS_SELECTOR, "#reply-control .action-title").text == "Reply to post #2"
        assert not d.find_element(By.CSS_SELECTOR, "#reply-control .d-editor-button-bar").is_displayed()
        d.find_element(By.CSS_SELECTOR, "#reply-control .toggle-toolbar").click()
        assert d.find_element(By.CSS_SELECTOR, "#reply-control .d-editor-button-bar").is_displayed()
        assert d.find_element(By.ID, "reply-control").size["height"] == 250
        d.find_element(By.CSS_SELECTOR, "#reply-control .cancel").click()
    finally:
        d.set_window_size(wide["width"], wide["height"])
    wait(lambda: "desktop-view" in root(), "desktop view again")
    assert css(d, "#post_2 .post-action-menu__reply.reply.create .d-button-label")
    assert not css(d, "#topic-progress-wrapper")


def test_composer_draft_autosave_debounce(d, forum):
    """services/composer.js: a draft is saved 2 s after the last change (continuous typing saves
    nothing) with draft_key, sequence, owner and data (reply as plain text)."""
    post = forum.create_pm("bob", "alice", "Question", "What is the secret?")
    login(d, forum, "alice", f"/t/{post['topic_id']}")
    ready(d, "topic")
    forum.clear_log()
    d.find_element(By.CSS_SELECTOR, "#topic-footer-buttons .create").click()
    composer_open(d)
    secret = "the vault code is 7-4-1-9"
    box = d.find_element(By.CSS_SELECTOR, "#reply-control .d-editor .d-editor-input")
    t0 = time.monotonic()
    for word in secret.split(" "):
        box.send_keys(word + " ")
        time.sleep(0.3)
    assert time.monotonic() - t0 < 4
    assert draft_posts(forum) == []                     # still typing: nothing saved yet
    wait(lambda: draft_posts(forum), "draft saved after the pause")
    first = form(draft_posts(forum)[0])
    assert first["draft_key"] == f"topic_{post['topic_id']}" and first["sequence"] == "0" and first["owner"]
    data = json.loads(first["data"])
    assert data["reply"].strip() == secret and data["action"] == "reply" and data["archetypeId"] == "regular"
    assert "title" not in data and "recipients" not in data and isinstance(data["composerTime"], int)
    box.send_keys("again")
    wait(lambda: len(draft_posts(forum)) == 2, "second draft save")
    assert form(draft_posts(forum)[1])["sequence"] == "0"
    wait(lambda: forum.drafts("alice") and forum.drafts("alice")[0]["sequence"] == 1, "sequence advanced")
    oracle = LeakOracle()
    oracle.register(secret, "typed text")
    leaks = oracle.scan(forum.requests)
    assert leaks and all(lk.path == "/drafts.json" for lk in leaks)
    d.find_element(By.CSS_SELECTOR, "#reply-control .save-or-cancel .create").click()
    wait(lambda: len(css(d, "article[data-post-id]")) == 2, "reply rendered")
    created = [r for r in forum.requests if r["app_path"] == "/posts.json" and r["method"] == "POST"][-1]
    sent = json.loads(created["body"])
    assert created["headers"]["Content-Type"].startswith("application/json") and sent["nested_post"] is True
    assert sent["draft_key"] == f"topic_{post['topic_id']}" and sent["composer_version"] == 1
    assert forum.posts(post["topic_id"])[-1]["raw"].strip() == secret + " again"
    assert forum.drafts("alice") == []
    assert d.find_element(By.ID, "reply-control").get_attribute("class") == "closed"


@pytest.mark.standin(settings={"draft_immediate_ms": 1500, "draft_autosave_ms": 6000})
def test_composer_saves_at_once_after_the_interval(d, standin):
    """A change more than 15 s (here 1.5 s) after the last save is saved at once, while typing."""
    standin.create_user("alice", PW, age_days=30)
    standin.create_user("bob", PW, age_days=30)
    login(d, standin, "alice", "/new-message?username=bob&title=Long%20title")
    ready(d, "new-message")
    composer_open(d)
    box = d.find_element(By.CSS_SELECTOR, "#reply-control .d-editor-input")
    for i in range(14):
        box.send_keys(f"w{i} ")
        time.sleep(0.3)
    saves = draft_posts(standin)
    assert len(saves) >= 2, saves                         # the 6 s debounce never elapsed
    data = json.loads(form(saves[-1])["data"])
    assert form(saves[0])["draft_key"] == "new_private_message"
    assert data["action"] == "privateMessage" and data["recipients"] == "bob" and data["title"] == "Long title"
    assert data["archetypeId"] == "private_message"


@pytest.mark.standin(settings={"rich_editor": True})
def test_rich_editor(d, standin):
    """rich_editor: a ProseMirror-like contenteditable d-editor-input, a toggle switch, and the
    reply (drafts, posts) as text."""
    standin.create_user("alice", PW, age_days=30)
    standin.create_user("bob", PW, age_days=30)
    post = standin.create_pm("bob", "alice", "Rich", "A message for the rich editor")
    login(d, standin, "alice", f"/t/{post['topic_id']}")
    ready(d, "topic")
    d.find_element(By.CSS_SELECTOR, "#topic-footer-buttons .create").click()
    composer_open(d)
    assert css(d, "#reply-control .d-editor-container.d-editor-container--rich-editor-enabled")
    rich = d.find_element(By.CSS_SELECTOR, "#reply-control .ProseMirror-container > div.d-editor-input.ProseMirror[contenteditable='true']")
    assert not css(d, "#reply-control textarea.d-editor-input")
    toggle = d.find_element(By.CSS_SELECTOR, "#reply-control .d-editor-button-bar .composer-toggle-switch")
    assert "--rte" in toggle.get_attribute("class") and toggle.get_attribute("data-rich-editor") == "true"
    rich.send_keys("first paragraph")
    rich.send_keys(Keys.ENTER)
    rich.send_keys("second paragraph")
    wait(lambda: draft_posts(standin), "draft from the rich editor")
    assert json.loads(form(draft_posts(standin)[-1])["data"])["reply"] == "first paragraph\n\nsecond paragraph"
    toggle.click()
    area = d.find_element(By.CSS_SELECTOR, "#reply-control textarea.d-editor-input")
    assert area.get_attribute("value") == "first paragraph\n\nsecond paragraph"
    assert "--markdown" in toggle.get_attribute("class")
    toggle.click()
    assert d.execute_script("return window.__standin.composerMode()") == "rich"
    d.find_element(By.CSS_SELECTOR, "#reply-control .save-or-cancel .create").click()
    wait(lambda: len(standin.posts(post["topic_id"])) == 2, "reply posted")
    assert standin.posts(post["topic_id"])[-1]["raw"] == "first paragraph\n\nsecond paragraph"
    sent = json.loads([r for r in standin.requests if r["app_path"] == "/posts.json" and r["method"] == "POST"][-1]["body"])
    assert sent["composer_version"] == 2
    # the preference is the user option composition_mode
    standin.set_composition_mode("alice", "markdown")
    d.refresh()
    ready(d, "topic")
    d.find_element(By.CSS_SELECTOR, "#topic-footer-buttons .create").click()
    composer_open(d)
    assert css(d, "#reply-control textarea.d-editor-input")


def test_new_message_prefill_validation_errors_and_send(d, forum):
    forum.settings["watched_words_block"] = ["zorkmid"]
    login(d, forum, "alice", "/new-message?username=bob&title=Prefilled%20title&body=short")
    ready(d, "new-message")
    composer_open(d)
    assert d.find_element(By.ID, "private-message-users").get_attribute("value") == "bob"
    assert d.find_element(By.ID, "reply-title").get_attribute("value") == "Prefilled title"
    area = d.find_element(By.CSS_SELECTOR, "#reply-control .d-editor-input")
    assert area.get_attribute("value") == "short"
    d.find_element(By.CSS_SELECTOR, "#reply-control .save-or-cancel .create").click()
    tip = wait(lambda: d.find_element(By.CSS_SELECTOR, "#reply-control .popup-tip").text, "client-side validation")
    assert "at least 10 characters" in tip
    area.send_keys(" but zorkmid")
    d.find_element(By.CSS_SELECTOR, "#reply-control .save-or-cancel .create").click()
    msg = wait(lambda: css(d, "#dialog-holder .dialog-body") and d.find_element(By.CSS_SELECTOR, "#dialog-holder .dialog-body").text,
               "server error dialog")
    assert "not allowed: zorkmid" in msg
    d.find_element(By.CSS_SELECTOR, "#dialog-holder .btn-primary").click()
    area.clear()
    area.send_keys("a message that is now long enough")
    d.find_element(By.CSS_SELECTOR, "#reply-control .save-or-cancel .create").click()
    ready(d, "topic")
    topic = forum.topics()[-1]
    assert d.current_url.endswith(f"/{topic['id']}") and topic["title"] == "Prefilled title"
    assert forum.topic(topic["id"])["allowed_usernames"] == ["bob", "alice"]


def test_user_profile_message_button(d, forum):
    forum.create_user("hermit", PW, allow_private_messages=False, age_days=30)
    login(d, forum, "alice", "/u/bob")
    ready(d, "user")
    btn = d.find_element(By.CSS_SELECTOR, ".user-main section.controls ul li button.btn-primary.compose-pm")
    btn.click()
    composer_open(d)
    assert d.find_element(By.ID, "private-message-users").get_attribute("value") == "bob"
    assert "private-message" in d.find_element(By.ID, "reply-control").get_attribute("class")
    d.find_element(By.CSS_SELECTOR, "#reply-control .cancel").click()
    d.execute_script("window.__standin.navigate('/u/hermit')")
    ready(d, "user")
    assert css(d, ".user-main section.controls") and not css(d, "button.compose-pm")
    d.execute_script("window.__standin.navigate('/u/alice')")
    ready(d, "user")
    assert not css(d, "button.compose-pm")


@pytest.mark.standin(settings={"seed_pms_per_user": 8, "pm_page_size": 5})
def test_messages_page_pages_like_topic_list(d, standin):
    standin.create_user("alice", PW, age_days=30)
    login(d, standin, "alice", "/u/alice/messages")
    ready(d, "user-messages")
    assert d.find_element(By.CSS_SELECTOR, ".user-navigation-secondary .user-nav-messages-dropdown .combo-box-header").get_attribute("data-name") == "Inbox"
    assert css(d, ".new-private-message")
    d.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    wait(lambda: len(css(d, "tr.topic-list-item[data-topic-id]")) == 8, "second page loaded on scroll")
    assert any(r["app_path"] == "/topics/private-messages/alice" and "page=1" in r["query"] for r in standin.requests)
    d.execute_script("window.__standin.navigate('/u/alice/messages/sent')")
    ready(d, "user-messages-sent")
    assert css(d, "div.empty-state")


@pytest.mark.standin(settings={"base_path": "/forum"})
def test_subfolder_install_pages(d, standin):
    standin.create_user("alice", PW, age_days=30)
    standin.create_user("bob", PW, age_days=30)
    post = standin.create_pm("bob", "alice", "Below the subfolder", "A message in a subfolder forum")
    login(d, standin, "alice", "/forum/u/alice/messages")
    ready(d, "user-messages")
    assert d.find_element(By.CSS_SELECTOR, 'meta[name="discourse-base-uri"]').get_attribute("content") == "/forum"
    link = d.find_element(By.CSS_SELECTOR, "a.raw-topic-link")
    assert link.get_attribute("href").endswith(f"/forum/t/below-the-subfolder/{post['topic_id']}")
    link.click()
    ready(d, "topic")
    assert f"/forum/t/below-the-subfolder/{post['topic_id']}" in d.current_url
    d.execute_script("window.__standin.navigate('/u/alice')")
    ready(d, "user")
    assert d.current_url.endswith("/forum/u/alice")
    api = [r for r in standin.requests if r["path"].endswith(".json")]
    assert api and all(r["path"].startswith("/forum/") for r in api)


def test_bio_editor_and_profile(d, forum):
    login(d, forum, "alice", "/u/alice/preferences/profile")
    ready(d, "user-preferences")
    area = d.find_element(By.CSS_SELECTOR, ".bio-composer .d-editor-input")
    area.send_keys("My *public* key block")
    d.find_element(By.CSS_SELECTOR, ".save-button .btn-primary").click()
    wait(lambda: d.find_element(By.CSS_SELECTOR, ".save-button .saved").is_displayed(), "saved")
    assert forum.user("alice")["bio_raw"] == "My *public* key block"
    d.execute_script("arguments[0].value = 'x'.repeat(3001)", area)
    d.find_element(By.CSS_SELECTOR, ".save-button .btn-primary").click()
    wait(lambda: d.find_element(By.CSS_SELECTOR, ".bio-error").text, "bio error")
    d.execute_script("window.__standin.navigate('/u/alice')")
    ready(d, "user")
    assert d.find_element(By.CSS_SELECTOR, ".bio em").text == "public"
    # DiscourseConnect overriding bios: the preferences page has no bio editor
    forum.settings.update(enable_discourse_connect=True, discourse_connect_overrides_bio=True)
    d.execute_script("window.__standin.navigate('/u/alice/preferences/profile')")
    ready(d, "user-preferences")
    assert not css(d, ".bio-composer") and css(d, ".save-button .btn-primary")


def test_dark_theme(d, forum):
    login(d, forum, "alice", "/?theme=dark")
    ready(d, "home")
    assert d.execute_script("return document.body.classList.contains('theme-dark')")
    bg = d.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(28, 28, 28)"
    d.get(forum.url + "/")
    ready(d, "home")
    assert d.execute_script("return document.body.classList.contains('theme-light')")
    forum.set_theme("alice", "dark")
    d.get(forum.url + "/u/alice")
    ready(d, "user")
    assert d.execute_script("return document.body.classList.contains('theme-dark')")


@pytest.mark.standin(hostile=True)
def test_hostile_scripts_steal_what_the_page_can_see(d, standin, standin_factory):
    standin.create_user("alice", PW, age_days=30)
    standin.create_user("bob", PW, age_days=30)
    other = standin_factory()           # a different origin, standing in for an extension frame
    post = standin.create_pm("bob", "alice", "Hostile test", "a message in the page DOM")
    login(d, standin, "alice", f"/t/{post['topic_id']}")
    ready(d, "topic")
    assert css(d, "#hostile-passphrase-prompt")
    # frames: one same-origin (readable), one cross-origin (must not be)
    d.execute_script("""
        const c = document.querySelector('#post_1 .cooked');
        const a = document.createElement('iframe'); a.src = '/assets/app.css'; a.id = 'same';
        const b = document.createElement('iframe'); b.src = arguments[0] + '/assets/app.css'; b.id = 'cross';
        c.append(a, b);""", other.url)

    def last_dom_frames():
        d.execute_script("window.__hostile.scrapeNow()")
        doms = [x for x in d.execute_script("return window.__hostile.loot") if x["kind"] == "dom"]
        frames = doms[-1]["data"]["frames"] if doms else []
        ok = any(f.get("src", "").startswith(other.url) and "contentWindowError" in f for f in frames)
        return frames if ok else None
    frames = wait(last_dom_frames, "scraper sees the frames settled")
    d.find_element(By.CSS_SELECTOR, "#topic-footer-buttons .create").click()
    box = wait(lambda: d.find_element(By.CSS_SELECTOR, "#reply-control .d-editor-input"), "composer")
    box.send_keys("keylogged words")
    d.find_element(By.CSS_SELECTOR, "#hostile-passphrase-prompt input").send_keys("phished-passphrase")
    d.find_element(By.CSS_SELECTOR, "#hostile-passphrase-prompt button").click()

    def exfil_kinds():
        return {json.loads(r["body"])["kind"] for r in standin.requests if r["path"] == "/__hostile/exfil"}
    wait(lambda: {"dom", "keys", "fetch", "message", "phished"} <= exfil_kinds(), "all kinds of loot at the server")
    d.execute_script("window.__hostile.flushKeys()")
    wait(lambda: any("keylogged words" in r["body"] for r in standin.requests), "keystrokes at the server")
    exfil = [r for r in standin.requests if r["path"] == "/__hostile/exfil"]
    oracle = LeakOracle()
    oracle.register("keylogged words", "typed")
    oracle.register("phished-passphrase", "passphrase")
    oracle.register("a message in the page DOM", "dom text")
    assert {lk.label for lk in oracle.scan(exfil)} == {"typed", "passphrase", "dom text"}
    same = [f for f in frames if f.get("src", "").startswith(standin.url) and f.get("contentWindowDocument")]
    cross = [f for f in frames if f.get("src", "").startswith(other.url)]
    assert same, "the scraper reads same-origin frames"
    assert cross and all(f.get("contentDocument") is None and "contentWindowError" in f for f in cross)
    assert d.execute_script("return window.__hostile.sentCount()") > 0
    csp_errors = [x for x in d.get_log("browser") if "Content Security Policy" in x.get("message", "")
                  and "frame-ancestors" not in x["message"]]
    assert csp_errors == []


def test_extension_style_fetch_from_the_page(d, forum):
    """The calls the content script makes (meta CSRF token, X-Requested-With, same-origin cookies)."""
    login(d, forum, "alice", "/u/alice")
    ready(d, "user")
    out = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        (async () => {
          const token = document.querySelector('meta[name="csrf-token"]').content;
          const hdrs = {"X-CSRF-Token": token, "X-Requested-With": "XMLHttpRequest", "Accept": "application/json"};
          const put = await fetch("/u/alice.json", {method: "PUT", credentials: "same-origin",
              headers: {...hdrs, "Content-Type": "application/json"}, body: JSON.stringify({bio_raw: "key block v1"})});
          const pm = await fetch("/posts.json", {method: "POST", credentials: "same-origin",
              headers: {...hdrs, "Content-Type": "application/x-www-form-urlencoded"},
              body: new URLSearchParams({archetype: "private_message", target_recipients: "bob",
                                         title: "A secret message", raw: "```\\nciphertext\\n```"})});
          const post = await pm.json();
          const noCsrf = await fetch("/posts.json", {method: "POST", credentials: "same-origin",
              headers: {"X-Requested-With": "XMLHttpRequest"}, body: new URLSearchParams({raw: "x"})});
          const me = await (await fetch("/session/current.json", {credentials: "same-origin", headers: hdrs})).json();
          done({put: put.status, pm: pm.status, topic: post.topic_id, noCsrf: [noCsrf.status, await noCsrf.text()],
                me: me.current_user.username});
        })().catch((e) => done({error: String(e)}));
    """)
    assert out["put"] == 200 and out["pm"] == 200 and out["me"] == "alice", out
    assert out["noCsrf"] == [403, '["BAD CSRF"]']
    assert forum.user("alice")["bio_raw"] == "key block v1"
    assert forum.posts(out["topic"])[0]["raw"] == "```\nciphertext\n```"

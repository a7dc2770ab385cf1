"""The stand-in's pages in headless Chromium: DOM anchors, pushState navigation, cloaking,
composer draft autosave, bio editor, themes, and hostile injection under the CSP."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time

import pytest

from tests.conftest import missing_tool
from tests.standin.browser import browser_login, wait_route
from tests.standin.oracle import LeakOracle

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

CHROMIUM = os.environ.get("EFD_CHROMIUM", "/usr/lib/chromium/chromium")
CHROMEDRIVER = os.environ.get("EFD_CHROMEDRIVER", "/usr/bin/chromedriver")
PW = "pw-123456"
TIMEOUT = 20

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def driver():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        missing_tool("Chromium/chromedriver not installed")
    profile = tempfile.mkdtemp(prefix="standin-chromium-")
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-component-update", "--no-first-run",
              "--no-default-browser-check", "--window-size=1200,900", f"--user-data-dir={profile}",
              # only 127.0.0.1/localhost: no DNS look-ups of outside hosts (update, sign-in, search)
              "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"):
        o.add_argument(a)
    d = webdriver.Chrome(options=o, service=Service(CHROMEDRIVER))
    d.set_page_load_timeout(TIMEOUT)
    d.set_script_timeout(TIMEOUT)
    yield d
    d.quit()
    shutil.rmtree(profile, ignore_errors=True)


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


@pytest.fixture
def forum(standin):
    standin.create_user("alice", PW, trust_level=2)
    standin.create_user("bob", PW, trust_level=1)
    return standin


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
    wait(lambda: d.find_elements(By.ID, "current-user"), "logged-in header")
    assert d.find_element(By.ID, "current-user").text == "alice"
    cookie = d.get_cookie("_t")
    assert cookie and cookie["httpOnly"]
    assert d.execute_script("return document.cookie").find("_t=") == -1


def test_topic_dom_and_spa_navigation(d, forum):
    post = forum.create_pm("alice", "bob", "Our plans", "First **post** body")
    forum.reply("bob", post["topic_id"], "Second post body")
    login(d, forum, "alice", "/u/alice/messages")
    ready(d, "user-messages")
    assert d.execute_script("return document.body.classList.contains('user-messages-page')")
    gen = d.find_element(By.CSS_SELECTOR, 'meta[name="generator"]').get_attribute("content")
    assert gen.startswith("Discourse ")
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
    arts = d.find_elements(By.CSS_SELECTOR, "div.topic-post[data-post-number] > article.boxed.onscreen-post[data-post-id][data-topic-id][data-user-id]")
    assert [a.get_attribute("id") for a in arts] == ["post_1", "post_2"]
    assert arts[0].get_attribute("data-post-id") == str(post["id"])
    assert arts[0].find_element(By.CSS_SELECTOR, ".cooked strong").text == "post"
    assert arts[1].find_element(By.CSS_SELECTOR, ".names a[data-user-card]").get_attribute("data-user-card") == "bob"
    assert d.find_elements(By.CSS_SELECTOR, "#topic-footer-buttons .create")
    assert d.find_element(By.ID, "reply-control").get_attribute("class") == "closed"
    # back button -> popstate -> inbox, still the same document
    d.back()
    ready(d, "user-messages")
    assert d.execute_script("return window.__sameDocument") == "yes"
    assert not d.execute_script("return document.body.classList.contains('archetype-private_message')")
    d.forward()
    ready(d, "topic")
    # the composer persists across SPA navigations (it lives outside #main-outlet)
    d.find_element(By.CSS_SELECTOR, "#topic-footer-buttons .create").click()
    wait(lambda: "open" in d.find_element(By.ID, "reply-control").get_attribute("class"), "composer open")
    d.find_element(By.CSS_SELECTOR, "#reply-control .d-editor-input").send_keys("kept")
    d.execute_script("window.__standin.navigate('/u/alice/messages')")
    ready(d, "user-messages")
    assert "open" in d.find_element(By.ID, "reply-control").get_attribute("class")
    assert d.find_element(By.CSS_SELECTOR, "#reply-control .d-editor-input").get_attribute("value") == "kept"
    d.back()
    ready(d, "topic")
    # the header link to the profile
    d.find_element(By.ID, "current-user").click()
    ready(d, "user")
    assert d.execute_script("return window.__sameDocument") == "yes"


def test_cloaking_controls_and_auto(d, standin):
    standin.settings["cloaking"] = True
    standin.settings["unique_posts_mins"] = 0
    standin.create_user("alice", PW)
    standin.create_user("bob", PW)
    post = standin.create_pm("alice", "bob", "Long thread", "post number 1 body")
    for i in range(2, 31):
        standin.reply("bob" if i % 2 else "alice", post["topic_id"], f"post number {i} body")
    login(d, standin, "alice", f"/t/{post['topic_id']}")
    ready(d, "topic")
    # manual cloak/uncloak
    d.execute_script("window.__standin.setAutoCloak(false)")
    d.execute_script("document.querySelector('#post_2').__mark = 1")
    assert d.execute_script("return window.__standin.cloak(2)")
    el = d.execute_script("const e = document.getElementById('post_2'); return [e.tagName, e.className, e.getAttribute('data-post-number'), e.querySelectorAll('*').length, e.closest('.topic-post') === null]")
    assert el == ["DIV", "", "2", 0, True]
    assert not d.find_elements(By.CSS_SELECTOR, "article[data-post-id]#post_2")
    assert d.execute_script("return window.__standin.uncloak(2)")
    art = d.find_element(By.CSS_SELECTOR, ".topic-post[data-post-number='2'] > article#post_2.onscreen-post")
    assert art.find_element(By.CSS_SELECTOR, ".cooked").text == "post number 2 body"
    assert d.execute_script("return document.querySelector('#post_2').__mark") is None   # a new subtree
    # automatic: scroll down loads the rest (20-post chunks) and cloaks the top posts
    d.execute_script("window.__standin.setAutoCloak(true)")
    for _ in range(6):
        d.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        time.sleep(0.2)
    wait(lambda: d.execute_script("return document.querySelectorAll('.post-stream > [data-post-number]').length") == 30,
         "all 30 posts in the stream")
    wait(lambda: d.execute_script("return document.querySelector('.post-stream > div#post_1:not(.topic-post)') !== null"),
         "post 1 cloaked")
    d.execute_script("window.scrollTo(0, 0)")
    wait(lambda: d.find_elements(By.CSS_SELECTOR, ".topic-post > article#post_1 .cooked"), "post 1 re-created")
    # re-rendering .cooked (as on a "revised" message) replaces the element
    d.execute_script("document.querySelector('#post_1 .cooked').__old = 1")
    assert d.execute_script("return window.__standin.rerenderCooked(1)")
    assert d.execute_script("return document.querySelector('#post_1 .cooked').__old") is None


def test_composer_autosaves_drafts_that_leak(d, forum):
    post = forum.create_pm("bob", "alice", "Question", "What is the secret?")
    login(d, forum, "alice", f"/t/{post['topic_id']}")
    ready(d, "topic")
    d.find_element(By.CSS_SELECTOR, "#topic-footer-buttons .create").click()
    wait(lambda: "open" in d.find_element(By.ID, "reply-control").get_attribute("class"), "composer open")
    secret = "the vault code is 7-4-1-9"
    box = d.find_element(By.CSS_SELECTOR, "#reply-control .d-editor .d-editor-input")
    for word in secret.split(" "):
        box.send_keys(word + " ")
        time.sleep(0.15)
    wait(lambda: any(secret in json.loads(x["data"])["reply"] for x in forum.drafts("alice")), "draft saved")
    draft = forum.drafts("alice")[-1]
    assert draft["draft_key"] == f"topic_{post['topic_id']}"
    oracle = LeakOracle()
    oracle.register(secret, "typed text")
    leaks = oracle.scan(forum.requests)
    assert leaks and all(lk.path == "/drafts.json" for lk in leaks)
    d.find_element(By.CSS_SELECTOR, "#reply-control .save-or-cancel .create").click()
    wait(lambda: len(d.find_elements(By.CSS_SELECTOR, "article[data-post-id]")) == 2, "reply rendered")
    assert forum.posts(post["topic_id"])[-1]["raw"].strip() == secret
    assert forum.drafts("alice") == []
    assert d.find_element(By.ID, "reply-control").get_attribute("class") == "closed"


def test_new_message_prefill_validation_and_send(d, forum):
    login(d, forum, "alice", "/new-message?username=bob&title=Prefilled%20title&body=short")
    ready(d, "new-message")
    rc = d.find_element(By.ID, "reply-control")
    wait(lambda: "open" in rc.get_attribute("class"), "composer open")
    assert d.find_element(By.ID, "private-message-users").get_attribute("value") == "bob"
    assert d.find_element(By.ID, "reply-title").get_attribute("value") == "Prefilled title"
    area = d.find_element(By.CSS_SELECTOR, "#reply-control .d-editor-input")
    assert area.get_attribute("value") == "short"
    d.find_element(By.CSS_SELECTOR, "#reply-control .save-or-cancel .create").click()
    err = wait(lambda: d.find_element(By.CSS_SELECTOR, "#reply-control .popup-tip").text, "validation error")
    assert "Body is too short" in err
    area.send_keys(" but now long enough")
    d.find_element(By.CSS_SELECTOR, "#reply-control .save-or-cancel .create").click()
    ready(d, "topic")
    topic = forum.topics()[-1]
    assert d.current_url.endswith(f"/{topic['id']}") and topic["title"] == "Prefilled title"
    assert forum.topic(topic["id"])["allowed_usernames"] == ["bob", "alice"]


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
    standin.create_user("alice", PW)
    standin.create_user("bob", PW)
    other = standin_factory()           # a different origin, standing in for an extension frame
    post = standin.create_pm("bob", "alice", "Hostile test", "a message in the page DOM")
    login(d, standin, "alice", f"/t/{post['topic_id']}")
    ready(d, "topic")
    assert d.find_elements(By.ID, "hostile-passphrase-prompt")
    # frames: one same-origin (readable), one cross-origin (must not be)
    d.execute_script("""
        const c = document.querySelector('#post_1 .cooked');
        const a = document.createElement('iframe'); a.src = '/assets/app.css'; a.id = 'same';
        const b = document.createElement('iframe'); b.src = arguments[0] + '/assets/app.css'; b.id = 'cross';
        c.append(a, b);""", other.url)
    # wait until the cross-origin frame has committed its (blocked) navigation, as seen by the scraper
    def last_dom_frames():
        d.execute_script("window.__hostile.scrapeNow()")
        doms = [x for x in d.execute_script("return window.__hostile.loot") if x["kind"] == "dom"]
        frames = doms[-1]["data"]["frames"] if doms else []
        ok = any(f.get("src", "").startswith(other.url) and "contentWindowError" in f for f in frames)
        return frames if ok else None
    frames = wait(last_dom_frames, "scraper sees the frames settled")
    # keystrokes in the page's composer are logged and exfiltrated
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
    # the forged postMessages reached the window (the scraper records what it receives)
    assert d.execute_script("return window.__hostile.sentCount()") > 0
    # our own and the injected scripts run under the nonce CSP (the cross-origin frame is refused by
    # frame-ancestors, as Discourse refuses being framed: that one is expected)
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

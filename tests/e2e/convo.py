"""Helpers for the conversation e2e tests (alice/bob/carol on the Discourse stand-in): one browser
per user with a forum tab and an extension-page tab, and readers for the extension frames.

Used by tests/e2e/test_conversation*.py, test_keys*.py and test_firefox_conversation*.py.
"""
from __future__ import annotations

import contextlib
import time

from selenium.common.exceptions import WebDriverException

from tests.test_user_text import INTERNAL

from .browser import wait_until

POST_WAIT = 90.0


class ForumUser:
    """A browser (ChromiumExt or FirefoxExt) logged in to the stand-in as `username`."""

    def __init__(self, browser, srv, username: str):
        self.b = browser
        self.d = browser.driver
        self.srv = srv
        self.username = username
        self.forum_handle = None
        self.ext_handle = None

    # ---- windows -------------------------------------------------------------------------
    def login(self):
        """Opens the forum in the current window and logs in with a session cookie."""
        self.d.switch_to.window(self.b.main_handle)
        self.d.get(self.srv.url + "/about-blank-404")
        self.d.add_cookie(self.srv.login_cookie(self.username))
        self.forum_handle = self.d.current_window_handle

    def ext_page(self, path: str):
        """Shows an extension page in the user's extension tab (created on first use)."""
        if self.ext_handle is None or self.ext_handle not in self.d.window_handles:
            self.d.switch_to.window(self.forum_handle)
            self.d.switch_to.new_window("tab")
            self.ext_handle = self.d.current_window_handle
        self.d.switch_to.window(self.ext_handle)
        self.b.open_page(path)

    def to_forum(self, path: str | None = None, ready=True):
        self.d.switch_to.window(self.forum_handle)
        self.d.switch_to.default_content()
        if path is not None:
            self.d.get(self.srv.url + path)
            if ready:
                wait_until(lambda: self.d.execute_script(
                    "return document.documentElement.dataset.efdReady === '1' && document.body.dataset.standinReady === '1'"),
                    timeout=30, what=f"{self.username}: forum page {path} with the content script ready")

    def call(self, type_, payload=None, timeout=120):
        """Sends a declared message from the extension tab."""
        if self.ext_handle is None:
            self.ext_page("ui/options.html")
        self.d.switch_to.window(self.ext_handle)
        return self.b.call(type_, payload, timeout=timeout)

    # ---- forum page ---------------------------------------------------------------------------
    def click_page(self, css: str, timeout=30):
        """Clicks an element of the forum page once it is displayed and has stopped moving: the
        extension frames above it resize while the page settles, and a click sent to where the
        element was a moment ago misses it (seen: .efd-reply moved 92 px during the click)."""
        rect_js = "const r = arguments[0].getBoundingClientRect(); return [r.x, r.y, r.width, r.height]"
        last = {}

        def settled():
            els = self.d.find_elements("css selector", css)
            if not els or not els[0].is_displayed():
                return None
            rect = self.d.execute_script(rect_js, els[0])
            same = last.get("el") == els[0] and last.get("rect") == rect
            last.update(el=els[0], rect=rect)
            return els[0] if same else None
        el = wait_until(settled, timeout=timeout, interval=0.25,
                        what=f"{self.username}: {css} on the forum page, displayed and not moving")
        el.click()

    # Our frames load extension pages; a page script can draw look-alikes with the same classes.
    OURS = '[src*="-extension://"]'

    def viewers(self):
        return self.d.find_elements("css selector", "iframe.efd-viewer" + self.OURS)

    def viewer_for(self, post_id: int):
        return wait_until(lambda: (lambda els: els[0] if els else None)(
            self.d.find_elements("css selector", f'iframe.efd-viewer[data-efd-post-id="{post_id}"]{self.OURS}')),
            timeout=30, what=f"{self.username}: viewer frame for post {post_id}")

    def read_viewer(self, post_id: int, want=("valid",), timeout=POST_WAIT) -> dict:
        """Waits until the viewer of `post_id` reaches a state in `want`; returns what it shows:
        {state, key, title, body, head, content, warnings}. Leaves the driver on the forum page's top document."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            self.d.switch_to.default_content()
            try:
                frame = self.viewer_for(post_id)
                self.d.switch_to.frame(frame)
                state = self.d.execute_script("return document.body.dataset.state")
                last = state
                if state in want:
                    out = {"state": state, "key": self.d.execute_script("return document.body.dataset.key || null"),
                           "head": self.d.find_element("css selector", "#head").text,
                           "content": self.d.find_element("css selector", "#content").text,
                           "warnings": self.d.find_element("css selector", "#warnings").text}
                    titles = self.d.find_elements("css selector", "#title")
                    out["title"] = titles[0].text if titles else None
                    bodies = self.d.find_elements("css selector", "iframe.body")
                    out["body"] = None
                    if bodies:
                        self.d.switch_to.frame(bodies[0])
                        out["body"] = self.d.find_element("css selector", "body").text
                    self.d.switch_to.default_content()
                    if state != "valid":   # what a failure shows is written for users
                        said = out["content"] + " " + out["warnings"]
                        assert not INTERNAL.search(said), f"{self.username}: developer text in the viewer: {said!r}"
                    return out
            except WebDriverException:
                pass
            self.d.switch_to.default_content()
            time.sleep(0.2)
        raise TimeoutError(f"{self.username}: viewer of post {post_id} did not reach {want} (last state {last!r})")

    # ---- composer ------------------------------------------------------------------------------
    def composer(self, timeout=60):
        """Switches into the composer frame once it is ready; returns it."""
        self.d.switch_to.default_content()
        frame = wait_until(lambda: (lambda els: els[0] if els else None)(
            self.d.find_elements("css selector", "iframe.efd-composer" + self.OURS)), timeout=30,
            what=f"{self.username}: composer frame")
        self.d.switch_to.frame(frame)
        wait_until(lambda: self.d.execute_script("return document.body.dataset.state") in ("ready", "idle", "locked"),
                   timeout=timeout, what=f"{self.username}: composer ready")
        return frame

    def in_composer(self):
        """Switches into the open composer frame (whatever its state)."""
        self.d.switch_to.default_content()
        self.d.switch_to.frame(self.d.find_element("css selector", "iframe.efd-composer" + self.OURS))

    def click_decision(self, css: str, timeout=30):
        """Clicks a decision button of the frame the driver is in (send, accept a key) the way a
        user can: once the extension armed it (the frame fully visible for a moment), and, where
        the browser cannot tell visibility (Firefox), confirming in the extension's window."""
        armed = wait_until(lambda: (lambda a: a if a in ("1", "confirm") else None)(
            self.d.find_element("css selector", css).get_attribute("data-armed")), timeout=timeout,
            what=f"{self.username}: {css} armed")
        frame_path = self.d.execute_script("return window.location.href")
        self.d.find_element("css selector", css).click()
        if armed == "confirm":
            self.confirm_outside()
            self._back_into_frame(frame_path)

    def confirm_outside(self, yes=True, timeout=30):
        """Answers the extension's confirmation window, then returns to the forum tab."""
        before = self.d.current_window_handle
        handle = wait_until(lambda: next((h for h in self.d.window_handles if self._is_confirm(h)), None),
                            timeout=timeout, what=f"{self.username}: the confirmation window")
        self.d.switch_to.window(handle)
        wait_until(lambda: self.d.execute_script("return document.body.dataset.state") == "asking",
                   timeout=timeout, what="confirmation asked")
        self.d.find_element("css selector", "#yes-btn" if yes else "#no-btn").click()
        self.d.switch_to.window(self.forum_handle if before == handle else before)

    def open_unlock_window(self, timeout=30) -> str:
        """Clicks Unlock in the locked frame the driver is in; switches to the page the extension
        opens for the passphrase (its own window, never a field of the forum's page) once it asks
        for it. Returns its window handle."""
        before = set(self.d.window_handles)
        self.d.find_element("css selector", "#open-unlock").click()
        handle = wait_until(lambda: next((h for h in self.d.window_handles
                                          if h not in before and self._is_page(h, "ui/unlock.html")), None),
                            timeout=timeout, what=f"{self.username}: the unlock window")
        self.d.switch_to.window(handle)
        wait_until(lambda: self.d.execute_script("return document.body.dataset.state") == "locked",
                   timeout=timeout, what=f"{self.username}: the unlock window asking for the passphrase")
        assert self.d.find_element("css selector", "[data-security-phrase]").text.strip()
        return handle

    def unlock_in_window(self, handle: str, passphrase: str, timeout=30):
        """Types `passphrase` into the unlock window (the driver is in it), waits until the window
        has closed itself, then returns to the forum tab's top document."""
        self.type_passphrase(passphrase)
        try:
            wait_until(lambda: handle not in self.d.window_handles, timeout=timeout,
                       what=f"{self.username}: the unlock window closed after unlocking")
        except TimeoutError as e:
            shown = self.d.execute_script("return [document.body.dataset.state, document.querySelector('#state').textContent,"
                                          " document.querySelector('#msg').textContent, location.href,"
                                          " document.querySelector('#unlock-btn').disabled,"
                                          " document.querySelector('#unlock-pass').value.length]")
            raise TimeoutError(f"{e}; the window shows {shown}") from None
        self.d.switch_to.window(self.forum_handle)
        self.d.switch_to.default_content()

    def type_passphrase(self, passphrase: str):
        """Types into the unlock window's field and clicks Unlock (geckodriver's Enter does not
        submit the form there)."""
        self.type("#unlock-pass", passphrase)
        self.d.find_element("css selector", "#unlock-btn").click()

    def unlock_outside(self, passphrase: str, timeout=30):
        """Unlocks from the locked frame the driver is in, in the extension's unlock window."""
        self.unlock_in_window(self.open_unlock_window(timeout), passphrase, timeout)

    def _is_confirm(self, handle) -> bool:
        return self._is_page(handle, "ui/confirm.html")

    def _is_page(self, handle, path: str) -> bool:
        """Whether window `handle` shows the extension page `path` (the driver stays where it was)."""
        current = self.d.current_window_handle
        try:
            self.d.switch_to.window(handle)
            return self.d.current_url.split("#")[0].split("?")[0] == self.b.base + path
        except WebDriverException:
            return False
        finally:
            try:
                self.d.switch_to.window(current)
            except WebDriverException:
                pass

    def _back_into_frame(self, frame_url: str):
        self.d.switch_to.window(self.forum_handle)
        self.d.switch_to.default_content()
        kind = "composer" if "composer" in frame_url else "viewer"
        frames = self.d.find_elements("css selector", f"iframe.efd-{kind}" + self.OURS)
        if frames:
            self.d.switch_to.frame(frames[0])

    def send_composer(self):
        """Clicks "send" in the composer (the driver is inside it); marks the page so that
        wait_topic_page can tell the reload after sending from the page before."""
        self.d.switch_to.default_content()
        self.d.execute_script("window.__efdTestBeforeSend = true")
        self.composer()
        self.click_decision("#send-btn")

    def click_send(self, states=("blocked", "error"), timeout=POST_WAIT) -> str:
        """Clicks send (driver inside the composer) and waits for the outcome of *this* attempt."""
        st = self.d.find_element("css selector", "#status")
        before = int(st.get_attribute("data-attempt") or 0)
        # The previous attempt's outcome stays shown until this attempt reports its first state
        # (after the draft is saved): clear it, or a stale "blocked" would be read as this one's.
        self.d.execute_script("arguments[0].dataset.state = 'clicked'", st)
        self.click_decision("#send-btn")
        wait_until(lambda: int(self.d.find_element("css selector", "#status").get_attribute("data-attempt") or 0) > before,
                   timeout=30, what=f"{self.username}: the composer to start sending")
        return self.wait_composer(states, timeout=timeout)

    def composer_state(self) -> str:
        return self.d.find_element("css selector", "#status").get_attribute("data-state")

    def wait_composer(self, states, timeout=POST_WAIT) -> str:
        return wait_until(lambda: (lambda s: s if s in states else None)(self.composer_state()), timeout=timeout,
                          what=f"{self.username}: composer state in {states} (now {self.composer_state()!r}: "
                               f"{self.d.find_element('css selector', '#status').text!r})")

    def type(self, css: str, text: str):
        el = self.d.find_element("css selector", css)
        el.clear()
        el.send_keys(text)

    def wait_topic_page(self, timeout=POST_WAIT) -> int:
        """After sending: the page navigates to the topic. Returns the topic id."""
        self.d.switch_to.default_content()

        def arrived():
            u = self.d.current_url
            if "/t/" in u and not self.d.execute_script("return !!window.__efdTestBeforeSend"):
                return u
            # Fail fast when the composer reports an error instead of sending.
            frames = self.d.find_elements("css selector", "iframe.efd-composer" + self.OURS)
            if frames:
                self.d.switch_to.frame(frames[0])
                try:
                    st = self.d.find_element("css selector", "#status")
                    state, text = st.get_attribute("data-state"), st.text
                finally:
                    self.d.switch_to.default_content()
                if state in ("error", "blocked"):
                    raise AssertionError(f"{self.username}: the composer did not send: {state}: {text}")
            return None
        url = wait_until(arrived, timeout=timeout, what=f"{self.username}: navigation to the topic")
        wait_until(lambda: self.d.execute_script(
            "return document.documentElement.dataset.efdReady === '1' && document.body.dataset.standinReady === '1'"),
            timeout=30, what=f"{self.username}: topic page ready")
        return int(url.rstrip("/").split("/")[-1])

    # ---- extension pages ------------------------------------------------------------------
    def inbox(self):
        self.ext_page(f"ui/inbox.html?origin={self.srv.origin}")
        wait_until(lambda: self.d.find_element("css selector", "#status").get_attribute("data-state")
                   not in ("loading", None), timeout=60, what=f"{self.username}: inbox loaded")
        return self.d.find_element("css selector", "#status").get_attribute("data-state")

    def page_state(self, css="#status"):
        return self.d.find_element("css selector", css).get_attribute("data-state")

    def hostile_loot(self) -> str:
        self.to_forum()
        return str(self.d.execute_script("return JSON.stringify((window.__hostile || {}).loot || [])"))


def a256_tamper(raw: str) -> str:
    """Changes one character of the ciphertext inside an EFD message armour (stays valid A256)."""
    from pycore.inband import A256_ALPHABET, MSG_END
    end = raw.index(MSG_END)
    i = end - 1
    while raw[i] in "\r\n ":
        i -= 1
    i -= 40   # inside the GCM ciphertext/tag, away from the line end
    while raw[i] not in A256_ALPHABET:
        i -= 1
    c = raw[i]
    return raw[:i] + A256_ALPHABET[(A256_ALPHABET.index(c) + 1) % 256] + raw[i + 1:]


# ---- module-scoped story setup shared by the conversation/keys test modules ------------------
def extra_inject() -> list[str]:
    """E2E_EXTRA_INJECT: more scripts (paths separated by ':') injected into every stand-in page."""
    import os
    return [p for p in os.environ.get("E2E_EXTRA_INJECT", "").split(":") if p.strip()]


def start_standin(oracle, usernames, settings=None, password="standin-password-1"):
    """A stand-in with the hostile scripts + E2E_EXTRA_INJECT and the E2E_STANDIN_SETTINGS profile,
    watched by `oracle`."""
    from tests.standin.profile import with_profile
    from tests.standin.server import StandinServer, hostile_scripts
    # The stories start from keys published in bios. Where single sign-on owns the bio, keys come
    # by PM instead: test_key_exchange_pm.py sets that override itself (a test's settings win).
    settings = {"discourse_connect_overrides_bio": False, **(settings or {})}
    s = StandinServer(inject=hostile_scripts() + extra_inject(), settings=with_profile(settings)).start()
    oracle.watch(s)
    for name in usernames:
        # Established members (Discourse's new-user limits are for accounts younger than a day).
        s.create_user(name, password, trust_level=1, age_days=30)
    return s


def import_vector(u: ForumUser, index: int, passphrase: str, ready_timeout=180):
    """Fast path: imports identities.json case `index` (v1 cases 0 and 1) and unlocks it."""
    from .conftest import vectors
    case = vectors("identities")["cases"][index]
    clear = next(e for e in case["exports"] if e["passphrase"] is None)
    u.ext_page("ui/options.html")
    u.b.engine_ready(timeout=ready_timeout)
    u.b.import_identity(clear["private"], passphrase)


def enable_and_publish(u: ForumUser, publish=True, timeout=90, key_state=True):
    """Enables the extension on the stand-in, opens the encrypted inbox and publishes the key.
    key_state: the inbox then says the profile holds this device's key (False for builds older
    than that line)."""
    u.call("site.enable", {"origin": u.srv.origin})
    u.to_forum("/")
    assert u.inbox() == "ready"
    if publish:
        u.b.click("#publish-btn")
        wait_until(lambda: u.page_state("#publish-state") == "published", timeout=timeout,
                   what=f"{u.username}: key published")
        assert "-----BEGIN EFD PUBLIC KEY-----" in u.srv.user(u.username)["bio_raw"]
        if key_state:
            wait_until(lambda: u.page_state("#key-state") == "same", timeout=30,
                       what=f"{u.username}: the inbox sees this device's key in the profile")


def assert_no_secret_leaked(oracle, srv, users: list[ForumUser], fragments):
    """The leak oracle found none of its secrets at the server, the hostile page scripts did run
    (they exfiltrate what they can see), and none of `fragments` is in what they took from any of
    `users`' pages."""
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)
    assert any(r["path"].startswith("/__hostile/") for r in srv.requests)
    for u in users:
        loot = u.hostile_loot()
        for s in fragments:
            assert s not in loot, f"{u.username}'s page scripts saw {s!r}"


def any_failed(request) -> bool:
    return any(getattr(i, "rep_call", None) is not None and i.rep_call.failed for i in request.session.items
               if i.module is request.module)


def close_all(request, users):
    """Closes the users' browsers; prints their logs when a test of the module failed. Printed with
    output capture off: a module fixture's teardown output is otherwise dropped whenever the last
    test of the module (whose teardown this is) passed or was skipped."""
    failed = any_failed(request)
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled() if failed and capman else contextlib.nullcontext():
        for u in users:
            if failed:
                print(f"\n===== browser log of {u.username} ({u.b.name}) =====")
                for line in u.b.logs()[-200:]:
                    print(line[:2000])
            u.b.close()


@contextlib.contextmanager
def browsers(request):
    """Yields a list for the ForumUsers a module fixture starts (append each one as soon as its
    browser is launched): on exit, also when the fixture's setup fails half-way, close_all()
    closes them all (printing their logs when a test of the module failed)."""
    started: list[ForumUser] = []
    try:
        yield started
    finally:
        close_all(request, started)


def launch_chromium(started: list, ext_dir, tmp_path_factory, srv, profile: str, username: str) -> ForumUser:
    """A Chromium with the extension (fresh profile dir `profile`), logged in to `srv` as `username`;
    appended to `started` (see browsers()) before logging in."""
    from .browser import ChromiumExt
    u = ForumUser(ChromiumExt.launch(ext_dir, tmp_path_factory.mktemp(profile)), srv, username)
    started.append(u)
    u.login()
    return u


def published_users(request, ext_dir, tmp_path_factory, srv, names, prefix: str, passphrase: str):
    """Body of a module `users` fixture (`yield from published_users(...)`): one Chromium per name,
    logged in, with identities.json case i imported for names[i] and the key published. Yields
    {name: ForumUser}; closes the browsers at teardown."""
    with browsers(request) as started:
        out = {}
        for i, name in enumerate(names):
            u = launch_chromium(started, ext_dir, tmp_path_factory, srv, f"{prefix}-{name}", name)
            import_vector(u, i, passphrase)
            enable_and_publish(u)
            out[name] = u
        yield out


class Story:
    """State shared by the ordered steps of one test module; `failed` is set once a step failed."""

    def __init__(self, **fields):
        self.failed = False
        self.__dict__.update(fields)


def story_fixtures(secrets, usernames, settings=None, **story_fields):
    """The module-scoped setup of an ordered e2e story, as fixtures to bind in the test module:

        story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob"])

    - story: a Story (attributes `story_fields`, plus `failed`);
    - _ordered (autouse): skips every test after a failed one, and records failures;
    - oracle: a LeakOracle with every string of `secrets` registered;
    - srv: start_standin(oracle, usernames, settings) (hostile scripts + E2E_EXTRA_INJECT), stopped
      at teardown."""
    import pytest

    from tests.standin.oracle import LeakOracle

    @pytest.fixture(scope="module", name="story")
    def story():
        return Story(**story_fields)

    @pytest.fixture(autouse=True, name="_ordered")
    def _ordered(request, story):
        """Each step needs the previous ones: skip after a failure, remember failures."""
        if story.failed:
            pytest.skip("an earlier step of the story failed")
        yield
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            story.failed = True

    @pytest.fixture(scope="module", name="oracle")
    def oracle():
        o = LeakOracle()
        for s in secrets:
            o.register(s)
        return o

    @pytest.fixture(scope="module", name="srv")
    def srv(oracle):
        s = start_standin(oracle, usernames, settings)
        yield s
        s.stop()

    return story, _ordered, oracle, srv


def send_new_message(u: ForumUser, to: list[str], title: str, body: str, send=True):
    """From the user's messages page: opens the encrypted composer, fills it in, sends (unless
    send=False: the driver is then left inside the composer)."""
    u.to_forum(f"/u/{u.username}/messages")
    u.click_page(".efd-new-message")
    u.composer()
    for name in to:
        u.d.find_element("css selector", "#to").send_keys(name + "\n")
    u.type("#title", title)
    u.type("#body", body)
    if send:
        u.send_composer()

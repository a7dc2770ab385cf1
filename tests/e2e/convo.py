"""Helpers for the conversation e2e tests (alice/bob/carol on the Discourse stand-in): one browser
per user with a forum tab and an extension-page tab, and readers for the extension frames.

Used by tests/e2e/test_conversation*.py, test_keys*.py and test_firefox_conversation*.py.
"""
from __future__ import annotations

import time

from selenium.common.exceptions import WebDriverException

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
        el = wait_until(lambda: (lambda els: els[0] if els and els[0].is_displayed() else None)(
            self.d.find_elements("css selector", css)), timeout=timeout, what=f"{self.username}: {css} on the forum page")
        el.click()

    def viewers(self):
        return self.d.find_elements("css selector", "iframe.efd-viewer")

    def viewer_for(self, post_id: int):
        return wait_until(lambda: (lambda els: els[0] if els else None)(
            self.d.find_elements("css selector", f'iframe.efd-viewer[data-efd-post-id="{post_id}"]')),
            timeout=30, what=f"{self.username}: viewer frame for post {post_id}")

    def read_viewer(self, post_id: int, want=("valid",), timeout=POST_WAIT) -> dict:
        """Waits until the viewer of `post_id` reaches a state in `want`; returns what it shows:
        {state, key, title, body, head}. Leaves the driver on the forum page's top document."""
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
                           "content": self.d.find_element("css selector", "#content").text}
                    titles = self.d.find_elements("css selector", "#title")
                    out["title"] = titles[0].text if titles else None
                    bodies = self.d.find_elements("css selector", "iframe.body")
                    out["body"] = None
                    if bodies:
                        self.d.switch_to.frame(bodies[0])
                        out["body"] = self.d.find_element("css selector", "body").text
                    self.d.switch_to.default_content()
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
            self.d.find_elements("css selector", "iframe.efd-composer")), timeout=30,
            what=f"{self.username}: composer frame")
        self.d.switch_to.frame(frame)
        wait_until(lambda: self.d.execute_script("return document.body.dataset.state") in ("ready", "idle", "locked"),
                   timeout=timeout, what=f"{self.username}: composer ready")
        return frame

    def send_composer(self):
        """Clicks "send" in the composer (the driver is inside it); marks the page so that
        wait_topic_page can tell the reload after sending from the page before."""
        self.d.switch_to.default_content()
        self.d.execute_script("window.__efdTestBeforeSend = true")
        self.composer()
        self.d.find_element("css selector", "#send-btn").click()

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
            frames = self.d.find_elements("css selector", "iframe.efd-composer")
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
        self.ext_page(f"ui/inbox.html?origin={self.srv.url}")
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

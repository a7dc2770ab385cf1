"""A long topic's page view: the extension fetches the topic once for every frame of the page
(the raws in batches), the engine decrypts each post once, and a post that comes back from
cloaking or a return to the topic by SPA navigation is shown again without decrypting it again
(counted by the engine: test.read_stats). bob reads a 100-post topic alice and bob wrote (made
with pycore on CPython, planted in the stand-in) in Chromium.
"""
from __future__ import annotations

import time

import pytest

from .browser import wait_until
from .conftest import PASSPHRASE
from .convo import ForumUser, browsers, import_vector, launch_chromium

pytestmark = pytest.mark.e2e

POSTS = 100   # the first post and 99 replies


@pytest.fixture(scope="module")
def srv():
    from tests.standin.server import StandinServer
    s = StandinServer().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def topic(srv):
    from pycore import inband
    from tests.e2e.bench import make_topics
    _texts, bios, topics, _jwks = make_topics([POSTS - 1])
    for name in ("alice", "bob"):
        srv.create_user(name, "standin-password-1", trust_level=1, age_days=30, bio_raw=bios[name])
    t = topics[POSTS - 1]
    tid = srv.create_pm("alice", ["bob"], inband.PLACEHOLDER_TITLE, t["first"], skip_validations=True)["topic_id"]
    ids = [srv.reply(who, tid, raw, skip_validations=True)["id"] for who, raw in t["replies"]]
    return {"id": tid, "replies": ids}


@pytest.fixture(scope="module")
def bob(request, ext_dir, tmp_path_factory, srv, topic):
    with browsers(request) as started:
        u = launch_chromium(started, ext_dir, tmp_path_factory, srv, "pageview-bob", "bob")
        import_vector(u, 1, PASSPHRASE)
        u.call("site.enable", {"origin": srv.origin})
        yield u


def _topic_requests(srv, mark, tid):
    """(topic, raws) requests to the forum since `mark`."""
    reqs = srv.requests[mark:]
    topic = [r for r in reqs if r["app_path"].rstrip("/") == f"/t/{tid}.json"]
    raws = [r for r in reqs if r["app_path"] == f"/t/{tid}/posts.json"
            and "include_raw=true" in (r.get("query") or "")]
    return len(topic), len(raws)


def _decrypted(u: ForumUser) -> int:
    return u.call("test.read_stats")["decrypted"]


def _first_screen(u: ForumUser, topic):
    """The first reply, then every reply viewer placed by then (Discourse cloaks the posts a few
    screens away: how many are placed depends on the frames' heights)."""
    assert u.read_viewer(topic["replies"][0])["state"] == "valid"
    u.to_forum()
    placed = [int(f.get_attribute("data-efd-post-id")) for f in u.viewers()]
    for pid in [p for p in placed if p in topic["replies"]]:
        assert u.read_viewer(pid)["state"] == "valid"


def test_1_one_topic_fetch_serves_every_frame_of_the_page(bob: ForumUser, srv, topic):
    tid = topic["id"]
    # what the forum's own page requests, without the extension on the site
    bob.call("site.disable", {"origin": srv.origin})
    bob.to_forum("/about-blank-404", ready=False)
    mark = len(srv.requests)
    bob.to_forum(f"/t/{tid}", ready=False)
    wait_until(lambda: bob.d.execute_script("return document.body.dataset.standinReady === '1'"), timeout=30,
               what="the topic page without the extension")
    wait_until(lambda: bob.d.find_elements("css selector", "article[data-post-id]"), timeout=30, what="posts shown")
    page_topic, page_raws = _topic_requests(srv, mark, tid)
    bob.call("site.enable", {"origin": srv.origin})
    # the first view opens the conversation on this device
    bob.to_forum(f"/t/{tid}")
    _first_screen(bob, topic)
    # a page view with the conversation known: the first screen, every frame, one topic fetch
    bob.to_forum("/about-blank-404", ready=False)
    mark = len(srv.requests)
    bob.to_forum(f"/t/{tid}")
    _first_screen(bob, topic)
    wait_until(lambda: _decrypted(bob) >= POSTS - 1, timeout=60, what="the page view read its topic ahead")
    t, raws = _topic_requests(srv, mark, tid)
    ours = (t - page_topic) + (raws - page_raws)
    assert ours <= 3, f"the extension made {ours} topic requests for a {POSTS}-post page view ({t} topic, {raws} raws)"
    bob.to_forum()
    assert len(bob.viewers()) >= 2   # the first post's and at least one reply's


def test_2_cloaking_and_going_back_do_not_decrypt_again(bob: ForumUser, srv, topic):
    tid = topic["id"]
    bob.to_forum(f"/t/{tid}")
    _first_screen(bob, topic)
    wait_until(lambda: _decrypted(bob) >= POSTS - 1, timeout=60, what="the page view read its topic ahead")
    before = _decrypted(bob)
    # Discourse re-creates a cloaked post: its viewer comes back and shows it
    pid = topic["replies"][0]
    n = srv.post(pid)["post_number"]
    bob.to_forum()
    bob.d.execute_script("window.__standin.setAutoCloak(false); window.__standin.cloak(arguments[0])", n)
    wait_until(lambda: bob.d.execute_script("return window.__standin.isCloaked(arguments[0])", n), timeout=10,
               what="the post cloaked")
    bob.d.execute_script("window.__standin.uncloak(arguments[0])", n)
    assert bob.read_viewer(pid)["state"] == "valid"
    # SPA navigation away and back to the topic
    bob.d.execute_script("window.__standin.navigate(arguments[0])", srv.base_path + "/u/bob/messages")
    wait_until(lambda: "/u/bob/messages" in bob.d.current_url, timeout=30, what="the messages page")
    bob.d.execute_script("history.back()")
    wait_until(lambda: f"/t/{tid}" in bob.d.current_url, timeout=30, what="back on the topic")
    _first_screen(bob, topic)
    assert _decrypted(bob) == before, "a post shown again was decrypted again"
    assert bob.call("test.read_stats")["hits"] > 0


# Watches, from the page, when each of our viewer frames is given its address and when it has
# loaded (what any page script can see of them: no content, only the frame elements).
_WATCH_FRAMES = """
window.__frameLoads = {started: [], open: 0, most: 0};
const loading = new Set();   // frames given an address, not loaded yet and still in the page
new MutationObserver((changes) => {
  const w = window.__frameLoads;
  for (const f of [...loading]) if (!f.isConnected) loading.delete(f);
  for (const c of changes) for (const n of c.type === 'attributes' ? [c.target] : c.addedNodes) {
    if (n.tagName === 'IFRAME' && n.classList.contains('efd-viewer') && n.src && !n.__watched) {
      n.__watched = true;
      w.started.push(n.dataset.efdPostId);
      loading.add(n);
      n.addEventListener('load', () => { loading.delete(n); w.open = loading.size; }, {once: true});
    }
  }
  w.open = loading.size;
  w.most = Math.max(w.most, loading.size);
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
"""


def test_3_viewer_frames_load_a_few_at_a_time_in_the_order_of_the_page(bob: ForumUser, srv, topic):
    """Twenty frames loading their scripts at once would share the machine and show the first
    post last: the content script gives a frame its address only when a place is free."""
    tid = topic["id"]
    bob.to_forum("/about-blank-404", ready=False)
    script = bob.d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _WATCH_FRAMES})
    try:
        bob.to_forum(f"/t/{tid}")
        _first_screen(bob, topic)
        bob.to_forum()
        # down the topic, a screen at a time: more posts come near the viewport than fit at once
        for _ in range(30):
            bob.d.execute_script("window.scrollBy(0, window.innerHeight)")
            if len(bob.d.execute_script("return window.__frameLoads.started")) >= 10:
                break
            time.sleep(0.1)
        wait_until(lambda: bob.d.execute_script("return window.__frameLoads.open") == 0, timeout=60,
                   what="every frame placed so far loaded")
        w = bob.d.execute_script("return window.__frameLoads")
    finally:
        bob.to_forum()
        bob.d.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
    assert len(w["started"]) >= 10, w
    assert w["most"] <= 3, f"{w['most']} viewer frames were loading at once"
    started = [int(p) for p in w["started"]]
    assert started == sorted(started), f"frames started out of the page's order: {started}"

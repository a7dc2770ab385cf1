"""The stand-in's HTTP API behaves like Discourse's (auth, CSRF, check_xhr, PMs, limits, drafts)."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

PW = "pw-123456"


@pytest.fixture
def forum(standin):
    for name, tl in (("alice", 2), ("bob", 1), ("carol", 1), ("newbie", 0)):
        standin.create_user(name, PW, trust_level=tl)
    return standin


def pm(client, to="bob", title="Hello", raw="A message body that is long enough", **kw):
    return client.create_pm(to, title, raw, **kw)


# ------------------------------------------------------------------------------ auth & CSRF

def test_login_logout_and_current(forum):
    c = forum.client()
    assert c.get("/session/current.json").status == 404
    assert c.get("/session/current.json").body == b""
    bad = c.login("alice", "wrong-password")
    assert bad.status == 200 and "error" in bad.json()
    assert "_t" not in c.cookies
    ok = c.login("alice", PW)
    assert ok.status == 200 and ok.json()["user"]["username"] == "alice"
    assert "HttpOnly" in ok.headers["set-cookie"] and "_t=" in ok.headers["set-cookie"]
    cur = c.get("/session/current.json")
    assert cur.status == 200 and cur.json()["current_user"]["username"] == "alice"
    assert cur.headers["x-discourse-username"] == "alice"
    assert c.delete("/session/alice.json").status == 200
    assert c.get("/session/current.json").status == 404


def test_csrf_required_on_non_get(forum):
    c = forum.client("alice")
    r = c.post("/posts.json", {"archetype": "private_message", "target_recipients": "bob",
                               "title": "Hi", "raw": "long enough body"}, csrf=False)
    assert r.status == 403 and r.body == b'["BAD CSRF"]'
    assert r.headers["content-type"].startswith("text/plain")
    r = c.post("/posts.json", {"raw": "x"}, csrf=False, headers={"X-CSRF-Token": "forged"})
    assert r.status == 403 and r.body == b'["BAD CSRF"]'
    assert forum.topics() == []
    token = c.get("/session/csrf.json").json()["csrf"]
    assert len(token) > 20
    page = c.get("/", headers={"Accept": "text/html", "X-Requested-With": ""})
    assert f'<meta name="csrf-token" content="{token}">' in page.text


def test_not_logged_in_error(forum):
    c = forum.client()
    r = c.post("/posts.json", {"raw": "something long enough", "topic_id": 1})
    assert r.status == 403 and r.json()["error_type"] == "not_logged_in"


def test_check_xhr_serves_html_shell(forum):
    c = forum.client("alice")
    c.xhr = False
    r = c.get("/session/current")
    assert r.status == 200 and r.headers["content-type"].startswith("text/html")
    assert '<meta name="generator" content="Discourse ' in r.text
    assert c.get("/session/current.json").json()["current_user"]["username"] == "alice"
    c.xhr = True
    assert c.get("/session/current").json()["current_user"]["username"] == "alice"


def test_shell_has_discourse_anchors_and_csp(forum):
    c = forum.client("alice")
    c.xhr = False
    r = c.get("/u/alice/messages")
    assert r.status == 200
    assert 'name="generator" content="Discourse 3.5.0 - https://github.com/discourse/discourse version ' in r.text
    import re
    m = re.search(r'<script id="data-preloaded" type="application/json">(.*?)</script>', r.text, re.S)
    outer = json.loads(m.group(1))
    assert all(isinstance(v, str) for v in outer.values())
    assert json.loads(outer["currentUser"])["username"] == "alice"
    assert json.loads(outer["siteSettings"])["max_post_length"] == 32000
    csp = r.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert "'strict-dynamic'" in csp and "'wasm-unsafe-eval'" in csp and "default-src" not in csp
    assert f'<script nonce="{nonce}" src="/assets/app.js"' in r.text


# ------------------------------------------------------------------------------ PMs

def test_create_pm_reply_and_read(forum):
    a, b, c = forum.client("alice"), forum.client("bob"), forum.client("carol")
    r = pm(a, "bob", "Secret plans", "Meet at **noon**\nbring `code`")
    assert r.status == 200, r.text
    post = r.json()
    assert post["post_number"] == 1 and post["raw"].startswith("Meet") and post["username"] == "alice"
    assert "<strong>noon</strong>" in post["cooked"] and "<br>" in post["cooked"]
    tid = post["topic_id"]
    rep = b.reply(tid, "Sounds good, see you there")
    assert rep.status == 200 and rep.json()["post_number"] == 2
    t = a.get(f"/t/{tid}.json").json()
    assert t["archetype"] == "private_message" and t["title"] == "Secret plans"
    assert [p["post_number"] for p in t["post_stream"]["posts"]] == [1, 2]
    assert all("raw" not in p for p in t["post_stream"]["posts"])
    assert t["post_stream"]["stream"] == [post["id"], rep.json()["id"]]
    assert sorted(u["username"] for u in t["details"]["allowed_users"]) == ["alice", "bob"]
    # third parties see nothing
    assert c.get(f"/t/{tid}.json").status == 403
    assert c.get(f"/posts/{post['id']}.json").status == 403
    assert c.get(f"/raw/{tid}/1").status == 403
    assert c.reply(tid, "let me in please!!").status == 403
    assert forum.client().get(f"/t/{tid}.json").status in (403, 404)
    # raw endpoints
    assert a.get(f"/posts/{post['id']}.json").json()["raw"] == "Meet at **noon**\nbring `code`"
    assert a.get(f"/posts/by_number/{tid}/2.json").json()["raw"] == "Sounds good, see you there"
    r = a.get(f"/raw/{tid}/2")
    assert r.headers["content-type"].startswith("text/plain") and r.text == "Sounds good, see you there"
    posts = a.get(f"/t/{tid}/posts.json?post_ids[]={post['id']}&include_raw=true").json()["post_stream"]["posts"]
    assert [p["raw"] for p in posts] == ["Meet at **noon**\nbring `code`"]
    assert "raw" not in a.get(f"/t/{tid}/posts.json?post_ids[]={post['id']}").json()["post_stream"]["posts"][0]
    # lists
    inbox = b.get("/topics/private-messages/bob.json").json()["topic_list"]["topics"]
    assert [t["id"] for t in inbox] == [tid]
    assert b.get("/topics/private-messages-sent/bob.json").json()["topic_list"]["topics"] == []
    assert [t["id"] for t in a.get("/topics/private-messages-sent/alice.json").json()["topic_list"]["topics"]] == [tid]
    assert b.get("/topics/private-messages/alice.json").status == 403
    pp = b.get("/private-posts.json").json()["private_posts"]
    assert {p["raw"] for p in pp} == {"Meet at **noon**\nbring `code`", "Sounds good, see you there"}


def test_json_body_and_pm_to_self(forum):
    a = forum.client("alice")
    r = a.post("/posts.json", json_body={"archetype": "private_message", "target_recipients": "alice",
                                         "title": "Note to self", "raw": "keyring backup goes here"})
    assert r.status == 200, r.text
    t = forum.topic(r.json()["topic_id"])
    assert t["allowed_usernames"] == ["alice"]


def test_target_usernames_is_ignored(forum):
    r = forum.client("alice").post("/posts.json", {"archetype": "private_message", "target_usernames": "bob",
                                                   "title": "Hello", "raw": "long enough body text"})
    assert r.status == 422 and r.json()["action"] == "create_post"


def test_cooking_escapes_html_and_marks_code(forum):
    r = pm(forum.client("alice"), raw="<script>alert(1)</script> <b>x</b>\n\n```\nciphertext+/==\n```\n\n```js\nx\n```")
    cooked = r.json()["cooked"]
    assert "<script>" not in cooked and "&lt;script&gt;" in cooked and "<b>" not in cooked
    assert '<pre><code class="lang-auto">ciphertext+/==\n</code></pre>' in cooked
    assert '<code class="lang-js">' in cooked


@pytest.mark.parametrize("title,raw,message", [
    ("H", "long enough body", "Title is too short (minimum is 2 characters)"),
    ("T" * 256, "long enough body", "Title is too long (maximum is 255 characters)"),
    ("Hello", "  short   ", "Body is too short (minimum is 10 characters)"),
    ("Hello", "x" * 32001, "Body is limited to 32000 characters; you entered 32001."),
])
def test_pm_validations(forum, title, raw, message):
    r = pm(forum.client("alice"), title=title, raw=raw)
    assert r.status == 422
    body = r.json()
    assert body["action"] == "create_post" and message in body["errors"]
    assert forum.topics() == []


def test_missing_raw_is_400(forum):
    r = forum.client("alice").post("/posts.json", {"archetype": "private_message", "target_recipients": "bob",
                                                   "title": "Hello"})
    assert r.status == 400 and r.json()["error_type"] == "invalid_parameters"


def test_limits_are_inclusive(forum):
    a = forum.client("alice")
    assert pm(a, title="Hi", raw="x" * 32000).status == 200
    assert pm(a, title="T" * 255, raw="0123456789").status == 200


def test_duplicate_post_rejected(forum):
    a = forum.client("alice")
    first = pm(a, raw="the very same body")
    assert first.status == 200
    again = a.reply(first.json()["topic_id"], "the very same body")
    assert again.status == 422 and "Body is too similar to what you recently posted" in again.json()["errors"]
    forum.settings["unique_posts_mins"] = 0
    assert a.reply(first.json()["topic_id"], "the very same body").status == 200


def test_tl0_cannot_start_pm_but_can_reply(forum):
    n = forum.client("newbie")
    r = pm(n, "bob")
    assert r.status == 422 and r.json()["errors"] == ["Sorry, you cannot send a message to that user."]
    tid = pm(forum.client("bob"), "newbie").json()["topic_id"]
    assert n.reply(tid, "thanks for the message").status == 200


def test_recipient_cap_and_unknown_user(forum):
    forum.settings["max_allowed_message_recipients"] = 2
    a = forum.client("alice")
    r = pm(a, "bob,carol,newbie")
    assert r.status == 422 and "maximum of 2 recipients" in r.json()["errors"][0]
    assert pm(a, "bob,carol").status == 200
    r = pm(a, "nobody-here")
    assert r.status == 422


def test_rate_limits_answer_429(forum):
    forum.settings["rate_limit_create_post"] = 30
    forum.settings["rate_limit_create_topic"] = 60
    a = forum.client("alice")
    first = pm(a)
    assert first.status == 200
    r = pm(a, raw="another body here ok")
    assert r.status == 429
    assert int(r.headers["retry-after"]) > 0
    body = r.json()
    assert body["error_type"] == "rate_limit" and body["extras"]["wait_seconds"] > 0 and body["errors"]
    tid = first.json()["topic_id"]
    assert a.reply(tid, "first reply is fine").status == 200
    r = a.reply(tid, "second reply is too fast")
    assert r.status == 429 and r.json()["extras"]["wait_seconds"] <= 30


def test_pm_per_day_limit(forum):
    forum.settings["max_personal_messages_per_day"] = 2
    a = forum.client("alice")
    assert pm(a, raw="message number one").status == 200
    assert pm(a, raw="message number two").status == 200
    assert pm(a, raw="message number three").status == 429


def test_approval_queue_enqueues(forum):
    forum.settings["approve_unless_trust_level"] = 2
    b = forum.client("bob")
    r = pm(b, "alice", raw="waiting for a moderator")
    assert r.status == 200
    body = r.json()
    assert body["action"] == "enqueued" and body["success"] is True and body["pending_post"]["id"]
    assert forum.topics() == [] and forum.pending_posts()[0]["raw"] == "waiting for a moderator"
    post = forum.approve_pending(body["pending_post"]["id"])
    assert post["raw"] == "waiting for a moderator" and forum.pending_posts() == []
    assert pm(forum.client("alice"), "bob", raw="alice is TL2 and not queued").json()["post_number"] == 1


def test_hidden_profile_hides_bio(forum):
    forum.create_user("shy", PW, bio_raw="shy's key", hide_profile=True)
    u = forum.client("alice").get("/u/shy.json").json()["user"]
    assert "bio_raw" not in u and u["profile_hidden"] is True
    assert forum.client("shy").get("/u/shy.json").json()["user"]["bio_raw"] == "shy's key"


def test_edit_post_with_revisions(forum):
    a, b = forum.client("alice"), forum.client("bob")
    post = pm(a, raw="original text here").json()
    r = a.put(f"/posts/{post['id']}.json", {"post[raw]": "edited text here", "post[edit_reason]": "typo"})
    assert r.status == 200 and r.json()["post"]["raw"] == "edited text here" and r.json()["post"]["version"] == 2
    # not nested -> 400, like params.require(:post)
    assert a.put(f"/posts/{post['id']}.json", {"raw": "flat param is rejected"}).status == 400
    # JSON nested body
    r = a.put(f"/posts/{post['id']}.json", json_body={"post": {"raw": "third version text"}})
    assert r.status == 200 and r.json()["post"]["version"] == 3
    # optimistic concurrency
    r = a.put(f"/posts/{post['id']}.json", {"post[raw]": "fourth version!!", "post[original_text]": "stale"})
    assert r.status == 409
    assert b.put(f"/posts/{post['id']}.json", {"post[raw]": "bob cannot edit"}).status == 403
    latest = b.get(f"/posts/{post['id']}/revisions/latest.json").json()
    assert latest["current_revision"] == 3 and "edited text here" in latest["body_changes"]["side_by_side_markdown"]
    assert [r["raw_after"] for r in forum.revisions(post["id"])] == ["edited text here", "third version text"]


def test_invite_and_remove(forum):
    a, c = forum.client("alice"), forum.client("carol")
    tid = pm(a, "bob").json()["topic_id"]
    assert c.get(f"/t/{tid}.json").status == 403
    r = a.post(f"/t/{tid}/invite.json", {"user": "carol"})
    assert r.status == 200 and r.json()["user"]["username"] == "carol"
    assert c.get(f"/t/{tid}.json").status == 200
    assert a.post(f"/t/{tid}/invite.json", {"user": "carol"}).status == 422
    r = a.put(f"/t/{tid}/remove-allowed-user.json", {"username": "carol"})
    assert r.status == 200 and r.json() == {"success": "OK"}
    assert c.get(f"/t/{tid}.json").status == 403
    assert forum.client("bob").put(f"/t/{tid}/remove-allowed-user.json", {"username": "alice"}).status == 422


def test_topic_chunks_of_20(forum):
    forum.settings["unique_posts_mins"] = 0
    a = forum.client("alice")
    tid = pm(a).json()["topic_id"]
    for i in range(24):
        forum.reply("bob" if i % 2 else "alice", tid, f"reply number {i:02d}")
    t = a.get(f"/t/{tid}.json").json()
    assert len(t["post_stream"]["posts"]) == 20 and len(t["post_stream"]["stream"]) == 25
    rest = t["post_stream"]["stream"][20:]
    qs = "&".join(f"post_ids[]={i}" for i in rest)
    more = a.get(f"/t/{tid}/posts.json?{qs}&include_raw=true").json()["post_stream"]["posts"]
    assert [p["id"] for p in more] == rest and more[-1]["raw"] == "reply number 23"


# ------------------------------------------------------------------------------ users

def test_bio_read_update_and_limit(forum):
    a, b = forum.client("alice"), forum.client("bob")
    assert "bio_raw" not in b.get("/u/alice.json").json()["user"]
    r = a.put("/u/alice.json", {"bio_raw": "my **key** block"})
    assert r.status == 200 and r.json()["success"] == "OK"
    u = b.get("/u/alice.json").json()["user"]
    assert u["bio_raw"] == "my **key** block" and "<strong>key</strong>" in u["bio_cooked"]
    assert a.put("/u/alice.json", {"bio_raw": "x" * 3000}).status == 200
    r = a.put("/u/alice.json", {"bio_raw": "x" * 3001})
    assert r.status == 422 and r.json()["errors"] and r.json()["error_type"]
    assert b.put("/u/alice.json", {"bio_raw": "bob writes alice's bio"}).status == 403
    card = b.get("/u/alice/card.json").json()["user"]
    assert "bio_raw" not in card and card["bio_excerpt"].startswith("x")
    assert b.get("/u/nobody.json").status == 404


def test_user_cards(forum):
    forum.set_bio("bob", "bob's card bio")
    ids = ",".join(str(forum.user(n)["id"]) for n in ("bob", "carol"))
    cards = forum.client("alice").get(f"/user-cards.json?user_ids={ids}").json()["users"]
    assert [c["username"] for c in cards] == ["bob", "carol"]
    assert cards[0]["bio_excerpt"] == "bob's card bio" and all("bio_raw" not in c for c in cards)
    forum.serve_bio_to("alice", "bob", "served only to alice")
    assert forum.client("alice").get("/u/bob/card.json").json()["user"]["bio_excerpt"] == "served only to alice"
    too_many = ",".join(str(i) for i in range(1, 52))
    assert forum.client("alice").get(f"/user-cards.json?user_ids={too_many}").status == 400


def test_draft_count_limit(forum):
    forum.settings["max_drafts_per_user"] = 1
    a = forum.client("alice")
    assert a.post("/drafts.json", {"draft_key": "one", "data": "{}"}).status == 200
    assert a.post("/drafts.json", {"draft_key": "one", "data": "{}"}).status == 200
    assert a.post("/drafts.json", {"draft_key": "two", "data": "{}"}).status == 403


def test_user_search(forum):
    r = forum.client("alice").get("/u/search/users.json?term=ca").json()
    assert [u["username"] for u in r["users"]] == ["carol"]
    r = forum.client("alice").get("/u/search/users.json?usernames=bob,alice").json()
    assert {u["username"] for u in r["users"]} == {"alice", "bob"}


# ------------------------------------------------------------------------------ drafts

def test_drafts(forum):
    a = forum.client("alice")
    data = json.dumps({"reply": "half-written", "action": "reply"})
    r = a.post("/drafts.json", {"draft_key": "topic_7", "data": data, "sequence": 0})
    assert r.status == 200 and r.json() == {"success": "OK", "draft_sequence": 0}
    assert a.get("/drafts/topic_7.json").json() == {"draft": data, "draft_sequence": 0}
    assert [d["draft_key"] for d in a.get("/drafts.json").json()["drafts"]] == ["topic_7"]
    assert a.post("/drafts.json", {"draft_key": "k", "data": "{not json"}).status == 400
    assert a.post("/drafts.json", {"draft_key": "topic_7", "data": data, "sequence": 5}).status == 409
    assert forum.drafts("alice")[0]["data"] == data
    assert a.delete("/drafts/topic_7.json?sequence=0").status == 200
    assert a.get("/drafts/topic_7.json").json() == {"draft": None, "draft_sequence": 1}
    # posting clears the PM draft and advances its sequence
    a.post("/drafts.json", {"draft_key": "new_private_message", "data": data, "sequence": 0})
    post = pm(a).json()
    assert post["draft_sequence"] == 1 and forum.drafts("alice") == []
    assert forum.client().get("/drafts.json").status == 403


# ------------------------------------------------------------------------------ the malicious server API

def test_server_powers(forum):
    a, b = forum.client("alice"), forum.client("bob")
    p1 = pm(a, raw="first message body").json()
    tid = p1["topic_id"]
    p2 = b.reply(tid, "second message body").json()
    p3 = a.reply(tid, "third message body").json()
    forum.rewrite_post(p2["id"], "forged by the server")
    assert b.get(f"/posts/{p2['id']}.json").json()["raw"] == "forged by the server"
    assert b.get(f"/posts/{p2['id']}.json").json()["version"] == 1   # silently: no revision
    forum.reorder_posts(tid, [p3["id"], p1["id"], p2["id"]])
    assert a.get(f"/t/{tid}.json").json()["post_stream"]["stream"] == [p3["id"], p1["id"], p2["id"]]
    forum.drop_post(p1["id"])
    t = a.get(f"/t/{tid}.json").json()
    assert p1["id"] not in t["post_stream"]["stream"]
    assert a.get(f"/posts/{p1['id']}.json").status == 404
    assert [p["id"] for p in forum.posts(tid)] == [p2["id"], p3["id"]]
    forum.set_bio("bob", "bob's real key")
    forum.serve_bio_to("alice", "bob", "attacker's key for alice")
    assert a.get("/u/bob.json").json()["user"]["bio_raw"] == "attacker's key for alice"
    assert forum.client("carol").get("/u/bob.json").json()["user"]["bio_raw"] == "bob's real key"
    forum.serve_bio_to("alice", "bob", None)
    assert a.get("/u/bob.json").json()["user"]["bio_raw"] == "bob's real key"


def test_request_log_records_everything(forum):
    c = forum.client("alice")
    forum.clear_log()
    c.get("/no/such/path?x=1", headers={"X-Probe": "yes"})
    c.post("/posts.json", "raw=secret%20stuff", csrf=False)
    c.post("/__hostile/exfil", json_body={"stolen": "data"}, csrf=False)
    log = forum.requests
    unknown = next(r for r in log if r["path"] == "/no/such/path")
    assert unknown["query"] == "x=1" and unknown["headers"]["X-Probe"] == "yes" and unknown["status"] == 404
    failed = next(r for r in log if r["path"] == "/posts.json")
    assert failed["status"] == 403 and failed["body"] == "raw=secret%20stuff" and failed["method"] == "POST"
    ex = next(r for r in log if r["path"] == "/__hostile/exfil")
    assert json.loads(ex["body"]) == {"stolen": "data"}
    forum.clear_log()
    assert forum.requests == []


def test_injection_inlines_scripts_with_nonce(standin_factory, tmp_path):
    f = tmp_path / "mine.js"
    f.write_text("window.fromFile = 1;")
    srv = standin_factory(inject=[str(f), "window.fromString = 2;"], hostile=True)
    c = srv.client()
    c.xhr = False
    page = c.get("/").text
    import re
    nonce = re.search(r"'nonce-([^']+)'", c.get("/").headers["content-security-policy"])
    assert "window.fromFile = 1;" in page and "window.fromString = 2;" in page
    assert "__hostile" in page
    scripts = re.findall(r'<script nonce="([^"]+)">', page)
    assert len(scripts) >= 2 + 5 and len(set(scripts)) == 1 and nonce


def test_extra_inject_env(standin_factory, tmp_path, monkeypatch):
    a, b = tmp_path / "a.js", tmp_path / "b.js"
    a.write_text("window.extraA = 'from-env-a';")
    b.write_text("window.extraB = 'from-env-b';")
    monkeypatch.setenv("E2E_EXTRA_INJECT", f"{a}:{b}")
    c = standin_factory().client()
    c.xhr = False
    page = c.get("/").text
    assert "from-env-a" in page and "from-env-b" in page


def test_cli_demo(tmp_path):
    repo = Path(__file__).resolve().parent.parent
    inj = tmp_path / "inj.js"
    inj.write_text("window.cliInjected = 'cli-inject-marker';")
    proc = subprocess.Popen([sys.executable, "-m", "tests.standin", "--port", "0", "--demo", "--inject", str(inj)],
                            cwd=repo,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # A hung child must fail this test quickly, not wait out pytest's global timeout.
    killer = threading.Timer(60, proc.kill)
    killer.start()
    try:
        line = proc.stdout.readline()
        assert "running at http://127.0.0.1:" in line, line
        url = line.split("running at ", 1)[1].strip().rstrip("/")
        logins = [proc.stdout.readline() for _ in range(5)]
        assert any("alice" in x and "demo-password-123" in x for x in logins)
        assert any("trust level 0" in x for x in logins)
        from tests.standin.client import StandinClient
        c = StandinClient(url)
        assert c.login("bob", "demo-password-123").json()["user"]["username"] == "bob"
        assert c.get("/topics/private-messages/bob.json").json()["topic_list"]["topics"]
        c.xhr = False
        assert "cli-inject-marker" in c.get("/").text
    finally:
        killer.cancel()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

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


NO_RATE_LIMITS = {"rate_limit_create_topic": 0, "rate_limit_new_user_create_topic": 0,
                  "rate_limit_create_post": 0, "rate_limit_new_user_create_post": 0}


@pytest.fixture
def forum(standin):
    """Established users (a month old). Rate limits are off here: these tests are about other
    rules, and the rate-limit tests below turn Discourse's defaults back on."""
    standin.settings.update(NO_RATE_LIMITS)
    for name, tl in (("alice", 2), ("bob", 1), ("carol", 1), ("newbie", 0)):
        standin.create_user(name, PW, trust_level=tl, age_days=30)
    return standin


class FakeClock:
    """Drives the rate limiter's time, so waits need no sleeping."""

    def __init__(self, srv):
        import time
        self.t = time.time()
        srv.forum.limiter.clock = lambda: self.t

    def advance(self, secs):
        self.t += secs


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
    assert t["details"]["can_create_post"] is True and "can_convert_topic" not in t["details"]
    # third parties see nothing
    assert c.get(f"/t/{tid}.json").status == 403
    assert c.get(f"/posts/{post['id']}.json").status == 403
    assert c.get(f"/raw/{tid}/1").status == 403
    # PostCreator: a topic the user cannot post in is "not found", with NewPostResult's 422
    r = c.reply(tid, "let me in please!!")
    assert r.status == 422 and r.json()["action"] == "create_post" and r.json()["errors"]
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
    # "sent" = PMs with a post by the user: bob replied
    assert [t["id"] for t in b.get("/topics/private-messages-sent/bob.json").json()["topic_list"]["topics"]] == [tid]
    assert forum.client("carol").get("/topics/private-messages-sent/carol.json").json()["topic_list"]["topics"] == []
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
    assert r.status == 422 and r.json() == {"action": "create_post", "errors": ["You must select a valid user."]}


def test_cooking_escapes_html_and_marks_code(forum):
    r = pm(forum.client("alice"), raw="<script>alert(1)</script> <b>x</b>\n\n```\nciphertext+/==\n```\n\n"
           "```js\nx\n```\n\n```text\nplain armour\n```")
    cooked = r.json()["cooked"]
    assert "<script>" not in cooked and "&lt;script&gt;" in cooked and "<b>" not in cooked
    assert '<pre><code class="lang-auto">ciphertext+/==\n</code></pre>' in cooked
    assert '<pre data-code-wrap="js"><code class="lang-js">' in cooked
    assert '<pre><code class="lang-plaintext">plain armour\n</code></pre>' in cooked


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
    assert r.status == 400 and r.json() == {"errors": ["param is missing or the value is empty: raw"]}


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
    assert r.status == 422 and r.json()["errors"] == ["Sorry, you cannot send a personal message to that user."]
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


def test_default_rate_limits_answer_429(standin):
    """Discourse's defaults: 15 s between topics (a PM is one), 5 s between posts (a PM's first
    post is one too), for established users; staff are exempt."""
    standin.create_user("alice", PW, trust_level=1, age_days=30)
    standin.create_user("bob", PW, trust_level=1, age_days=30)
    standin.create_user("admin", PW, trust_level=4, admin=True)
    clock = FakeClock(standin)
    a = standin.client("alice")
    first = pm(a)
    assert first.status == 200
    r = pm(a, raw="another body here ok")
    assert r.status == 429 and r.headers["retry-after"] == "15"
    assert r.json() == {"errors": ["You’re creating new topics too quickly. Please wait 15 seconds before trying again."],
                        "error_type": "rate_limit", "extras": {"wait_seconds": 15, "time_left": "15 seconds"}}
    tid = first.json()["topic_id"]
    r = a.reply(tid, "a reply right after the message")
    assert r.status == 429 and r.json()["extras"]["wait_seconds"] == 5
    assert len(standin.posts(tid)) == 1          # refused actions leave nothing behind
    clock.advance(5.5)
    assert a.reply(tid, "a reply five seconds later").status == 200
    clock.advance(10)
    assert pm(a, raw="the second message, 15 s later").status == 200
    adm = standin.client("admin")
    assert pm(adm, raw="staff message one").status == 200 and pm(adm, raw="staff message two").status == 200


def test_new_user_rate_limits(standin):
    """User#new_user? (registered within a day, or TL0): 120 s between topics, 30 s between posts,
    and at most max_replies_in_first_day replies while posting on the first day."""
    standin.create_user("fresh", PW, trust_level=1)
    standin.create_user("bob", PW, trust_level=1, age_days=30)
    standin.settings["unique_posts_mins"] = 0
    clock = FakeClock(standin)
    f = standin.client("fresh")
    tid = pm(f, "bob").json()["topic_id"]
    clock.advance(20)
    r = pm(f, "bob", raw="second message of a new user")
    assert r.status == 429 and r.json()["extras"]["wait_seconds"] == 100
    r = f.reply(tid, "reply of a new user")
    assert r.status == 429 and r.json()["extras"]["wait_seconds"] == 10
    standin.settings["max_replies_in_first_day"] = 2
    for i in range(2):
        clock.advance(31)
        assert f.reply(tid, f"first-day reply {i}").status == 200
    clock.advance(31)
    r = f.reply(tid, "one reply too many on the first day")
    assert r.status == 429 and r.json()["extras"]["time_left"].endswith("hours")


def test_pm_per_day_limit(forum):
    forum.settings["max_personal_messages_per_day"] = 2
    a = forum.client("alice")
    assert pm(a, raw="message number one").status == 200
    assert pm(a, raw="message number two").status == 200
    r = pm(a, raw="message number three")
    assert r.status == 429 and r.json()["error_type"] == "rate_limit"
    assert r.json()["errors"] == ["You’ve performed this action too many times. Please wait 24 hours before trying again."]


def test_pms_are_never_queued(forum):
    """NewPostManager: "We never queue private messages" — even a TL0 reply is created at once."""
    tid = pm(forum.client("bob"), "newbie").json()["topic_id"]
    r = forum.client("newbie").reply(tid, "a reply by a new user")
    assert r.status == 200 and r.json()["post_number"] == 2 and "action" not in r.json()


def test_allow_private_messages(forum):
    """Guardian#can_send_private_message? checks the target's allow_private_messages unless the
    sender is staff; PostCreator reports other users as not accepting PMs. There is no check that
    the target is not the sender, so a user who disabled PMs cannot write a PM to themself."""
    forum.create_user("hermit", PW, trust_level=1, allow_private_messages=False, age_days=30)
    forum.create_user("admin", PW, trust_level=4, admin=True, age_days=30)
    r = pm(forum.client("alice"), "hermit")
    assert r.status == 422 and r.json()["errors"] == ["Sorry, hermit is not accepting messages at the moment."]
    r = pm(forum.client("hermit"), "hermit", raw="a note to myself, long enough")
    assert r.status == 422 and r.json()["errors"] == ["Sorry, you cannot send a personal message to that user."]
    assert pm(forum.client("hermit"), "alice", raw="hermit may still write to others").status == 200
    assert pm(forum.client("admin"), "hermit", raw="staff reach everyone").status == 200
    u = forum.client("alice").get("/u/hermit.json").json()["user"]
    assert u["can_send_private_message_to_user"] is False and u["user_option"]["allow_private_messages"] is False
    assert forum.client("alice").get("/u/bob.json").json()["user"]["can_send_private_message_to_user"] is True
    assert forum.client("alice").get("/u/alice.json").json()["user"]["can_send_private_message_to_user"] is False
    # the option is a user option of PUT /u/{username}.json
    assert forum.client("hermit").put("/u/hermit.json", {"allow_private_messages": "true"}).status == 200
    assert pm(forum.client("alice"), "hermit", raw="now hermit accepts PMs").status == 200
    forum.settings["allow_private_messages_default"] = False
    forum.create_user("quiet", PW, trust_level=1, age_days=30)
    assert pm(forum.client("alice"), "quiet", raw="quiet took the site default").status == 422


def test_watched_words_block(forum):
    """Blocked watched words: NewPostManager refuses "title raw" of non-staff (action
    created_post), the topic title and post validators refuse them for staff too, and
    UserProfile refuses them in bios."""
    forum.settings["watched_words_block"] = ["zorkmid", "frob*"]
    forum.create_user("admin", PW, trust_level=4, admin=True, age_days=30)
    a = forum.client("alice")
    r = pm(a, title="About zorkmid coins", raw="a clean body text")
    assert r.status == 422 and r.json() == {"action": "created_post",
                                            "errors": ["Your post contains a word that's not allowed: zorkmid"]}
    r = pm(a, raw="Frobnicate the ZORKMID now")
    assert r.json()["errors"] == ["Your post contains words that aren't allowed: ZORKMID, Frobnicate"]
    assert pm(a, raw="zorkmids is another word").status == 200          # whole words only
    adm = forum.client("admin")
    r = pm(adm, title="zorkmid", raw="staff pass the pre-check only")
    assert r.status == 422 and r.json()["action"] == "create_post"
    r = a.put("/u/alice.json", {"bio_raw": "my zorkmid key"})
    assert r.status == 422 and r.json() == {"errors": ["Your post contains a word that's not allowed: zorkmid"]}
    tid = pm(a, raw="a fine first post").json()["topic_id"]
    assert a.reply(tid, "reply with frobs").status == 422


def test_discourse_connect_overrides_bio(forum):
    """UserUpdater ignores bio_raw when DiscourseConnect overrides bios; the update still succeeds."""
    forum.settings.update(enable_discourse_connect=True, discourse_connect_overrides_bio=True)
    forum.set_bio("alice", "bio from the identity provider")
    a = forum.client("alice")
    r = a.put("/u/alice.json", {"bio_raw": "my key block"})
    assert r.status == 200 and r.json()["success"] == "OK"
    assert r.json()["user"]["bio_raw"] == "bio from the identity provider" and r.json()["user"]["can_change_bio"] is False
    assert forum.user("alice")["bio_raw"] == "bio from the identity provider"
    forum.settings["enable_discourse_connect"] = False         # both settings are needed
    assert a.get("/u/alice.json").json()["user"]["can_change_bio"] is True


def test_post_create_response_shapes(forum):
    """backwards_compatible_json: the bare post unless nested_post is present and not blank;
    JSON and form bodies alike."""
    a = forum.client("alice")
    bare = pm(a, raw="a body for the bare shape")
    assert bare.status == 200 and bare.json()["post_number"] == 1 and "draft_sequence" in bare.json()
    for body in ({"nested_post": "true"}, {"nested_post": "false"}):
        r = pm(a, raw=f"nested {body['nested_post']} body", **body)
        assert set(r.json()) == {"action", "post", "success"} and r.json()["action"] == "create_post"
    r = a.post("/posts.json", json_body={"archetype": "private_message", "target_recipients": "bob",
                                         "title": "JSON", "raw": "a JSON body, nested", "nested_post": True})
    assert r.json()["success"] is True and r.json()["post"]["raw"] == "a JSON body, nested"
    r = a.post("/posts.json", json_body={"archetype": "private_message", "target_recipients": "bob",
                                         "title": "JSON", "raw": "a JSON body, bare", "nested_post": False})
    assert r.json()["raw"] == "a JSON body, bare"
    r = pm(a, title="x", nested_post="true")
    assert r.status == 422 and set(r.json()) == {"action", "errors"}


def test_group_pms(forum):
    """target_recipients names a messageable group; details.allowed_users leaves out members
    reached through allowed_groups (except the current user); the group inbox lists the PM."""
    forum.create_group("support", ["bob", "carol"], messageable_level=99)
    forum.create_group("secret", ["carol"], messageable_level=0)
    a = forum.client("alice")
    r = pm(a, "support,carol", title="To the support group", raw="Hello support people")
    assert r.status == 200, r.text
    tid = r.json()["topic_id"]
    assert forum.topic(tid)["allowed_usernames"] == ["carol", "alice"]
    assert forum.topic(tid)["allowed_groupnames"] == ["support"]
    for who, expected in (("alice", ["alice"]), ("carol", ["carol", "alice"]), ("bob", ["alice"])):
        t = forum.client(who).get(f"/t/{tid}.json").json()
        assert sorted(u["username"] for u in t["details"]["allowed_users"]) == sorted(expected), who
        assert [g["name"] for g in t["details"]["allowed_groups"]] == ["support"]
    assert forum.client("bob").reply(tid, "bob answers through the group").status == 200
    inbox = forum.client("bob").get("/topics/private-messages/bob.json").json()["topic_list"]["topics"]
    assert inbox == []                                  # the personal inbox lists topic_allowed_users only
    group = forum.client("bob").get("/topics/private-messages-group/bob/support.json").json()
    assert [t["id"] for t in group["topic_list"]["topics"]] == [tid]
    assert forum.client("alice").get("/topics/private-messages-group/alice/support.json").json()["topic_list"]["topics"] == []
    r = pm(a, "secret", raw="a group that takes no messages")
    assert r.status == 422 and r.json()["errors"] == ["Sorry, the user you're trying to message could not be found."]


def test_group_members_are_paged_and_unknown_groups_are_refused(forum):
    """GroupsController#members: limit/offset paging with meta.total, username descending by
    default; an unknown group is refused like an invisible one (403), not 404."""
    forum.create_group("crew", ["alice", "bob", "carol"], messageable_level=99)
    a = forum.client("alice")
    j = a.get("/groups/crew/members.json?limit=2").json()
    assert [m["username"] for m in j["members"]] == ["carol", "bob"] and j["meta"] == {"total": 3, "limit": 2, "offset": 0}
    assert [m["username"] for m in a.get("/groups/CREW/members.json?limit=2&offset=2").json()["members"]] == ["alice"]
    assert [m["username"] for m in a.get("/groups/crew/members.json?asc=true").json()["members"]] == ["alice", "bob", "carol"]
    assert set(j["members"][0]) >= {"id", "username", "name", "avatar_template"}
    r = a.get("/groups/nosuchgroup/members.json")
    assert r.status == 403 and r.json()["error_type"] == "invalid_access"
    assert a.get("/groups/crew/members.json?limit=1001").status == 400


def test_pm_list_paging(forum):
    """TopicQuery: pm_page_size per page, 0-based page, bumped_at desc, more_topics_url only
    when the page is full."""
    forum.settings["pm_page_size"] = 3
    forum.settings["unique_posts_mins"] = 0
    ids = [pm(forum.client("alice"), raw=f"message number {i:02d}").json()["topic_id"] for i in range(7)]
    forum.reply("bob", ids[0], "bumps the oldest")
    b = forum.client("bob")
    pages = []
    url = "/topics/private-messages/bob.json"
    while url:
        tl = b.get(url).json()["topic_list"]
        assert tl["per_page"] == 3
        pages.append([t["id"] for t in tl["topics"]])
        url = tl.get("more_topics_url")
        if url:
            assert url.startswith("/topics/private-messages/bob?page=")
    assert pages == [[ids[0], ids[6], ids[5]], [ids[4], ids[3], ids[2]], [ids[1]]]
    assert b.get("/topics/private-messages/bob.json?page=2").json()["topic_list"]["topics"][0]["id"] == ids[1]
    assert "more_topics_url" not in b.get("/topics/private-messages-sent/bob.json").json()["topic_list"]
    assert b.get("/topics/private-messages/bob.json?page=-1").status == 400


def test_seeded_pms_sort_as_older(standin):
    standin.settings.update(seed_pms_per_user=35, **NO_RATE_LIMITS)
    standin.create_user("alice", PW, age_days=30)
    standin.create_user("bob", PW, age_days=30)
    tid = standin.create_pm("alice", "bob", "The newest message", "written after the seeding")["topic_id"]
    tl = standin.client("bob").get("/topics/private-messages/bob.json").json()["topic_list"]
    assert len(tl["topics"]) == 30 and tl["topics"][0]["id"] == tid and tl["more_topics_url"].endswith("?page=1")
    rest = standin.client("bob").get(tl["more_topics_url"]).json()["topic_list"]["topics"]
    assert len(rest) == 6
    assert all(t["last_poster_username"] == "pen_pal" for t in tl["topics"][1:] + rest)
    assert standin.client("bob").get("/topics/private-messages-sent/bob.json").json()["topic_list"]["topics"] == []


def test_new_unread_archive_lists(forum):
    a, b = forum.client("alice"), forum.client("bob")
    tid = pm(a, raw="the first message here").json()["topic_id"]
    assert [t["id"] for t in b.get("/topics/private-messages-new/bob.json").json()["topic_list"]["topics"]] == [tid]
    assert b.post("/topics/timings", {"topic_id": tid, "timings[1]": 1200, "topic_time": 1200}).status == 200
    assert b.get("/topics/private-messages-new/bob.json").json()["topic_list"]["topics"] == []
    assert a.reply(tid, "a second post to read").status == 200
    unread = b.get("/topics/private-messages-unread/bob.json").json()["topic_list"]["topics"]
    assert [t["id"] for t in unread] == [tid] and unread[0]["unread_posts"] == 1
    forum.archive_message("bob", tid)
    assert b.get("/topics/private-messages/bob.json").json()["topic_list"]["topics"] == []
    assert [t["id"] for t in b.get("/topics/private-messages-archive/bob.json").json()["topic_list"]["topics"]] == [tid]


def test_pm_list_read_state(forum):
    """The inbox list's read state per topic: unseen until first read, unread_posts = highest
    post number minus the last one read (0 before any read), changed by /topics/timings and by
    posting, never by fetching the topic."""
    a, b = forum.client("alice"), forum.client("bob")
    tid = pm(a, raw="the first message here").json()["topic_id"]

    def item(client, user):
        topics = client.get(f"/topics/private-messages/{user}.json").json()["topic_list"]["topics"]
        return next(t for t in topics if t["id"] == tid)

    mine = item(a, "alice")
    assert not mine["unseen"] and mine["last_read_post_number"] == 1 and mine["unread_posts"] == 0
    fresh = item(b, "bob")
    assert fresh["unseen"] and fresh["unread_posts"] == 0 and fresh["highest_post_number"] == 1
    assert b.get(f"/t/{tid}.json").status == 200
    assert item(b, "bob")["unseen"]
    b.post("/topics/timings", {"topic_id": tid, "timings[1]": 1000, "topic_time": 1000})
    read = item(b, "bob")
    assert not read["unseen"] and read["last_read_post_number"] == 1 and read["unread_posts"] == 0
    a.reply(tid, "a second post to read")
    behind = item(b, "bob")
    assert behind["unread_posts"] == 1 and behind["highest_post_number"] == 2 and behind["last_read_post_number"] == 1
    assert behind["last_posted_at"] > fresh["last_posted_at"] and behind["created_at"] == fresh["created_at"]
    assert item(a, "alice")["unread_posts"] == 0


def test_replies_and_reply_history(forum):
    a, b = forum.client("alice"), forum.client("bob")
    p1 = pm(a, raw="the question, post one").json()
    tid = p1["topic_id"]
    p2 = b.reply(tid, "an answer to post one", reply_to_post_number=1).json()
    p3 = a.reply(tid, "a follow-up to the answer", reply_to_post_number=2).json()
    b.reply(tid, "another answer to post one", reply_to_post_number=1)
    assert p2["reply_to_user"]["username"] == "alice" and "reply_to_user" not in p1
    posts = a.get(f"/t/{tid}.json").json()["post_stream"]["posts"]
    assert [p["reply_count"] for p in posts] == [2, 1, 0, 0]
    replies = a.get(f"/posts/{p1['id']}/replies.json?after=1").json()
    assert [r["post_number"] for r in replies] == [2, 4] and all("raw" not in r for r in replies)
    assert [r["post_number"] for r in a.get(f"/posts/{p1['id']}/replies.json?after=2").json()] == [4]
    history = a.get(f"/posts/{p3['id']}/reply-history.json").json()
    assert [r["post_number"] for r in history] == [1, 2]
    assert forum.client("carol").get(f"/posts/{p1['id']}/replies.json").status == 403


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
    assert r.status == 409 and set(r.json()) == {"errors"}
    r = a.put(f"/posts/{post['id']}.json", {"post[raw]": "short"})
    assert r.status == 422 and r.json() == {"errors": ["Body is too short (minimum is 10 characters)"]}
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
    # TopicGuardian: the creator (alice, trust level 2) may remove others
    assert a.get(f"/t/{tid}.json").json()["details"]["can_remove_allowed_users"] is True
    r = a.put(f"/t/{tid}/remove-allowed-user.json", {"username": "carol"})
    assert r.status == 200 and r.json() == {"success": "OK"}
    assert c.get(f"/t/{tid}.json").status == 403
    assert a.put(f"/t/{tid}/remove-allowed-user.json", {"username": "nosuchuser"}).status == 404
    assert a.put(f"/t/{tid}/remove-allowed-user.json", {"username": "carol"}).status == 422
    # the others remove themselves only, never the creator
    b = forum.client("bob")
    details = b.get(f"/t/{tid}.json").json()["details"]
    assert "can_remove_allowed_users" not in details and details["can_remove_self_id"] == forum.user("bob")["id"]
    r = b.put(f"/t/{tid}/remove-allowed-user.json", {"username": "alice"})
    assert r.status == 403 and r.json()["error_type"] == "invalid_access"
    assert b.put(f"/t/{tid}/remove-allowed-user.json", {"username": "bob"}).status == 200
    # a creator below trust level 2 may remove nobody, not even themself
    tid2 = pm(b, "carol").json()["topic_id"]
    details = b.get(f"/t/{tid2}.json").json()["details"]
    assert "can_remove_allowed_users" not in details and "can_remove_self_id" not in details
    assert b.put(f"/t/{tid2}/remove-allowed-user.json", {"username": "carol"}).status == 403
    assert b.put(f"/t/{tid2}/remove-allowed-user.json", {"username": "bob"}).status == 403


def test_topic_chunks_of_20(forum):
    forum.settings["unique_posts_mins"] = 0
    a = forum.client("alice")
    tid = pm(a).json()["topic_id"]
    for i in range(24):
        forum.reply("bob" if i % 2 else "alice", tid, f"reply number {i:02d}", skip_validations=True)
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
    assert r.status == 422 and r.json() == {"errors": ["Bio raw is too long (maximum is 3000 characters)"]}
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
    r = a.post("/drafts.json", {"draft_key": "two", "data": "{}"})
    assert r.status == 403 and set(r.json()) == {"errors", "extras"} and r.json()["extras"]["description"]


def test_user_search(forum):
    r = forum.client("alice").get("/u/search/users.json?term=ca").json()
    assert [u["username"] for u in r["users"]] == ["carol"]
    r = forum.client("alice").get("/u/search/users.json?usernames=bob,alice").json()
    assert {u["username"] for u in r["users"]} == {"alice", "bob"}


# ------------------------------------------------------------------------------ drafts

def test_drafts(forum):
    """Draft.set: the first save takes the current sequence; every save over an existing draft
    needs the current sequence (else 409, unless force_save) and advances it."""
    a = forum.client("alice")
    data = json.dumps({"reply": "half-written", "action": "reply"})
    r = a.post("/drafts.json", {"draft_key": "topic_7", "data": data, "sequence": 0})
    assert r.status == 200 and r.json() == {"success": "OK", "draft_sequence": 0}
    assert a.get("/drafts/topic_7.json").json() == {"draft": data, "draft_sequence": 0}
    r = a.post("/drafts.json", {"draft_key": "topic_7", "data": data, "sequence": 0})
    assert r.json() == {"success": "OK", "draft_sequence": 1}
    r = a.post("/drafts.json", {"draft_key": "topic_7", "data": data, "sequence": 0})
    assert r.status == 409 and set(r.json()) == {"errors", "extras"} and "error_type" not in r.json()
    assert a.post("/drafts.json", {"draft_key": "topic_7", "data": data, "sequence": 0,
                                   "force_save": "true"}).json()["draft_sequence"] == 2
    # a stale sequence without a draft to conflict with is replaced by the current one
    assert a.post("/drafts.json", {"draft_key": "k", "data": "{}", "sequence": 9}).json()["draft_sequence"] == 0
    assert [d["draft_key"] for d in a.get("/drafts.json").json()["drafts"]] == ["k", "topic_7"]
    assert a.post("/drafts.json", {"draft_key": "k2", "data": "{not json"}).status == 400
    assert a.post("/drafts.json", {"draft_key": "", "data": "{}"}).status == 404
    assert forum.drafts("alice")[0]["data"] == data
    assert a.delete("/drafts/topic_7.json?sequence=1").status == 200       # stale: ignored
    assert a.get("/drafts/topic_7.json").json()["draft"] == data
    assert a.delete("/drafts/topic_7.json?sequence=2").status == 200
    assert a.get("/drafts/topic_7.json").json() == {"draft": None, "draft_sequence": 2}
    # posting clears the PM draft and advances its sequence
    a.post("/drafts.json", {"draft_key": "new_private_message", "data": data, "sequence": 0})
    post = pm(a, draft_key="new_private_message").json()
    assert post["draft_sequence"] == 1 and [d["draft_key"] for d in forum.drafts("alice")] == ["k"]
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
    assert unknown["app_path"] == "/no/such/path"
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
    prof = tmp_path / "profile.json"
    prof.write_text(json.dumps({"base_path": "/forum", "pm_page_size": 5}))
    proc = subprocess.Popen([sys.executable, "-m", "tests.standin", "--port", "0", "--demo", "--inject", str(inj),
                             "--settings", str(prof)],
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
        assert url.endswith("/forum")
        assert c.get("/topics/private-messages/bob.json").json()["topic_list"]["per_page"] == 5
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


def test_subfolder_install(standin_factory):
    """base_path: everything lives below the subfolder, the base-uri meta is emitted only then,
    and more_topics_url carries the prefix like Rails' path helpers."""
    srv = standin_factory(settings={"base_path": "/forum", "pm_page_size": 1, **NO_RATE_LIMITS})
    assert srv.url.endswith("/forum") and srv.origin + "/forum" == srv.url
    srv.create_user("alice", PW, age_days=30)
    srv.create_user("bob", PW, age_days=30)
    a = srv.client("alice")
    tid = pm(a).json()["topic_id"]
    pm(a, raw="a second message body")
    assert a.get(f"/forum/t/{tid}.json").status == 200                   # already prefixed: left alone
    tl = a.get("/topics/private-messages/alice.json").json()["topic_list"]
    assert tl["more_topics_url"] == "/forum/topics/private-messages/alice?page=1"
    assert a.get(tl["more_topics_url"]).json()["topic_list"]["topics"][0]["id"] == tid
    assert srv.requests[-1]["path"].startswith("/forum/topics/") and srv.requests[-1]["app_path"].startswith("/topics/")
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("GET", f"/t/{tid}.json")
    assert conn.getresponse().status == 404
    conn.close()
    a.xhr = False
    page = a.get("/u/alice").text
    assert '<meta name="discourse-base-uri" content="/forum">' in page
    assert 'src="/forum/assets/app.js"' in page and a.get("/assets/app.js").status == 200
    root = standin_factory(settings=NO_RATE_LIMITS).client()
    root.xhr = False
    assert "discourse-base-uri" not in root.get("/").text


def test_settings_profile_env(standin_factory, tmp_path, monkeypatch):
    prof = tmp_path / "p.json"
    prof.write_text(json.dumps({"pm_page_size": 7, "watched_words_block": ["gloop"]}))
    monkeypatch.setenv("E2E_STANDIN_SETTINGS", str(prof))
    srv = standin_factory(settings={"watched_words_block": []})
    assert srv.settings["pm_page_size"] == 7 and srv.settings["watched_words_block"] == []
    prof.write_text(json.dumps({"no_such_setting": 1}))
    with pytest.raises(ValueError):
        standin_factory()


def test_real_forum_profile_is_valid():
    from tests.standin.profile import load_settings_file
    path = Path(__file__).resolve().parent / "e2e" / "profiles" / "real-forum.json"
    p = load_settings_file(path)
    assert p["base_path"] == "/forum" and p["cloaking"] and p["rich_editor"] and p["seed_pms_per_user"] == 35
    assert p["enable_discourse_connect"] and p["discourse_connect_overrides_bio"] and p["watched_words_block"]

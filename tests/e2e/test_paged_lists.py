"""An active account: Discourse pages its PM lists (30 per page, lib/topic_query.rb) and never
bumps the key backup, so the backup and older conversations are pages deep. alice (established,
with older plain PMs seeded before anything else) in Chromium, and her second device (hostile page
scripts + E2E_EXTRA_INJECT, leak oracle on).

Ordered story: alice writes two conversations to bob and backs up her key, bob answers in the
first → 40 newer PMs push all of it off the first page → a second device of alice's restores from
the backup and, without a click, lists both conversations (dates, newest activity first, bob's
answer marked unread) with the backup apart → alice reads bob's answer, and the list looked at
again (the button) marks nothing unread.
"""
from __future__ import annotations

from datetime import datetime

import pytest

from .browser import wait_until
from .conftest import PASSPHRASE
from .convo import browsers, enable_and_publish, import_vector, launch_chromium, send_new_message, story_fixtures

pytestmark = [pytest.mark.e2e, pytest.mark.real_forum_pass]

TITLE = "Paging test: hidden title"
BODY = "Written before 40 more PMs. Secret marker: umber-gecko."
TITLE2 = "Paging test: the second thread"
BODY2 = "A later thread that nobody answers. Secret marker: slate-heron."
REPLY = "Bob answers the first thread. Secret marker: russet-otter."
BACKUP = "alice's backup passphrase, long enough"
DEVICE2 = "alice's second device passphrase"
SECRETS = [PASSPHRASE, TITLE, BODY, TITLE2, BODY2, REPLY, BACKUP, DEVICE2, "umber-gecko", "slate-heron",
           "russet-otter"]

story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob"], settings={"seed_pms_per_user": 35},
                                              topic_id=None)


@pytest.fixture(scope="module")
def users(request, ext_dir, tmp_path_factory, srv):
    with browsers(request) as started:
        def launch(profile, name):
            return launch_chromium(started, ext_dir, tmp_path_factory, srv, profile, name)
        out = {"alice": launch("paged-alice", "alice"), "bob": launch("paged-bob", "bob"), "launch": launch}
        import_vector(out["alice"], 0, PASSPHRASE)
        import_vector(out["bob"], 1, PASSPHRASE)
        for n in ("alice", "bob"):
            enable_and_publish(out[n])
        yield out


def test_1_alice_writes_and_backs_up_bob_answers_then_40_newer_pms_arrive(users, srv, story):
    alice, bob = users["alice"], users["bob"]
    send_new_message(alice, ["bob"], TITLE, BODY)
    story.topic_id = alice.wait_topic_page()
    send_new_message(alice, ["bob"], TITLE2, BODY2)
    story.topic2 = alice.wait_topic_page()
    alice.to_forum("/")
    alice.inbox()
    alice.type("#backup-local", PASSPHRASE)
    alice.type("#backup-pass", BACKUP)
    alice.b.click("#backup-btn")
    wait_until(lambda: alice.d.find_element("css selector", "#backup-btn").get_attribute("data-state") == "done"
               or "error" in (alice.d.find_element("css selector", "#msg").get_attribute("class") or ""),
               timeout=120, what="alice: backup posted")
    assert alice.d.find_element("css selector", "#backup-btn").get_attribute("data-state") == "done", \
        alice.d.find_element("css selector", "#msg").text
    story.backup_topic = next(t["id"] for t in srv.topics() if t["title"] == "Encrypted key backup")
    # bob answers in the first thread: its last activity is now the newest of alice's three PMs
    bob.to_forum(f"/t/{story.topic_id}")
    assert bob.read_viewer(srv.posts(story.topic_id)[0]["id"])["title"] == TITLE
    bob.click_page(".efd-reply")
    bob.composer()
    bob.type("#body", REPLY)
    bob.send_composer()
    assert bob.wait_topic_page() == story.topic_id
    assert len(srv.posts(story.topic_id)) == 2
    for i in range(40):
        srv.create_pm("bob", ["alice"], f"Newer plain PM {i}", f"Plain message number {i} for alice.",
                      skip_validations=True)
    first_page = srv.client("alice").get("/topics/private-messages/alice.json").json()["topic_list"]
    titles = [t["title"] for t in first_page["topics"]]
    assert len(titles) == 30 and first_page.get("more_topics_url")
    assert "Encrypted key backup" not in titles and "Encrypted message" not in titles


def _rows(u):
    """The inbox's conversation rows: title, unread flag, and the started / last-activity times
    (ISO datetime and the text shown)."""
    return u.d.execute_script("""
        return [...document.querySelectorAll('#conversations tbody tr')].map((tr) => {
          const time = (css) => { const el = tr.querySelector(css); return [el.dateTime, el.textContent]; };
          const mark = tr.querySelector('.unread-mark');
          return {topic_id: Number(tr.dataset.topicId), title: tr.querySelector('.conv-title').textContent,
                  unread: tr.dataset.unread, mark: mark ? mark.textContent : null,
                  started: time('time.conv-started'), last: time('time.conv-last')};
        });""")


def _sync_state(u):
    el = u.d.find_element("css selector", "#sync-state")
    return el.get_attribute("data-state"), el.text


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_2_a_second_device_restores_and_lists_everything_without_a_click(users, srv, story):
    alice2 = users["launch"]("paged-alice-2", "alice")
    alice2.ext_page("ui/options.html")
    alice2.b.engine_ready()
    alice2.call("site.enable", {"origin": srv.origin})
    alice2.to_forum("/")
    assert alice2.inbox() == "no-identity"
    alice2.type("#restore-secret", BACKUP)
    alice2.type("#restore-new", DEVICE2)
    alice2.b.click("#restore-btn")
    wait_until(lambda: alice2.page_state() == "ready", timeout=180, what="alice-2: restored from the forum backup")
    story.alice2 = alice2
    # Nobody clicks "Look for new encrypted messages": the inbox looks by itself, and says so.
    wait_until(lambda: _sync_state(alice2)[0] == "done", timeout=240, what="alice-2: the inbox looked by itself")
    assert _sync_state(alice2)[1] == "Found 2 new encrypted conversations."
    rows = _rows(alice2)
    # newest activity first: bob's answer makes the older thread the newest
    assert [r["title"] for r in rows] == [TITLE, TITLE2], rows
    assert [r["topic_id"] for r in rows] == [story.topic_id, story.topic2]
    posts1, posts2 = srv.posts(story.topic_id), srv.posts(story.topic2)
    first, answered = rows
    assert abs(_seconds(first["started"][0]) - posts1[0]["created_at"]) < 120
    assert abs(_seconds(first["last"][0]) - posts1[1]["created_at"]) < 2
    assert abs(_seconds(answered["last"][0]) - posts2[0]["created_at"]) < 2
    assert _seconds(first["started"][0]) < _seconds(answered["started"][0])
    # the dates are written by the browser's Intl, in its language
    shown = alice2.d.execute_script("""
        const f = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'short'});
        return arguments[0].map((iso) => f.format(new Date(iso)));""",
                                    [first["started"][0], first["last"][0], answered["started"][0]])
    assert [first["started"][1], first["last"][1], answered["started"][1]] == shown
    # bob's answer is unread; alice wrote the second thread herself
    assert (first["unread"], first["mark"]) == ("1", "Unread")
    assert (answered["unread"], answered["mark"]) == ("0", None)
    # the key backup is listed apart, with its date, and is no conversation
    backups = alice2.d.find_elements("css selector", "#backups li")
    assert [b.get_attribute("data-topic-id") for b in backups] == [str(story.backup_topic)]
    assert alice2.d.find_element("css selector", "#backups").is_displayed()
    when = backups[0].find_element("css selector", "time.backup-date")
    assert abs(_seconds(when.get_attribute("datetime")) - srv.posts(story.backup_topic)[0]["created_at"]) < 2
    assert when.text and "key backup" in backups[0].text
    assert story.backup_topic not in [r["topic_id"] for r in rows]


def test_3_after_reading_bob_s_answer_nothing_is_unread(users, srv, story):
    alice2 = story.alice2
    alice2.to_forum(f"/t/{story.topic_id}")
    shown = alice2.read_viewer(srv.posts(story.topic_id)[0]["id"])
    assert shown["title"] == TITLE and "umber-gecko" in shown["body"]
    assert "russet-otter" in alice2.read_viewer(srv.posts(story.topic_id)[1]["id"])["body"]
    alice2.d.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    wait_until(lambda: srv.forum.last_read(story.topic_id, srv.user("alice")["id"]) == 2, timeout=30,
               what="alice-2: the forum page reported bob's answer as read")
    alice2.d.switch_to.window(alice2.ext_handle)
    alice2.b.click("#sync-btn")
    wait_until(lambda: _sync_state(alice2) == ("done", "No new encrypted conversations."), timeout=240,
               what="alice-2: looked again")
    rows = _rows(alice2)
    assert [r["title"] for r in rows] == [TITLE, TITLE2]
    assert [(r["unread"], r["mark"]) for r in rows] == [("0", None), ("0", None)]


def test_4_no_secret_reached_the_server(users, oracle):
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)

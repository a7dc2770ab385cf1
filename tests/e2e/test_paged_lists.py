"""An active account: Discourse pages its PM lists (30 per page, lib/topic_query.rb) and never
bumps the key backup, so the backup and older conversations are pages deep. alice (established,
with older plain PMs seeded before anything else) in Chromium, and her second device (hostile page
scripts + E2E_EXTRA_INJECT, leak oracle on).

Ordered story: alice writes to bob and backs up her key → 40 newer PMs push both off the first
page → a second device of alice's restores from the backup and finds the conversation, and reads it.
"""
from __future__ import annotations

import pytest

from .browser import wait_until
from .conftest import PASSPHRASE
from .convo import browsers, enable_and_publish, import_vector, launch_chromium, send_new_message, story_fixtures

pytestmark = pytest.mark.e2e

TITLE = "Paging test: hidden title"
BODY = "Written before 40 more PMs. Secret marker: umber-gecko."
BACKUP = "alice's backup passphrase, long enough"
DEVICE2 = "alice's second device passphrase"
SECRETS = [PASSPHRASE, TITLE, BODY, BACKUP, DEVICE2, "umber-gecko"]

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


def test_1_alice_writes_and_backs_up_then_40_newer_pms_arrive(users, srv, story):
    alice = users["alice"]
    send_new_message(alice, ["bob"], TITLE, BODY)
    story.topic_id = alice.wait_topic_page()
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
    for i in range(40):
        srv.create_pm("bob", ["alice"], f"Newer plain PM {i}", f"Plain message number {i} for alice.",
                      skip_validations=True)
    first_page = srv.client("alice").get("/topics/private-messages/alice.json").json()["topic_list"]
    titles = [t["title"] for t in first_page["topics"]]
    assert len(titles) == 30 and first_page.get("more_topics_url")
    assert "Encrypted key backup" not in titles and "Encrypted message" not in titles


def test_2_a_second_device_restores_and_finds_the_conversation(users, srv, story):
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
    alice2.b.click("#sync-btn")
    wait_until(lambda: "Found 1 new encrypted conversation" in alice2.d.find_element("css selector", "#msg").text,
               timeout=180, what="alice-2: the conversation found pages deep")
    alice2.to_forum(f"/t/{story.topic_id}")
    shown = alice2.read_viewer(srv.posts(story.topic_id)[0]["id"])
    assert shown["title"] == TITLE and "umber-gecko" in shown["body"]


def test_3_no_secret_reached_the_server(users, oracle):
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)

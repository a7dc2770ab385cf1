"""Encrypted PMs to a Discourse group: the composer reads the group's members and says which have
keys; the conversation is delivered to the group, and its viewer names the group and the members
who cannot read it. alice and bob in Chromium on the stand-in (hostile page scripts +
E2E_EXTRA_INJECT, leak oracle on); carol and dave have no extension and no key.

Ordered story: recipients are checked as they are added (a group, a user without a key, an
unknown name, a user with a key) → a group whose members have no key refuses the send and says why → alice sends to
the group "crew" (bob with a key, carol without) → the forum delivered it to the group (not to its
members one by one) → bob reads it; his viewer names the group and carol as a member without a
key → nothing reached the server or the page scripts.
"""
from __future__ import annotations

import pytest

from .browser import wait_until
from .conftest import PASSPHRASE
from .convo import published_users, send_new_message, story_fixtures

pytestmark = pytest.mark.e2e

TITLE = "Group test: hidden title"
BODY = "For the crew. Secret marker: vermilion-axolotl."
SECRETS = [PASSPHRASE, TITLE, BODY, "vermilion-axolotl", "hidden title"]

story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob", "carol", "dave"], topic_id=None)

# Group::ALIAS_LEVELS[:everyone]: anyone may send the group a PM.
EVERYONE = 99


@pytest.fixture(scope="module")
def users(request, ext_dir, tmp_path_factory, srv):
    srv.create_group("crew", ["bob", "carol"], messageable_level=EVERYONE)
    srv.create_group("keyless", ["carol", "dave"], messageable_level=EVERYONE)
    yield from published_users(request, ext_dir, tmp_path_factory, srv, ("alice", "bob"), "groups", PASSPHRASE)


def keywarn(u):
    return u.d.find_element("css selector", "#keywarn").text


def chip_state(u, name):
    return u.d.find_element("css selector", f"#chips .chip[data-user='{name}']").get_attribute("data-state")


def test_1_recipients_are_checked_as_they_are_added(users, srv, story):
    alice = users["alice"]
    send_new_message(alice, ["keyless", "dave", "nosuchperson", "bob"], TITLE, BODY, send=False)
    for name, state in (("keyless", "group"), ("dave", "no_key"), ("nosuchperson", "unknown"), ("bob", "ok")):
        wait_until(lambda: chip_state(alice, name) == state, timeout=30, what=f"the chip of {name}: {state}")
    assert "no key" in alice.d.find_element("css selector", "#chips .chip[data-user='dave']").text
    for name in ("dave", "nosuchperson", "bob"):
        alice.d.find_element("css selector", f"#chips .chip[data-user='{name}'] a").click()


def test_1b_a_group_without_any_key_is_refused_with_the_reason(users, srv, story):
    alice = users["alice"]
    before = len(srv.topics())
    alice.in_composer()
    assert alice.click_send() == "blocked"
    assert "Group keyless: no member has a published key" in keywarn(alice)
    assert len(srv.topics()) == before
    alice.d.find_element("css selector", "#chips .chip[data-user='keyless'] a").click()


def test_2_alice_sends_to_the_group_and_is_told_who_can_read(users, srv, story):
    alice = users["alice"]
    alice.d.find_element("css selector", "#to").send_keys("crew\n")
    alice.d.switch_to.default_content()
    alice.d.execute_script("window.__efdTestBeforeSend = true")   # what wait_topic_page looks for
    alice.in_composer()
    alice.click_decision("#send-btn")
    story.topic_id = alice.wait_topic_page()
    t = srv.topic(story.topic_id)
    assert t["allowed_groupnames"] == ["crew"]
    assert "bob" not in t["allowed_usernames"] and "carol" not in t["allowed_usernames"]


def test_3_bob_reads_it_and_sees_the_group_and_who_cannot_read(users, srv, story):
    bob = users["bob"]
    first = srv.posts(story.topic_id)[0]["id"]
    bob.to_forum(f"/t/{story.topic_id}")
    shown = bob.read_viewer(first)
    assert shown["title"] == TITLE and "vermilion-axolotl" in shown["body"]
    assert "through group crew" in shown["head"]
    assert "Group members without a key" in shown["warnings"] and "carol (crew)" in shown["warnings"]
    assert "Added by the server" not in shown["warnings"]


def test_4_no_secret_reached_the_server_or_the_page_scripts(users, oracle):
    leaks = oracle.leaks()
    assert not leaks, "\n".join(str(x) for x in leaks)
    for name in ("alice", "bob"):
        loot = users[name].hostile_loot()
        for s in ("vermilion", TITLE, PASSPHRASE):
            assert s not in loot, f"{name}'s page scripts saw {s!r}"

"""sync.export / sync.import: two devices of one identity share verification marks and drafts
through the state record; a record of another user is reported and ignored; a pin only gets stricter."""
import pytest

from pycore import inband
from pycore.inband import state as st
from tests.engine_support import run
from tests.test_engine_conversations import ORIGIN, User, base_users, check, texts  # noqa: F401


@pytest.fixture
def devices(prims, texts, base_users):  # noqa: F811
    one = base_users["alice"].clone()
    two = User(prims, "alice", texts[0])  # the same identity, restored on a second device
    return one, two, base_users["bob"].clone()


def test_a_second_device_gets_verification_and_drafts(devices, prims):
    one, two, bob = devices
    fp = check(one, bob)["fingerprint"]
    one.ok("keys.mark_verified", {"origin": ORIGIN, "username": "bob", "fingerprint": fp})
    one.ok("drafts.save", {"origin": ORIGIN, "draft_key": "new_bob", "text": "half-written secret", "title": "plans"},
           sender="frame:composer")
    exported = one.ok("sync.export", {"origin": ORIGIN})
    assert exported["title"] == inband.forum.STATE_TITLE != inband.BACKUP_TITLE
    assert exported["counts"] == {"pins": 1, "conversations": 0, "drafts": 1}
    assert "half-written secret" not in exported["raw"] and "plans" not in exported["raw"]

    assert check(two, bob)["status"] == "first_seen"
    got = two.ok("sync.import", {"origin": ORIGIN, "records": [exported["raw"]]})
    assert got["rejected"] == [] and got["applied"]["pins"] == 1 and got["applied"]["drafts"] == 1
    assert check(two, bob)["status"] == "verified"
    loaded = two.ok("drafts.load", {"origin": ORIGIN, "draft_key": "new_bob"}, sender="frame:composer")
    assert (loaded["text"], loaded["title"]) == ("half-written secret", "plans")
    # the second device now knows all the first one does: nothing new to post from there
    assert two.ok("sync.import", {"origin": ORIGIN, "records": [exported["raw"]]})["applied"]["drafts"] == 0


def test_records_of_another_user_are_rejected_and_the_content_script_cannot_sync(devices):
    one, two, bob = devices
    bobs = bob.ok("sync.export", {"origin": ORIGIN})["raw"]
    got = one.ok("sync.import", {"origin": ORIGIN, "records": [bobs, "not a record " * 5]})
    assert [r["code"] for r in got["rejected"]] == ["wrong_key", "malformed_input"]
    assert one.err("sync.export", {"origin": ORIGIN}, sender="content", router_rejects=True)["code"] == "rejected"


def test_a_sync_never_loosens_a_pin(devices, prims):
    one, two, bob = devices
    fp = check(one, bob)["fingerprint"]
    check(two, bob)
    two.ok("keys.mark_verified", {"origin": ORIGIN, "username": "bob", "fingerprint": fp})
    older = one.ok("sync.export", {"origin": ORIGIN})["raw"]   # bob is first_seen there
    got = two.ok("sync.import", {"origin": ORIGIN, "records": [older]})
    assert got["applied"]["pins"] == 0 and got["covered"] is False
    assert check(two, bob)["status"] == "verified"
    state = run(st.open_state(prims, run(two.engine.require_unlocked()), two.ok("sync.export", {"origin": ORIGIN})["raw"]))
    assert state["pins"][ORIGIN + "\nbob"]["state"] == "verified"

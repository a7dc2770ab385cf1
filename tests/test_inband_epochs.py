"""pycore.inband key epochs on CPython: a rekey removes a participant for real. The removed
participant can read the notice (and who removed them) but no later post; those who stay read
everything; an invite after a rekey gives the whole history; forged or mismatched rekeys and
epochs are statuses, never content; random and altered input raises only pycore errors."""
import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pycore import inband
from pycore.errors import MalformedInput, NotYourPost, OldConversationKey, PycoreError
from pycore.inband import armour, messages
from pycore.plugin import payload as _payload
from tests.test_inband import assert_never_valid, people, run  # noqa: F401 (people: alice, bob, carol, dave)

NOW = "2026-12-03T10:00:00.000Z"
LATER = "2026-12-03T11:00:00.000Z"


def _view(prims, people, raw, me):
    ident = people[me][0]
    return run(inband.open_conversation(prims, raw, me, ident, people["alice"][1], poster_username="alice"))


def _take_rekey(prims, people, conv, raw, me, poster="alice"):
    """Reads a rekey as `me` and, when it gives me the new key, adds it to my view."""
    r = run(inband.read_post(prims, conv, raw, [people[poster][1]], poster_username=poster,
                             my_identities=[people[me][0]], me_username=me))
    if r.status == "valid" and r.new_key is not None:
        conv.later_keys[r.epoch] = r.new_key
    return r


@pytest.fixture(scope="module")
def removal(prims, people):
    """alice starts a conversation with bob and carol, then removes carol (epoch 1)."""
    (a, pa), (_, pb), (_, pc) = people["alice"], people["bob"], people["carol"]
    new = run(inband.start_conversation(prims, a, "alice", [("bob", pb), ("carol", pc)], "Plans", "Hello all", NOW))
    alice = _view(prims, people, new.raw, "alice")
    raw, key, epoch = run(inband.make_rekey(prims, alice, a, "alice", [("bob", pb)], ["carol"], LATER))
    return new, raw, key, epoch


def test_the_removed_participant_reads_the_notice_but_no_later_post(prims, people, removal):
    new, rekey, key, epoch = removal
    a, b = people["alice"][0], people["bob"][0]
    assert epoch == 1 and inband.envelope_epoch(rekey) == 1
    views = {n: _view(prims, people, new.raw, n) for n in ("alice", "bob", "carol")}
    alice = dataclasses.replace(views["alice"], later_keys={1: key})
    for name in ("bob", "carol"):
        r = _take_rekey(prims, people, views[name], rekey, name)
        assert (r.kind, r.status, r.epoch, r.author_name, r.created_at) == ("rekey", "valid", 1, "alice", LATER)
        assert r.removed == ["carol"] and [p[0] for p in r.participants] == ["alice", "bob"]
        assert r.body is None
    assert views["bob"].newest_epoch == 1 and views["carol"].newest_epoch == 0
    assert views["carol"].later_keys == {}
    # alice and bob now write in epoch 1; carol is told the key was not given to her
    from_alice = run(inband.make_reply(prims, alice, a, "alice", "carol cannot read this", LATER))
    from_bob = run(inband.make_reply(prims, views["bob"], b, "bob", "nor this", LATER))
    for raw, author in ((from_alice, "alice"), (from_bob, "bob")):
        assert inband.envelope_epoch(raw) == 1
        for reader in ("alice", "bob"):
            view = alice if reader == "alice" else views["bob"]
            got = run(inband.read_post(prims, view, raw, [people[author][1]], poster_username=author))
            assert got.status == "valid" and got.epoch == 1
        got = run(inband.read_post(prims, views["carol"], raw, [people[author][1]], poster_username=author))
        assert got.status == inband.STATUS_KEY_NOT_GIVEN and got.body is None and got.epoch == 1
    # carol's old key still opens history (no forward secrecy for what she could read)
    old = run(inband.make_reply(prims, views["carol"], people["carol"][0], "carol", "still here?", LATER))
    got = run(inband.read_post(prims, alice, old, [people["carol"][1]], poster_username="carol"))
    assert got.status == "valid" and got.epoch == 0


def test_a_rekey_gives_the_key_only_to_the_entry_under_my_name_and_key(prims, people, removal):
    new, rekey, _, _ = removal
    bob = _view(prims, people, new.raw, "bob")
    r = run(inband.read_post(prims, bob, rekey, [people["alice"][1]], poster_username="alice",
                             my_identities=[people["bob"][0]], me_username="mallory"))
    assert r.status == "valid" and r.new_key is None
    r = run(inband.read_post(prims, bob, rekey, [people["alice"][1]], poster_username="alice",
                             my_identities=[people["dave"][0], people["bob"][0]], me_username="bob"))
    assert r.new_key is not None


def test_forged_rekeys_are_statuses(prims, people, removal):
    new, rekey, _, _ = removal
    (a, pa), (b, pb), (c, pc) = people["alice"], people["bob"], people["carol"]
    bob = _view(prims, people, new.raw, "bob")
    # shown under another author, or with an unaccepted key
    assert run(inband.read_post(prims, bob, rekey, [pa], poster_username="bob")).status == "wrong_author"
    assert run(inband.read_post(prims, bob, rekey, [pb], poster_username="alice")).status == "wrong_author"
    # the epoch in the envelope changed: the signed epoch no longer matches
    env = bytearray(messages.parse_envelope(rekey).header)
    data = bytearray(inband.a256_decode(armour.find_block(rekey, inband.MSG_BEGIN, inband.MSG_END, "t")[2]))
    assert data[:len(env)] == env
    data[3] = 2
    forged = messages._armour_message(bytes(data))
    got = run(inband.read_post(prims, dataclasses.replace(bob, later_keys={1: bob.key}), forged, [pa],
                               poster_username="alice", my_identities=[b], me_username="bob"))
    assert got.status != "valid" and got.new_key is None
    # a rekey whose signed participants do not match the wrapped keys
    base = {"type": "rekey", "v": 1, "conversation_id": bob.id, "message_id": "2" * 32, "created_at": LATER,
            "epoch": 1, "participants": [["alice", pa.fingerprint_hex], ["bob", pb.fingerprint_hex]],
            "removed": ["carol"], "signed_by_name": "alice", "signed_by_fingerprint": pa.fingerprint_hex}
    from pycore.plugin import topickey
    key = run(topickey.generate(prims, extractable=True))
    section, _ = run(messages._recipient_section(prims, key, [pa, pc]))
    obj = run(_payload.sign(prims, a, dict(base, keys_sha256=run(messages._sha256_hex(prims, section)))))
    raw = run(messages.seal_envelope(prims, bob.key, obj, bytes([1, 4, 0, 1]) + section, inband.MAX_POST_CHARS))
    got = run(inband.read_post(prims, bob, raw, [pa], poster_username="alice", my_identities=[b], me_username="bob"))
    assert got.status == "invalid_signature" and got.new_key is None
    # the wrapped keys not the signed ones
    obj = run(_payload.sign(prims, a, dict(base, keys_sha256="0" * 64)))
    section2, _ = run(messages._recipient_section(prims, key, [pa, pb]))
    raw = run(messages.seal_envelope(prims, bob.key, obj, bytes([1, 4, 0, 1]) + section2, inband.MAX_POST_CHARS))
    got = run(inband.read_post(prims, bob, raw, [pa], poster_username="alice", my_identities=[b], me_username="bob"))
    assert got.status == "invalid_signature" and got.new_key is None
    # a reply signed for epoch 0 put in an epoch-1 envelope (the key of epoch 1 given as the old one)
    reply = {"type": "reply", "v": 1, "conversation_id": bob.id, "message_id": "3" * 32, "created_at": LATER,
             "raw": "x", "signed_by_name": "alice", "signed_by_fingerprint": pa.fingerprint_hex}
    raw = run(messages.seal_envelope(prims, bob.key, run(_payload.sign(prims, a, reply)), bytes([1, 5, 0, 1]),
                                     inband.MAX_POST_CHARS))
    got = run(inband.read_post(prims, dataclasses.replace(bob, later_keys={1: bob.key}), raw, [pa],
                               poster_username="alice"))
    assert got.status == "invalid_signature" and got.body is None


def test_rekey_arguments(prims, people, removal):
    new, _, _, _ = removal
    (a, _), (_, pb) = people["alice"], people["bob"]
    alice = _view(prims, people, new.raw, "alice")
    with pytest.raises(MalformedInput):
        run(inband.make_rekey(prims, alice, a, "alice", [("bob", pb)], [], LATER))
    with pytest.raises(MalformedInput):
        run(inband.make_rekey(prims, alice, a, "alice", [("bob", pb)], ["alice"], LATER))
    with pytest.raises(MalformedInput):
        run(inband.make_rekey(prims, alice, a, "alice", [("bob", "not a key")], ["carol"], LATER))
    # a participant named both as staying and removed is left out of those who stay
    raw, _, _ = run(inband.make_rekey(prims, alice, a, "alice", [("bob", pb), ("carol", people["carol"][1])],
                                      ["carol"], LATER))
    bob = _view(prims, people, new.raw, "bob")
    r = _take_rekey(prims, people, bob, raw, "bob")
    assert [p[0] for p in r.participants] == ["alice", "bob"]


def test_an_invite_after_a_rekey_gives_the_whole_history_and_nothing_to_the_removed(prims, people, removal):
    new, rekey, key, _ = removal
    (a, pa), (d, pd) = people["alice"], people["dave"]
    alice = dataclasses.replace(_view(prims, people, new.raw, "alice"), later_keys={1: key})
    share = run(inband.make_key_share(prims, alice, a, "alice", "dave", pd, LATER))
    assert inband.envelope_epoch(share) == 1
    got = run(inband.read_key_share(prims, share, d, [pa], poster_username="alice", me_username="dave"))
    assert got.status == "valid" and set(got.later_keys) == {1}
    dave = run(inband.open_conversation(prims, new.raw, "dave", d, pa, key=got.key, poster_username="alice"))
    assert dave.status == "valid" and dave.title == "Plans"
    dave.later_keys.update(got.later_keys)
    later = run(inband.make_reply(prims, alice, a, "alice", "welcome dave", LATER))
    assert run(inband.read_post(prims, dave, later, [pa], poster_username="alice")).body == "welcome dave"
    # bob reads the share (an invite notice); carol, removed, cannot
    bob = _view(prims, people, new.raw, "bob")
    _take_rekey(prims, people, bob, rekey, "bob")
    seen = run(inband.read_post(prims, bob, share, [pa], poster_username="alice"))
    assert (seen.kind, seen.status, seen.invitee_name) == ("key_share", "valid", "dave")
    carol = _view(prims, people, new.raw, "carol")
    assert run(inband.read_post(prims, carol, share, [pa], poster_username="alice")).status == "key_not_given"


def test_edits_stay_in_their_epoch_and_old_posts_cannot_be_edited_after_a_rekey(prims, people, removal):
    new, rekey, key, _ = removal
    a, pa = people["alice"]
    alice = _view(prims, people, new.raw, "alice")
    old_reply = run(inband.make_reply(prims, alice, a, "alice", "before", NOW))
    alice.later_keys[1] = key
    with pytest.raises(OldConversationKey):
        run(inband.make_revision(prims, alice, a, "alice", old_reply, "after", LATER))
    with pytest.raises(OldConversationKey):
        run(inband.make_revision(prims, alice, a, "alice", new.raw, "after", LATER))
    with pytest.raises(NotYourPost):
        run(inband.make_revision(prims, alice, a, "alice", rekey, "after", LATER))
    reply = run(inband.make_reply(prims, alice, a, "alice", "in epoch one", LATER))
    edited = run(inband.make_revision(prims, alice, a, "alice", reply, "edited in epoch one", LATER))
    assert inband.envelope_epoch(edited) == 1
    got = run(inband.read_post(prims, alice, edited, [pa], poster_username="alice"))
    assert got.status == "valid" and got.body == "edited in epoch one" and got.history[0]["raw"] == "in epoch one"


def test_a_second_rekey_needs_the_first_key(prims, people, removal):
    new, rekey, key, _ = removal
    (a, pa), (b, pb) = people["alice"], people["bob"]
    alice = dataclasses.replace(_view(prims, people, new.raw, "alice"), later_keys={1: key})
    raw2, _, epoch2 = run(inband.make_rekey(prims, alice, a, "alice", [], ["bob"], LATER))
    assert epoch2 == 2
    bob = _view(prims, people, new.raw, "bob")
    # bob has not read the first rekey: the second one names a key he lacks
    assert run(inband.read_post(prims, bob, raw2, [pa], poster_username="alice", my_identities=[b],
                                me_username="bob")).status == "key_not_given"
    _take_rekey(prims, people, bob, rekey, "bob")
    r = _take_rekey(prims, people, bob, raw2, "bob")
    assert r.status == "valid" and r.removed == ["bob"] and r.new_key is None and bob.newest_epoch == 1


HEAVY = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@HEAVY
@given(data=st.data())
def test_rekey_reader_on_altered_input(prims, people, removal, data):
    new, rekey, _, _ = removal
    from tests.test_inband import mutate
    bob = _view(prims, people, new.raw, "bob")
    text = mutate(rekey, data)
    try:
        got = run(inband.read_post(prims, bob, text, [people["alice"][1]], poster_username="alice",
                                   my_identities=[people["bob"][0]], me_username="bob"))
    except PycoreError:
        return
    if got.status != "valid":
        assert got.new_key is None and got.participants == []


@settings(max_examples=200, deadline=None)
@given(blob=st.binary(max_size=1200))
def test_epoch_envelopes_on_random_bytes(prims, people, removal, blob):
    new, _, key, _ = removal
    b, pb = people["bob"]
    bob = dataclasses.replace(_view(prims, people, new.raw, "bob"), later_keys={1: key})
    for head in (bytes([1, 4]), bytes([1, 5]), bytes([1, 6]), bytes([1, 4, 0, 1, 1]), bytes([1, 5, 0, 1])):
        raw = messages._armour_message(head + blob)
        assert_never_valid((lambda: inband.read_post(prims, bob, raw, [pb], my_identities=[b], me_username="bob"),
                            lambda: inband.read_key_share(prims, raw, b, [pb])))

"""The device state record (pycore/inband/state.py): the join's laws, and that only my own
identity can read a record and only my current signing key can make one."""

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as S

from pycore.errors import AuthenticationFailed, MalformedInput, WrongKey
from pycore.inband import armour
from pycore.inband import state as st


def run(coro):
    return asyncio.run(coro)


FPS = S.sampled_from(["a" * 64, "b" * 64, "c" * 64])
TIMES = S.integers(min_value=0, max_value=5)
KEYS = S.sampled_from(["https://f.example\nbob", "https://f.example\ncarol", "https://g.example\nbob"])


@S.composite
def pins(draw):
    state = draw(S.sampled_from(sorted(st.PIN_RANKS)))
    pending = draw(FPS) if state == "key_changed" else None
    return st.pin_entry(draw(FPS), state, pending=pending, at=draw(TIMES))


@S.composite
def conversations(draw):
    return st.conversation_entry(draw(S.sampled_from(["c1", "c2"])), title=draw(S.sampled_from([None, "Hi", "Plans"])),
                                 participants=draw(S.lists(S.sampled_from(["alice", "bob", "carol"]), max_size=3)),
                                 updated_at=draw(TIMES))


@S.composite
def drafts(draw):
    if draw(S.booleans()):
        return st.draft_entry(updated_at=draw(TIMES), deleted=True)
    return st.draft_entry(draw(S.sampled_from(["", "x", "hello"])), title=draw(S.sampled_from([None, "t"])),
                          updated_at=draw(TIMES))


STATES = S.fixed_dictionaries({"pins": S.dictionaries(KEYS, pins(), max_size=3),
                               "conversations": S.dictionaries(KEYS, conversations(), max_size=3),
                               "drafts": S.dictionaries(KEYS, drafts(), max_size=3)})


@settings(max_examples=300, deadline=None)
@given(STATES, STATES)
def test_merge_is_commutative(a, b):
    assert st.merge(a, b) == st.merge(b, a)


@settings(max_examples=300, deadline=None)
@given(STATES, STATES, STATES)
def test_merge_is_associative(a, b, c):
    assert st.merge(st.merge(a, b), c) == st.merge(a, st.merge(b, c))


@settings(max_examples=200, deadline=None)
@given(STATES)
def test_merge_is_idempotent(a):
    assert st.merge(a, a) == st.normalise(a)


@settings(max_examples=200, deadline=None)
@given(STATES, STATES)
def test_merge_loses_nothing(a, b):
    m = st.merge(a, b)
    for part in ("pins", "conversations", "drafts"):
        assert set(m[part]) == set(a[part]) | set(b[part])
    assert st.covers(m, a) and st.covers(m, b)
    for k, e in m["pins"].items():   # pins only get stricter
        for side in (a, b):
            if k in side["pins"]:
                assert st.PIN_RANKS[e["state"]] >= st.PIN_RANKS[side["pins"][k]["state"]]
    for k, e in m["conversations"].items():
        for side in (a, b):
            if k in side["conversations"]:
                assert set(side["conversations"][k]["participants"]) <= set(e["participants"])


def test_stricter_pin_wins_even_when_older():
    verified = st.pin_entry("a" * 64, "verified", at=10)
    changed = st.pin_entry("a" * 64, "key_changed", pending="b" * 64, at=1)
    assert st.merge({"pins": {"o\nbob": verified}}, {"pins": {"o\nbob": changed}})["pins"]["o\nbob"] == changed
    first = st.pin_entry("a" * 64, "first_seen", at=99)
    assert st.merge({"pins": {"o\nbob": verified}}, {"pins": {"o\nbob": first}})["pins"]["o\nbob"] == verified


def test_newer_draft_wins_and_a_deletion_is_a_tombstone():
    old = st.draft_entry("hello", updated_at=1)
    gone = st.draft_entry(updated_at=2, deleted=True)
    assert st.merge({"drafts": {"o\nk": old}}, {"drafts": {"o\nk": gone}})["drafts"]["o\nk"]["deleted"] is True
    newer = st.draft_entry("again", updated_at=3)
    assert st.merge({"drafts": {"o\nk": gone}}, {"drafts": {"o\nk": newer}})["drafts"]["o\nk"]["text"] == "again"


def test_malformed_entries_are_named():
    with pytest.raises(MalformedInput, match="pin state"):
        st.normalise({"pins": {"o\nbob": {"fingerprint": "a" * 64, "state": "trusted", "at": 1}}})
    with pytest.raises(MalformedInput, match="fingerprint"):
        st.pin_entry("ABC", "verified")
    with pytest.raises(MalformedInput, match="pending"):
        st.pin_entry("a" * 64, "key_changed")


def _sample():
    s = st.empty()
    st.put_pin(s, "https://f.example", "Bob", st.pin_entry("a" * 64, "verified", at=5))
    st.put_conversation(s, "https://f.example", 42, st.conversation_entry("conv-1", title="Plans",
                                                                          participants=["alice", "bob"], updated_at=7))
    st.put_draft(s, "https://f.example", "reply:42", st.draft_entry("secret words", updated_at=8))
    return s


def test_seal_open_round_trip_and_no_plaintext(prims, fresh_identity):
    raw = run(st.seal_state(prims, fresh_identity, _sample()))
    assert st.is_state_raw(raw)
    assert "secret words" not in raw and "Plans" not in raw and "bob" not in raw.lower().split("efd")[0]
    assert run(st.open_state(prims, fresh_identity, raw)) == st.normalise(_sample())


def test_altered_record_is_rejected(prims, fresh_identity):
    raw = run(st.seal_state(prims, fresh_identity, _sample()))
    _, _, enc = armour.find_block(raw, armour.STATE_BEGIN, armour.STATE_END, "x")
    rec = bytearray(armour.a256_decode(enc))
    rec[-1] ^= 1
    bad = armour.armour(armour.STATE_BEGIN, armour.STATE_END, bytes(rec))
    with pytest.raises(AuthenticationFailed, match="altered"):
        run(st.open_state(prims, fresh_identity, bad))


def test_another_users_record_is_rejected(prims, fresh_identity, vector_identities):
    other = next(i for i in vector_identities.values() if i.can_sign and i.version == 1)
    raw = run(st.seal_state(prims, other, _sample()))
    with pytest.raises(WrongKey):
        run(st.open_state(prims, fresh_identity, raw))
    merged, rejected = run(st.open_all(prims, fresh_identity, [raw, run(st.seal_state(prims, fresh_identity, _sample()))]))
    assert [r["index"] for r in rejected] == [0] and rejected[0]["code"] == "wrong_key"
    assert merged == st.normalise(_sample())


def test_a_record_wrapped_to_me_but_signed_by_someone_else_is_rejected(prims, fresh_identity, vector_identities):
    """The forum knows my public key: it can wrap a state to me, but cannot sign as me."""
    from pycore.plugin.identity import Identity
    other = next(i for i in vector_identities.values() if i.can_sign and i.version == 1)
    forger = Identity(1, fresh_identity.encrypt_public, None, other.sign_public, other.sign_private)
    raw = run(st.seal_state(prims, forger, _sample()))
    with pytest.raises(AuthenticationFailed, match="not signed by my current key"):
        run(st.open_state(prims, fresh_identity, raw))

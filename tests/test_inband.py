"""pycore.inband on CPython: A256 armour, bio key blocks and key changes, safety codes, backups,
conversations, replies, key shares. Property tests (hypothesis) for every parser: round trips,
and random / truncated / altered input yields only pycore errors or a failure status."""
import asyncio
import dataclasses
import string
import unicodedata

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pycore import inband
from pycore.inband import armour, messages
from pycore.plugin import b64, identity, paperkey
from pycore.plugin import payload as _payload
from pycore.errors import (NotAParticipant, AuthenticationFailed, KeyUnusable, MalformedInput, PycoreError, UnsupportedVersion,
                           WrongPassphrase)

FAST = 1000  # PBKDF2 iterations for unit tests; the default is checked once in test_backup_default_cost
NOW = "2026-11-27T20:40:00.000Z"
HEAVY = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def people(prims, vector_identities, fresh_identity):
    """alice, bob, carol (v1, 4096-bit) and dave (generated here): identity + PublishedKey."""
    idents = {"alice": vector_identities[0], "bob": vector_identities[1], "carol": fresh_identity,
              "dave": run(identity.generate(prims))}

    async def keys():
        return {n: await inband.key_of(prims, i) for n, i in idents.items()}

    pub = run(keys())
    return {n: (idents[n], pub[n]) for n in idents}


@pytest.fixture(scope="module")
def convo(prims, people):
    """A conversation alice started with bob; bob's view of it; one reply by bob."""
    (a, pa), (b, pb) = people["alice"], people["bob"]
    new = run(inband.start_conversation(prims, a, "alice", [("bob", pb)], "Secret title ☃", "Hello bob 😀", NOW))
    conv = run(inband.open_conversation(prims, new.raw, "bob", b, pa, poster_username="alice"))
    reply = run(inband.make_reply(prims, conv, b, "bob", "Hi alice", NOW))
    return new, conv, reply


def mutate(text: str, data) -> str:
    """One of: replace a character, delete a character, truncate, insert a character."""
    how = data.draw(st.sampled_from(["replace", "delete", "truncate", "insert"]))
    i = data.draw(st.integers(0, max(0, len(text) - 1)))
    ch = data.draw(st.sampled_from(inband.A256_ALPHABET + "x-\n =`é€"))
    if how == "replace":
        return text[:i] + ch + text[i + 1:]
    if how == "delete":
        return text[:i] + text[i + 1:]
    if how == "truncate":
        return text[:i]
    return text[:i] + ch + text[i:]


def record_of(raw: str, begin: str, end: str) -> bytes:
    _, _, inner = armour.find_block(raw, begin, end, "test")
    lines = [ln for ln in inner.split("\n") if ln.strip() and not ln.startswith("Fingerprint:")]
    return inband.a256_decode("".join(lines))


# ------------------------------------------------------------------------------ A256
def test_alphabet_follows_the_documented_rule():
    expected = string.digits + string.ascii_uppercase + string.ascii_lowercase
    cp = 0xC0
    while len(expected) < 256:
        ch = chr(cp)
        if (unicodedata.category(ch) in ("Lu", "Ll") and unicodedata.normalize("NFC", ch) == ch
                and unicodedata.normalize("NFKC", ch) == ch and cp not in (0x130, 0x131)):
            expected += ch
        cp += 1
    assert inband.A256_ALPHABET == expected
    assert ord(inband.A256_ALPHABET[-1]) == 0x18B
    assert all(c.isalnum() for c in inband.A256_ALPHABET)


@given(st.binary(max_size=3000))
def test_a256_round_trip(data):
    text = inband.a256_encode(data)
    assert inband.a256_decode(text) == data
    assert all(len(line) <= inband.LINE for line in text.split("\n"))
    assert armour.a256_length(len(data)) == len(text)
    # line breaks, CRLF, indentation and NFD decomposition do not matter
    mangled = unicodedata.normalize("NFD", "  " + text.replace("\n", "\r\n   ") + "\n")
    assert inband.a256_decode(mangled) == data


@given(st.text(max_size=300))
def test_a256_decode_random_text(text):
    try:
        out = inband.a256_decode(text)
    except MalformedInput:
        return
    assert inband.a256_decode(inband.a256_encode(out)) == out


def test_a256_rejects_base64_punctuation():
    for bad in ("abc+def", "abc/def", "ab=", "a_b", "a-b", "a.b"):
        with pytest.raises(MalformedInput):
            inband.a256_decode(bad)


# ------------------------------------------------------------------------------ bio
def test_bio_block_size_and_fingerprint(prims, people):
    (a, pa), (b, _) = people["alice"], people["bob"]
    block = run(inband.make_bio_block(prims, a))
    assert len(block) == 1157
    assert inband.BIO_LIMIT - len(block) >= 1000
    assert block.startswith("```text\n" + inband.KEY_BEGIN + "\nFingerprint: ")
    assert block.endswith(inband.KEY_END + "\n```")
    found = run(inband.find_bio_block(prims, block))
    assert found.fingerprint == run(identity.fingerprint(prims, a)) == pa.fingerprint
    assert found.key_change is None
    assert "Fingerprint: " + inband.fingerprint_digits(pa.fingerprint) in block
    # the published key really is alice's: a topic key wrapped to it opens with her private key
    from pycore.plugin import topickey
    k = run(topickey.generate(prims))
    wrapped = run(topickey.wrap(prims, k, found.identity.encrypt_public))
    assert run(topickey.to_raw(prims, run(topickey.unwrap(prims, wrapped, a.encrypt_private)))) == run(topickey.to_raw(prims, k))
    assert found.public.startswith("1$")
    assert run(identity.fingerprint(prims, run(identity.import_identity(prims, found.public)))) == pa.fingerprint
    assert run(inband.find_bio_block(prims, run(inband.make_bio_block(prims, b)))).fingerprint != pa.fingerprint


def test_bio_block_found_anywhere_and_rest_ignored(prims, people):
    a, pa = people["alice"]
    block = run(inband.make_bio_block(prims, a))
    bio = "I like *cats* and `code`.\n\n" + block + "\n\nMore text ```not a fence``` -----BEGIN nothing"
    assert run(inband.find_bio_block(prims, bio)).fingerprint == pa.fingerprint
    crlf = bio.replace("\n", "\r\n")
    assert run(inband.find_bio_block(prims, crlf)).fingerprint == pa.fingerprint
    # without the fence (someone pasted only the marker lines) it is still found
    bare = block.replace("```text\n", "").replace("\n```", "")
    assert run(inband.find_bio_block(prims, "hello " + bare)).fingerprint == pa.fingerprint


def test_bio_errors(prims, people):
    a, _ = people["alice"]
    block = run(inband.make_bio_block(prims, a))
    with pytest.raises(inband.NoPublishedKey):
        run(inband.find_bio_block(prims, "just a bio"))
    with pytest.raises(inband.NoPublishedKey):
        run(inband.find_bio_block(prims, None))
    with pytest.raises(MalformedInput):
        run(inband.find_bio_block(prims, block + "\n" + block))
    with pytest.raises(MalformedInput):
        run(inband.find_bio_block(prims, block.replace(inband.KEY_END, "")))
    lines = block.split("\n")
    lines[2] = "Fingerprint: 00000 00000 00000 00000 00000 00000"
    with pytest.raises(MalformedInput, match="Fingerprint"):
        run(inband.find_bio_block(prims, "\n".join(lines)))
    # version byte 2 is refused as unsupported
    rec = bytearray(record_of(block, inband.KEY_BEGIN, inband.KEY_END))
    rec[0] = 2
    with pytest.raises(UnsupportedVersion):
        run(inband.find_bio_block(prims, armour.armour(inband.KEY_BEGIN, inband.KEY_END, bytes(rec), lines[2])))


def test_v0_identity_cannot_publish(prims, vector_identities):
    with pytest.raises(MalformedInput):
        run(inband.make_bio_block(prims, vector_identities[2]))


def test_put_bio_block_replace_append_and_budget(prims, people):
    (a, _), (b, pb) = people["alice"], people["bob"]
    block_a = run(inband.make_bio_block(prims, a))
    block_b = run(inband.make_bio_block(prims, b))
    assert inband.put_bio_block("", block_a) == block_a
    assert inband.put_bio_block(None, block_a) == block_a
    bio = inband.put_bio_block("About me.\n", block_a)
    assert bio == "About me.\n\n" + block_a
    bio2 = inband.put_bio_block(bio + "\n\nFooter", block_b)
    assert bio2 == "About me.\n\n" + block_b + "\n\nFooter"
    assert run(inband.find_bio_block(prims, bio2)).fingerprint == pb.fingerprint
    assert inband.remove_bio_block(bio2) == "About me.\n\n\n\nFooter"
    room = inband.BIO_LIMIT - len(block_a) - 2
    assert len(inband.put_bio_block("x" * room, block_a)) == inband.BIO_LIMIT
    with pytest.raises(inband.BioTooLong) as e:
        inband.put_bio_block("x" * (room + 5), block_a)
    assert e.value.excess == 5 and "5" in str(e.value)
    with pytest.raises(MalformedInput):
        inband.put_bio_block(block_a + "\n" + block_a, block_b)


def test_key_change_signed_by_old_key(prims, people):
    (a, pa), (b, pb), (c, pc) = people["alice"], people["bob"], people["carol"]
    block = run(inband.make_bio_block(prims, c, previous=a))
    assert len(block) == 1707
    assert inband.BIO_LIMIT - len(block) >= 1000
    unchecked = run(inband.find_bio_block(prims, block))
    assert unchecked.fingerprint == pc.fingerprint
    assert unchecked.key_change.previous_fingerprint == pa.fingerprint
    assert unchecked.key_change.verified is None
    assert run(inband.find_bio_block(prims, block, pinned=pa)).key_change.verified is True
    assert run(inband.find_bio_block(prims, block, pinned=pb)).key_change.verified is False
    assert run(inband.verify_key_change(prims, unchecked, pa)) is True
    # a key change "signed" by someone else's key (bob claims to be alice's old key) fails
    forged = run(inband.make_bio_block(prims, c, previous=b))
    rec = bytearray(record_of(forged, inband.KEY_BEGIN, inband.KEY_END))
    rec[1026:1058] = pa.fingerprint
    header = "Fingerprint: " + pc.digits
    forged = armour.armour(inband.KEY_BEGIN, inband.KEY_END, bytes(rec), header)
    assert run(inband.find_bio_block(prims, forged, pinned=pa)).key_change.verified is False
    with pytest.raises(MalformedInput):
        run(inband.make_bio_block(prims, a, previous=a))
    with pytest.raises(MalformedInput):
        run(inband.make_bio_block(prims, c, previous=a.public_only()))


@pytest.fixture(scope="module")
def change_block(prims, people):
    return run(inband.make_bio_block(prims, people["carol"][0], previous=people["alice"][0]))


@HEAVY
@given(data=st.data())
def test_bio_parser_on_altered_blocks(prims, people, change_block, data):
    pa, pc = people["alice"][1], people["carol"][1]
    original = record_of(change_block, inband.KEY_BEGIN, inband.KEY_END)
    text = mutate(change_block, data)
    try:
        found = run(inband.find_bio_block(prims, text, pinned=pa))
    except PycoreError:
        return
    assert found.fingerprint == pc.fingerprint
    same = record_of(text, inband.KEY_BEGIN, inband.KEY_END) == original
    assert found.key_change.verified is same


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400), st.binary(max_size=1600))
def test_bio_parser_on_random_input(prims, text, blob):
    for bio in (text, text + inband.KEY_BEGIN + "\nFingerprint: 1\n" + inband.a256_encode(blob) + "\n" + inband.KEY_END):
        try:
            run(inband.find_bio_block(prims, bio))
        except PycoreError:
            pass
        else:  # pragma: no cover - would mean random bytes formed a valid key with matching digits
            pytest.fail("random input parsed as a key")


# ------------------------------------------------------------------------------ safety codes
def test_safety_code_symmetric(prims, people):
    pa, pb, pc = people["alice"][1], people["bob"][1], people["carol"][1]
    ab = run(inband.safety_code(prims, pa.fingerprint, pb.fingerprint))
    assert ab == run(inband.safety_code(prims, pb.fingerprint_hex, pa.fingerprint_hex))
    groups = ab.split(" ")
    assert len(groups) == 12 and all(len(g) == 5 and g.isdigit() for g in groups)
    assert pa.digits in ab and pb.digits in ab
    assert ab != run(inband.safety_code(prims, pa.fingerprint, pc.fingerprint))
    qr = inband.safety_qr(pa.fingerprint, pb.fingerprint)
    assert qr == inband.safety_qr(pb.fingerprint, pa.fingerprint)
    assert set(qr) <= set(string.digits + string.ascii_uppercase + ":")
    assert inband.check_safety_qr(qr, pb.fingerprint, pa.fingerprint)
    assert not inband.check_safety_qr(qr, pa.fingerprint, pc.fingerprint)
    with pytest.raises(MalformedInput):
        inband.fingerprint_digits("not hex")


def test_fingerprint_digits_known_answer():
    fp = bytes(range(32))
    # bytes 00..04 = 0x0001020304 = 16909060 -> 09060; 05..09 = 0x0506070809 = 21575960585 -> 60585
    assert inband.fingerprint_digits(fp).split(" ")[:2] == ["09060", "60585"]


# ------------------------------------------------------------------------------ backup
def test_backup_round_trip_with_passphrase_and_paper_key(prims, people):
    a, pa = people["alice"]
    pk = paperkey.generate(prims)
    raw = run(inband.seal_backup(prims, a, "correct horse battery staple", FAST, paper_key=pk))
    assert inband.is_backup_raw(raw) and not inband.is_encrypted_raw(raw)
    assert len(raw) < inband.MAX_POST_CHARS
    assert inband.backup_info(raw) == {"slots": ["passphrase", "paper_key"], "iterations": [FAST, FAST]}
    for secret in ("correct horse battery staple", pk, "  " + pk.lower().replace(" ", "   ") + "\n"):
        ident = run(inband.open_backup(prims, raw, secret))
        assert ident.version == 1 and ident.has_private and ident.can_sign
        assert run(identity.fingerprint(prims, ident)) == pa.fingerprint
    with pytest.raises(WrongPassphrase):
        run(inband.open_backup(prims, raw, "wrong"))
    with pytest.raises(WrongPassphrase):
        run(inband.open_backup(prims, raw, paperkey.generate(prims)))
    # from the unprotected private identity string, passphrase only
    text = run(identity.export_private(prims, a))
    raw2 = run(inband.seal_backup(prims, text, "pw", FAST))
    assert inband.backup_info(raw2)["slots"] == ["passphrase"]
    assert run(identity.fingerprint(prims, run(inband.open_backup(prims, raw2, "pw")))) == pa.fingerprint


def test_backup_refusals(prims, people):
    a, _ = people["alice"]
    with pytest.raises(MalformedInput):
        run(inband.seal_backup(prims, a, None, FAST))
    with pytest.raises(MalformedInput):
        run(inband.seal_backup(prims, a, "pw", FAST, paper_key="ABANDON ABANDON"))
    with pytest.raises(inband.BackupCostOutOfRange):
        run(inband.seal_backup(prims, a, "pw", inband.MAX_ITERATIONS + 1))
    with pytest.raises(KeyUnusable):
        run(inband.seal_backup(prims, a.public_only(), "pw", FAST))


def test_backup_absurd_cost_refused_on_read(prims, people):
    a, _ = people["alice"]
    raw = run(inband.seal_backup(prims, a, "pw", FAST))
    rec = bytearray(record_of(raw, inband.BACKUP_BEGIN, inband.BACKUP_END))
    for cost in (0, inband.MAX_ITERATIONS + 1, 2**32 - 1):
        rec[4:8] = cost.to_bytes(4, "big")
        forged = armour.armour(inband.BACKUP_BEGIN, inband.BACKUP_END, bytes(rec))
        with pytest.raises(inband.BackupCostOutOfRange, match="outside"):
            run(inband.open_backup(prims, forged, "pw"))
    # a lowered (but allowed) cost does not open: the derived key differs
    rec[4:8] = (FAST - 1).to_bytes(4, "big")
    with pytest.raises(WrongPassphrase):
        run(inband.open_backup(prims, armour.armour(inband.BACKUP_BEGIN, inband.BACKUP_END, bytes(rec)), "pw"))


@pytest.mark.slow
def test_backup_default_cost(prims, people):
    a, pa = people["alice"]
    assert inband.DEFAULT_ITERATIONS >= 1_000_000
    raw = run(inband.seal_backup(prims, a, "pw"))
    assert inband.backup_info(raw)["iterations"] == [inband.DEFAULT_ITERATIONS]
    assert run(identity.fingerprint(prims, run(inband.open_backup(prims, raw, "pw")))) == pa.fingerprint


@pytest.fixture(scope="module")
def small_backup(prims, people):
    return run(inband.seal_backup(prims, people["alice"][0], "pw", 2))


@settings(HEAVY, max_examples=30)
@given(data=st.data())
def test_backup_parser_on_altered_input(prims, people, small_backup, data):
    text = mutate(small_backup, data)
    try:
        ident = run(inband.open_backup(prims, text, "pw"))
    except PycoreError:
        return
    assert run(identity.fingerprint(prims, ident)) == people["alice"][1].fingerprint
    assert record_of(text, inband.BACKUP_BEGIN, inband.BACKUP_END) == \
        record_of(small_backup, inband.BACKUP_BEGIN, inband.BACKUP_END)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_backup_parser_on_random_records(prims, blob):
    raw = armour.armour(inband.BACKUP_BEGIN, inband.BACKUP_END, blob)
    with pytest.raises(PycoreError):
        run(inband.open_backup(prims, raw, "pw"))


# ------------------------------------------------------------------------------ conversations
def test_start_and_open_for_every_participant(prims, people):
    (a, pa), (b, pb), (c, pc) = people["alice"], people["bob"], people["carol"]
    new = run(inband.start_conversation(prims, a, "alice", [("bob", pb), ("carol", pc), ("Bob", pb), ("alice", pa)],
                                        "Plans", "Body **md**", NOW))
    assert new.placeholder_title == inband.PLACEHOLDER_TITLE
    assert 2 <= len(new.placeholder_title) <= 255
    assert new.target_recipients == "bob,carol"
    assert "Plans" not in new.raw and "Body" not in new.raw
    assert inband.is_encrypted_raw(new.raw) and not inband.is_backup_raw(new.raw)
    assert new.raw.startswith(inband.MSG_HINT + "\n\n```text\n" + inband.MSG_BEGIN + "\n")
    assert set(new.raw.split("```text\n", 1)[1]) <= set(inband.A256_ALPHABET + "\n`-" + string.ascii_uppercase + " ")
    for name, ident in (("alice", a), ("bob", b), ("carol", c)):
        conv = run(inband.open_conversation(prims, new.raw, name, ident, pa, poster_username="alice"))
        assert conv.status == inband.STATUS_VALID, conv.detail
        assert (conv.title, conv.body, conv.author) == ("Plans", "Body **md**", "alice")
        assert conv.id == new.conversation_id
        assert conv.participants == [["alice", pa.fingerprint_hex], ["bob", pb.fingerprint_hex],
                                     ["carol", pc.fingerprint_hex]]
        assert conv.created_at == NOW
    with pytest.raises(inband.NotAParticipant):
        run(inband.open_conversation(prims, new.raw, "dave", people["dave"][0], pa))


def test_note_to_self(prims, people):
    a, pa = people["alice"]
    new = run(inband.start_conversation(prims, a, "alice", [], "Note", "to self", NOW))
    assert new.target_recipients == "alice"
    assert run(inband.open_conversation(prims, new.raw, "alice", a, pa)).body == "to self"


def test_first_post_author_checks(prims, people, convo):
    new, _, _ = convo
    (b, pb), (c, pc) = people["bob"], people["carol"]
    pa = people["alice"][1]
    # the post's Discourse author is not the signer
    r = run(inband.open_conversation(prims, new.raw, "bob", b, pa, poster_username="carol"))
    assert r.status == inband.STATUS_WRONG_AUTHOR and r.title is None and r.body is None
    # the poster's published key is not the signing key
    r = run(inband.open_conversation(prims, new.raw, "bob", b, pc, poster_username="alice"))
    assert r.status == inband.STATUS_WRONG_AUTHOR and r.title is None
    r = run(inband.open_conversation(prims, new.raw, "bob", b, None))
    assert r.status == inband.STATUS_UNVERIFIED and r.body is None
    # the key is still usable for following the conversation
    assert r.id == new.conversation_id
    # the author's old key in the list: the matching one is used
    assert run(inband.open_conversation(prims, new.raw, "bob", b, [pc, pa])).status == inband.STATUS_VALID
    # my wrapped key listed under another name
    assert run(inband.open_conversation(prims, new.raw, "mallory", b, pa)).status == inband.STATUS_INVALID_SIGNATURE


def _envelope(raw):
    return inband.a256_decode(armour.find_block(raw, inband.MSG_BEGIN, inband.MSG_END, "t")[2])


def test_wrapped_keys_bound_to_the_signature(prims, people):
    """The server swaps bob's wrapped key for one made for dave (it cannot, without the key,
    but a participant can): the signed hash of the recipient section no longer matches."""
    (a, pa), (b, pb), (d, pd) = people["alice"], people["bob"], people["dave"]
    new = run(inband.start_conversation(prims, a, "alice", [("bob", pb)], "T", "B", NOW))
    from pycore.plugin import topickey
    wrapped_for_dave = b64.decode(run(topickey.wrap(prims, new.key, pd.identity.encrypt_public)))
    env = bytearray(_envelope(new.raw))
    env[3 + 516:3 + 1032] = pd.fingerprint[:4] + wrapped_for_dave
    forged = messages._armour_message(bytes(env))
    r = run(inband.open_conversation(prims, forged, "dave", d, pa))
    assert r.status == inband.STATUS_INVALID_SIGNATURE and r.body is None
    assert run(inband.open_conversation(prims, forged, "alice", a, pa)).status == inband.STATUS_INVALID_SIGNATURE


def test_reply_statuses(prims, people, convo):
    new, conv, reply = convo
    (a, pa), (b, pb), (c, pc) = people["alice"], people["bob"], people["carol"]
    ok = run(inband.read_post(prims, conv, reply, [pb], poster_username="bob"))
    assert (ok.status, ok.body, ok.author_name, ok.kind, ok.created_at) == ("valid", "Hi alice", "bob", "reply", NOW)
    # shown under another Discourse author
    assert run(inband.read_post(prims, conv, reply, [pa], poster_username="alice")).status == "wrong_author"
    assert run(inband.read_post(prims, conv, reply, [pb], poster_username="alice")).status == "wrong_author"
    assert run(inband.read_post(prims, conv, reply, None, poster_username="bob")).status == "unverified"
    # moved into another conversation (other key)
    other = run(inband.start_conversation(prims, a, "alice", [("bob", pb)], "Other", "x", NOW))
    conv2 = run(inband.open_conversation(prims, other.raw, "bob", b, pa))
    r = run(inband.read_post(prims, conv2, reply, [pb], poster_username="bob"))
    assert r.status == "cannot_decrypt" and r.body is None
    # same key, other conversation id
    r = run(inband.read_post(prims, dataclasses.replace(conv, id="0" * 32), reply, [pb], poster_username="bob"))
    assert r.status == "wrong_conversation" and r.body is None
    # the first post replayed as a reply
    assert run(inband.read_post(prims, conv, new.raw, [pa], poster_username="alice")).status == "wrong_conversation"


def _sealed(prims, conv, obj, kind=inband.KIND_REPLY):
    return run(messages.seal_envelope(prims, conv.key, obj, bytes([1, kind]), inband.MAX_POST_CHARS))


def test_forged_replies(prims, people, convo):
    _, conv, _ = convo
    (a, pa), (b, pb) = people["alice"], people["bob"]
    base = {"type": "reply", "v": 1, "conversation_id": conv.id, "message_id": "1" * 32, "created_at": NOW,
            "raw": "pay mallory", "signed_by_name": "alice", "signed_by_fingerprint": pa.fingerprint_hex}
    # unsigned (downgrade by a participant)
    r = run(inband.read_post(prims, conv, _sealed(prims, conv, base), [pa], poster_username="alice"))
    assert r.status == "unsigned" and r.body is None
    # bob signs a message claiming alice's name and fingerprint
    signed_by_bob = run(_payload.sign(prims, b, base))
    r = run(inband.read_post(prims, conv, _sealed(prims, conv, signed_by_bob), [pa], poster_username="alice"))
    assert r.status == "invalid_signature" and r.body is None
    # alice's valid signature, content altered afterwards
    signed = run(_payload.sign(prims, a, base))
    altered = dict(signed, raw="pay bob")
    r = run(inband.read_post(prims, conv, _sealed(prims, conv, altered), [pa], poster_username="alice"))
    assert r.status == "invalid_signature"
    assert run(inband.read_post(prims, conv, _sealed(prims, conv, signed), [pa], poster_username="alice")).status == "valid"
    # a reply object inside a key-share envelope kind
    env = _envelope(_sealed(prims, conv, signed))
    r = run(inband.read_post(prims, conv, messages._armour_message(bytes([1, 3, 1]) + bytes(516) + env[2:]), [pa],
                             poster_username="alice"))
    assert r.status == "wrong_conversation"


def test_a_first_post_with_many_entries_for_me_costs_at_most_two_rsa_decryptions(prims, people, convo):
    """A forged first post lists 255 entries that all carry my 4-byte hint: the reader tries only
    MAX_UNWRAP_ATTEMPTS RSA decryptions, then gives up (not a participant)."""
    new, _, _ = convo
    b, pb = people["bob"]
    env = _envelope(new.raw)
    rest = env[3 + env[2] * 516:]
    junk = bytes(range(256)) * 2
    forged = bytes([1, 1, 255]) + (pb.fingerprint[:4] + junk) * 255 + rest

    class Counting:
        def __init__(self, inner):
            self.inner, self.rsa = inner, 0

        def __getattr__(self, name):
            return getattr(self.inner, name)

        async def rsa_oaep_decrypt(self, *a, **kw):
            self.rsa += 1
            return await self.inner.rsa_oaep_decrypt(*a, **kw)

    counting = Counting(prims)
    with pytest.raises(NotAParticipant):
        run(inband.open_conversation(counting, messages._armour_message(forged), "bob", b, [pb]))
    assert counting.rsa == messages.MAX_UNWRAP_ATTEMPTS == 2


def test_only_accepted_keys_verify(prims, people, convo):
    """A key the reader saw but did not accept verifies nothing, even when it made the signature."""
    new, conv, reply = convo
    (a, pa), (b, pb) = people["alice"], people["bob"]
    # bob's reply verifies with bob's accepted key ...
    assert run(inband.read_post(prims, conv, reply, [pb], poster_username="bob")).status == "valid"
    # ... but not when bob's key is only a pending, unaccepted change (the reader accepted another key)
    r = run(inband.read_post(prims, conv, reply, [pa], poster_username="bob", unaccepted=[pb.fingerprint_hex]))
    assert (r.status, r.body) == ("key_not_accepted", None)
    # the same for a first post: content withheld
    opened = run(inband.open_conversation(prims, new.raw, "bob", b, [pb], unaccepted=[pa.fingerprint_hex],
                                          poster_username="alice"))
    assert (opened.status, opened.title, opened.body) == ("key_not_accepted", None, None)
    # a key that is accepted verifies, whatever else is pending
    assert run(inband.read_post(prims, conv, reply, [pb], poster_username="bob",
                                unaccepted=[pb.fingerprint_hex])).status == "valid"


def test_key_share_flow(prims, people, convo):
    new, conv, _ = convo
    (a, pa), (b, pb), (c, pc), (d, pd) = people["alice"], people["bob"], people["carol"], people["dave"]
    share = run(inband.make_key_share(prims, conv, b, "bob", "carol", pc, NOW))
    assert inband.is_encrypted_raw(share)
    got = run(inband.read_key_share(prims, share, c, [pb], poster_username="bob", me_username="carol"))
    assert got.status == "valid" and got.conversation_id == conv.id and got.inviter_name == "bob"
    view = run(inband.open_conversation(prims, new.raw, "carol", c, pa, key=got.key, poster_username="alice"))
    assert view.status == "valid" and view.title == "Secret title ☃" and view.id == conv.id
    # other participants see who was added
    seen = run(inband.read_post(prims, conv, share, [pb], poster_username="bob"))
    assert (seen.kind, seen.status, seen.invitee_name, seen.invitee_fingerprint) == ("key_share", "valid", "carol",
                                                                                     pc.fingerprint_hex)
    assert seen.body is None
    # not for dave
    with pytest.raises(inband.NotAParticipant):
        run(inband.read_key_share(prims, share, d, [pb]))
    # posted by someone else than the signer
    bad = run(inband.read_key_share(prims, share, c, [pa], poster_username="alice"))
    assert bad.status == "wrong_author" and bad.key is None
    # named for another user
    assert run(inband.read_key_share(prims, share, c, [pb], me_username="dave")).key is None
    # a key share does not open another conversation's first post
    other = run(inband.start_conversation(prims, a, "alice", [("bob", pb)], "Other", "x", NOW))
    with pytest.raises(AuthenticationFailed):
        run(inband.open_conversation(prims, other.raw, "carol", c, pa, key=got.key))


def test_padding_hides_exact_length(prims, people, convo):
    _, conv, _ = convo
    b = people["bob"][0]
    sizes = {n: len(run(inband.make_reply(prims, conv, b, "bob", "x" * n, NOW))) for n in (0, 1, 50, 1000, 1200, 3500)}
    assert sizes[0] == sizes[1] == sizes[50] == sizes[1000]
    assert sizes[1000] < sizes[1200] < sizes[3500]
    assert messages._bucket(1) == 2048 and messages._bucket(2049) == 4096 and messages._bucket(16385) == 24576


def test_size_limits(prims, people, convo):
    _, conv, _ = convo
    (a, _), (b, pb) = people["alice"], people["bob"]
    with pytest.raises(inband.MessageTooLarge) as e:
        run(inband.make_reply(prims, conv, b, "bob", "x" * 40000, NOW))
    assert e.value.excess > 9000
    # the largest reply that fits, fits exactly under the limit
    biggest = run(inband.make_reply(prims, conv, b, "bob", "x" * 30510, NOW))
    assert len(biggest) <= inband.MAX_POST_CHARS
    with pytest.raises(inband.MessageTooLarge):
        run(inband.make_reply(prims, conv, b, "bob", "x" * 30511, NOW))
    # a smaller site limit
    raw = run(inband.make_reply(prims, conv, b, "bob", "y" * 2000, NOW, max_chars=5000))
    assert len(raw) <= 5000
    with pytest.raises(inband.MessageTooLarge):
        run(inband.make_reply(prims, conv, b, "bob", "y" * 5000, NOW, max_chars=5000))
    # 30 recipients still leave room for text; far more do not fit at all
    many = [(f"user{i:02d}", pb) for i in range(30)]
    new = run(inband.start_conversation(prims, a, "alice", many, "t", "z" * 11000, NOW))
    assert len(new.raw) <= inband.MAX_POST_CHARS
    with pytest.raises(inband.MessageTooLarge):
        run(inband.start_conversation(prims, a, "alice", [(f"user{i:02d}", pb) for i in range(60)], "t", "", NOW))


def test_bad_arguments(prims, people, convo):
    (a, pa), (b, pb) = people["alice"], people["bob"]
    with pytest.raises(MalformedInput):
        run(inband.start_conversation(prims, a, "alice", [("bob,carol", pb)], "t", "b", NOW))
    with pytest.raises(MalformedInput):
        run(inband.start_conversation(prims, a, "alice", [("bob", None)], "t", "b", NOW))
    with pytest.raises(MalformedInput):
        run(inband.start_conversation(prims, a, "alice", [("bob", pb)], "  ", "b", NOW))
    with pytest.raises(MalformedInput):
        run(inband.start_conversation(prims, a.public_only(), "alice", [("bob", pb)], "t", "b", NOW))
    with pytest.raises(MalformedInput):
        run(inband.open_conversation(prims, convo[2], "bob", b, pa))  # a reply is not a first post


@settings(max_examples=100, deadline=None)
@given(title=st.text(min_size=1, max_size=80).filter(str.strip), body=st.text(max_size=400))
def test_message_round_trip_any_text(prims, people, convo, title, body):
    _, conv, _ = convo
    b, pb = people["bob"]
    raw = run(inband.make_reply(prims, conv, b, "bob", title + body, NOW))
    got = run(inband.read_post(prims, conv, raw, [pb], poster_username="bob"))
    assert got.status == "valid" and got.body == title + body


@HEAVY
@given(data=st.data())
def test_read_post_on_altered_input(prims, people, convo, data):
    _, conv, reply = convo
    pb = people["bob"][1]
    text = mutate(reply, data)
    try:
        got = run(inband.read_post(prims, conv, text, [pb], poster_username="bob"))
    except PycoreError:
        return
    if got.status == "valid":
        assert _envelope(text) == _envelope(reply) and got.body == "Hi alice"
    else:
        assert got.body is None


@HEAVY
@given(data=st.data())
def test_open_conversation_on_altered_input(prims, people, convo, data):
    new, _, _ = convo
    b, pa = people["bob"][0], people["alice"][1]
    text = mutate(new.raw, data)
    try:
        got = run(inband.open_conversation(prims, text, "bob", b, pa, poster_username="alice"))
    except PycoreError:
        return
    if got.status == "valid":
        assert _envelope(text) == _envelope(new.raw) and got.title == "Secret title ☃"
    else:
        assert got.title is None and got.body is None


@settings(max_examples=300, deadline=None)
@given(blob=st.binary(max_size=1200), text=st.text(max_size=200))
def test_message_parsers_on_random_input(prims, people, convo, blob, text):
    _, conv, _ = convo
    b, pb = people["bob"]
    for raw in (text, messages._armour_message(blob), messages._armour_message(bytes([1, 2]) + blob),
                messages._armour_message(bytes([1, 1, 1]) + blob)):
        assert_never_valid((lambda: inband.read_post(prims, conv, raw, [pb]),
                            lambda: inband.open_conversation(prims, raw, "bob", b, pb),
                            lambda: inband.read_key_share(prims, raw, b, [pb])))


def assert_never_valid(calls):
    """Each reader (a coroutine factory) raises a pycore error or reports a status other than valid."""
    for call in calls:
        try:
            got = run(call())
        except PycoreError:
            continue
        assert got.status != "valid"


def test_iso_time():
    assert inband.iso_time(0) == "1970-01-01T00:00:00.000Z"
    assert inband.iso_time(1_700_000_000.1234) == "2023-11-14T22:13:20.123Z"


class CountingPrims:
    """The CPython backend, counting the calls read_posts makes into it."""

    def __init__(self, prims):
        self.prims, self.calls = prims, []

    def __getattr__(self, name):
        real = getattr(self.prims, name)
        if not name.startswith(("aes_", "rsa_")):
            return real

        async def counted(*args, **kw):
            self.calls.append((name, len(args[0]) if name.endswith("_many") else 1))
            return await real(*args, **kw)
        return counted


def test_read_posts_answers_as_read_post_does_with_two_backend_calls_for_all(prims, people, convo):
    new, conv, reply = convo
    (a, pa), (b, pb) = people["alice"], people["bob"]
    base = {"type": "reply", "v": 1, "conversation_id": conv.id, "message_id": "2" * 32, "created_at": NOW,
            "raw": "pay mallory", "signed_by_name": "alice", "signed_by_fingerprint": pa.fingerprint_hex}
    signed = run(_payload.sign(prims, a, base))
    other = run(inband.start_conversation(prims, a, "alice", [("bob", pb)], "Other", "x", NOW))
    conv2 = run(inband.open_conversation(prims, other.raw, "bob", b, pa))
    posts = [inband.PostToRead(reply, [pb], "bob"),                                   # valid
             inband.PostToRead(reply, [pa], "alice"),                                 # wrong_author
             inband.PostToRead(reply, [], "bob", [pb.fingerprint_hex]),               # key_not_accepted
             inband.PostToRead(run(inband.make_reply(prims, conv2, b, "bob", "y", NOW)), [pb], "bob"),  # cannot_decrypt
             inband.PostToRead("plain text", [pb], "bob"),                            # malformed: an error
             inband.PostToRead(new.raw, [pa], "alice"),                               # first post again
             inband.PostToRead(_sealed(prims, conv, base), [pa], "alice"),            # unsigned
             inband.PostToRead(_sealed(prims, conv, dict(signed, raw="pay bob")), [pa], "alice"),  # altered
             inband.PostToRead(_sealed(prims, conv, signed), [pa], "alice"),          # valid
             inband.PostToRead(reply.replace(inband.MSG_END, "x" + inband.MSG_END), [pb], "bob")]
    counting = CountingPrims(prims)
    batch = run(inband.read_posts(counting, conv, posts))
    assert counting.calls == [("aes_gcm_decrypt_many", 9), ("rsa_pss_verify_many", 3)]

    def one(p):
        try:
            return run(inband.read_post(prims, conv, p.raw, p.author_keys, poster_username=p.poster_username,
                                        unaccepted=p.unaccepted))
        except PycoreError as e:
            return e
    for got, want in zip(batch, [one(p) for p in posts]):
        if isinstance(want, PycoreError):
            assert type(got) is type(want) and str(got) == str(want)
        else:
            assert got == want
    assert [getattr(r, "status", type(r).__name__) for r in batch] == [
        "valid", "wrong_author", "key_not_accepted", "cannot_decrypt", "MalformedInput", "wrong_conversation",
        "unsigned", "invalid_signature", "valid", "cannot_decrypt"]
    assert (batch[0].body, batch[8].body) == ("Hi alice", "pay mallory")

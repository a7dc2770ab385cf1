"""Unit tests of pycore's formats on CPython (the vectors run separately on both engines)."""

import asyncio
import json

import pytest

from pycore.plugin import b64, identity, jsjson, pack, paperkey, payload, topickey, versioned
from pycore.errors import (AuthenticationFailed, KeyUnusable, MalformedInput, PycoreError, SignatureMissing,
                           UnsupportedVersion, WrongKey, WrongPassphrase)

run = asyncio.run


# ------------------------------------------------------------------ base64
@pytest.mark.parametrize("data,text", [(b"", ""), (b"A", "QQ=="), (b"AB", "QUI="), (b"ABC", "QUJD"), (b"ABCD", "QUJDRA==")])
def test_base64_plugin_unit_vectors(data, text):
    assert b64.encode(data) == text
    assert b64.decode(text) == data


def test_base64_accepts_missing_padding_like_the_plugin():
    assert b64.decode("QQ") == b"A"
    assert b64.decode("QUI") == b"AB"


@pytest.mark.parametrize("garbage", ["Q!I=", "Q Q=", "-_8=", "QQ==QUI=", "Q===", "Q", "QQ\n==", "é"])
def test_base64_rejects_what_the_plugin_turns_into_garbage(garbage):
    with pytest.raises(MalformedInput):
        b64.decode(garbage)


def test_base64_rejects_non_text():
    with pytest.raises(MalformedInput):
        b64.decode(b"QQ==")  # bytes, not text


# ------------------------------------------------------------------ JavaScript JSON
def test_replacer_quirk_filters_nested_objects():
    obj = {"raw": "x", "b": {"raw": "keep", "zzz": "dropped", "b": 1}, "a": [{"raw": 1, "q": 2}, 3]}
    assert jsjson.stringify_sorted(obj) == '{"a":[{"raw":1},3],"b":{"b":1,"raw":"keep"},"raw":"x"}'


def test_string_escaping_matches_json_stringify():
    text = 'q"b\\\b\f\n\r\t\x00\x1f\x7f\u2028\u2029é😀\ud83d-\udc4d'
    expected = '"q\\"b\\\\\\b\\f\\n\\r\\t\\u0000\\u001f\x7f\u2028\u2029é😀\\ud83d-\\udc4d"'
    assert jsjson.quote(text) == expected


def test_surrogate_pair_held_as_two_code_points_is_one_character():
    assert jsjson.quote("\ud83d\ude00") == '"😀"'


def test_keys_sort_by_utf16_code_units():
    # U+FF61 sorts after the astral U+1F600 by code point but before it by UTF-16 code unit.
    obj = {"\U0001F600": 1, "\uff61": 2, "a": 3}
    assert jsjson.stringify_sorted(obj) == '{"a":3,"\U0001F600":1,"\uff61":2}'


@pytest.mark.parametrize("text,expected", [
    ("1", "1"), ("1.0", "1"), ("-0", "0"), ("1e21", "1e+21"), ("1e20", "100000000000000000000"),
    ("0.000001", "0.000001"), ("1e-7", "1e-7"), ("12345678901234567890", "12345678901234567000"),
    ("0.1", "0.1"), ("-1.5e-9", "-1.5e-9"), ("1e400", "null"),
])
def test_numbers_print_as_javascript_after_json_parse(text, expected):
    assert jsjson.stringify(jsjson.parse(text)) == expected


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "{", "[1,]", "{'a':1}", ""])
def test_json_parse_is_strict(bad):
    with pytest.raises(MalformedInput):
        jsjson.parse(bad)


def test_whatwg_utf16_decoding():
    assert jsjson.decode_utf16le_whatwg("\ufeffab".encode("utf-16-le")) == "ab"
    assert jsjson.decode_utf16le_whatwg(b"a\x00=\xd8b\x00") == "a\ufffdb"  # lone high surrogate
    assert jsjson.decode_utf16le_whatwg(b"a\x00b") == "a\ufffd"  # odd trailing byte


# ------------------------------------------------------------------ version prefix
@pytest.mark.parametrize("text,version", [("1$x", 1), (" 1$x", 1), ("01$x", 1), ("1x$x", 1), ("+1$x", 1), ("0$x", 0)])
def test_version_prefix_reads_like_parseint(text, version):
    assert versioned.split(text, what="t") == (version, "x")


@pytest.mark.parametrize("text", ["2$x", "$x", "v1$x", "-1$x", "x"])
def test_unknown_or_missing_version_is_refused(text):
    with pytest.raises(MalformedInput):
        versioned.split(text, what="t")


def test_unknown_version_has_its_own_error():
    with pytest.raises(UnsupportedVersion, match="version 2"):
        versioned.split("2$abc", what="ciphertext")


# ------------------------------------------------------------------ identities
def test_generated_identity_round_trips_through_every_export(prims, fresh_identity):
    async def go():
        public = await identity.export_public(prims, fresh_identity)
        assert public.startswith("1$") and len(public) > 2000
        pub = await identity.import_identity(prims, public)
        assert not pub.has_private and pub.sign_public is not None
        clear = await identity.export_private(prims, fresh_identity)
        again = await identity.import_identity(prims, clear)
        assert again.has_private and again.can_sign
        assert await identity.export_private(prims, again) == clear
        protected = await identity.export_private(prims, fresh_identity, "a long passphrase", iterations=1000)
        opened = await identity.import_identity(prims, protected, "a long passphrase", iterations=1000)
        assert opened.jwks == again.jwks
        with pytest.raises(WrongPassphrase):
            await identity.import_identity(prims, protected, "a long passphrasE", iterations=1000)
        assert await identity.fingerprint(prims, pub) == await identity.fingerprint(prims, opened)

    run(go())


def test_generated_jwks_look_like_chrome_exports(prims, fresh_identity):
    jwk = run(identity._jwk(prims, fresh_identity, "encryptPrivate"))
    assert list(jwk) == sorted(jwk)
    assert jwk["alg"] == "RSA-OAEP-256" and jwk["key_ops"] == ["decrypt", "unwrapKey"] and jwk["ext"] is True
    assert len(b64.decode_url(jwk["n"])) == 512


def test_non_extractable_identity_cannot_be_exported(prims):
    async def go():
        ident = await identity.generate(prims, extractable=False)
        assert (await identity.export_public(prims, ident)).startswith("1$")
        with pytest.raises(KeyUnusable):
            await identity.export_private(prims, ident)

    run(go())


def test_empty_passphrase_means_none_on_import_but_is_refused_on_export(prims, vector_identities):
    async def go():
        clear = await identity.export_private(prims, vector_identities[0])
        assert (await identity.import_identity(prims, clear, "")).has_private
        with pytest.raises(MalformedInput, match="empty passphrase"):
            await identity.export_private(prims, vector_identities[0], "")

    run(go())


def test_fingerprint_ignores_jwk_member_order(prims, vector_identities):
    async def go():
        ident = vector_identities[0]
        reordered = {name: dict(reversed(list(jwk.items()))) for name, jwk in ident.jwks.items()}
        text = "1$" + b64.encode(json.dumps(reordered).encode())
        other = await identity.import_identity(prims, text)
        assert await identity.fingerprint(prims, other) == await identity.fingerprint(prims, ident)

    run(go())


def test_mismatched_key_pair_is_refused(prims, vector_identities):
    a, b = vector_identities[0].jwks, vector_identities[1].jwks
    mixed = {"encryptPublic": a["encryptPublic"], "encryptPrivate": b["encryptPrivate"],
             "signPublic": a["signPublic"], "signPrivate": a["signPrivate"]}
    with pytest.raises(MalformedInput, match="does not belong"):
        run(identity.import_identity(prims, "1$" + b64.encode(json.dumps(mixed).encode())))


def test_small_rsa_keys_are_refused(prims):
    jwk = {"kty": "RSA", "n": b64.encode_url((2**1023 + 1).to_bytes(128, "big")), "e": "AQAB"}
    text = "1$" + b64.encode(json.dumps({"encryptPublic": jwk}).encode())
    with pytest.raises(MalformedInput, match="1024-bit"):
        run(identity.import_identity(prims, text))


# ------------------------------------------------------------------ paper keys and packing
def test_paper_key_known_answers():
    assert paperkey.encode(bytes(16)) == " ".join(["ABANDON"] * 12)
    assert paperkey.encode(b"\xff" * 16) == " ".join(["ZOO"] * 11 + ["WRAP"])
    assert paperkey.encode(bytes(range(16))) == "ABANDON AMOUNT LIAR AMOUNT EXPIRE ADJUST CAGE CANDY ARCH GATHER DRUM BUSINESS"
    assert paperkey.decode("WRESTLE SQUARE REGRET INHERIT ANIMAL GIFT CHEESE EXCLUDE WAIT BLIND BLOOD LAWN").hex() == \
        "fe5a6ed2b9e090c389ca77f662f85fbf"


def test_paper_key_generation_and_labels(prims):
    words = paperkey.generate(prims)
    assert len(words.split()) == 12 and len(paperkey.decode(words)) == 16
    assert paperkey.label(" wrestle  square ") == "paper_wrestle"
    assert paperkey.label(words, device=True) == "device"


def test_paper_key_checksum_catches_a_wrong_word():
    words = paperkey.encode(bytes(range(16))).split()
    words[3] = "ZOO"
    with pytest.raises(MalformedInput, match="checksum"):
        paperkey.decode(" ".join(words))


def test_lengths_without_room_for_a_checksum_are_refused_instead_of_looping():
    with pytest.raises(MalformedInput):
        paperkey.encode(bytes(11))
    with pytest.raises(MalformedInput):
        paperkey.decode(" ".join(["ABANDON"] * 24))


def test_pack_round_trip_and_legacy_separator():
    block = pack.pack_identity("1$" + "A" * 200)
    assert block.splitlines()[0] == pack.HEADER and all(len(line) <= 71 for line in block.splitlines())
    assert pack.unpack_identity(block.replace("\n", "\r\n")) == "1$" + "A" * 200
    legacy = "\n".join([pack.HEADER, "AAAA", "BBBB", "-" * 71, "CCCC", pack.FOOTER])
    assert pack.unpack_identity(legacy) == "0$AAAABBBB$CCCC"
    with pytest.raises(MalformedInput):
        pack.unpack_identity(pack.PLACEHOLDER)


# ------------------------------------------------------------------ topic keys and payloads
def test_topic_key_wraps_for_its_owner_only(prims, vector_identities):
    async def go():
        key = await topickey.generate(prims)
        wrapped = await topickey.wrap(prims, key, vector_identities[0].encrypt_public)
        assert len(wrapped) == 684
        assert await topickey.to_raw(prims, await topickey.unwrap(prims, wrapped, vector_identities[0].encrypt_private)) \
            == await topickey.to_raw(prims, key)
        with pytest.raises(WrongKey):
            await topickey.unwrap(prims, wrapped, vector_identities[1].encrypt_private)

    run(go())


def test_signed_post_round_trip_and_tamper_detection(prims, vector_identities):
    alice = vector_identities[0]

    async def go():
        key = await topickey.generate(prims)
        post = {"raw": "hello ![x](upload://abc123.png)", "signed_by_name": "alice", "post_id": 5}
        ct = await payload.encrypt(prims, key, post, sign_with=alice, include_uploads=True)
        assert ct.endswith("\n[](upload://abc123.png)")
        assert "signature" not in post  # the caller's object is not mutated
        obj = await payload.decrypt(prims, key, ct)
        assert obj["raw"] == post["raw"] and await payload.verify(prims, alice.sign_public, obj)
        assert not await payload.verify(prims, vector_identities[1].sign_public, obj)
        assert not await payload.verify(prims, alice.sign_public, {**obj, "post_id": 6})
        flipped = ct[:30] + ("A" if ct[30] != "A" else "B") + ct[31:]
        with pytest.raises(AuthenticationFailed):
            await payload.decrypt(prims, key, flipped)
        with pytest.raises(SignatureMissing):
            await payload.verify(prims, alice.sign_public, {"raw": "unsigned"})

    run(go())


def test_legacy_salt_128_signatures_still_verify(prims, vector_identities):
    alice = vector_identities[0]

    async def go():
        obj = {"raw": "signed in 2019"}
        sig = await prims.rsa_pss_sign(alice.sign_private, payload.serialize_v1(obj), 128)
        assert await payload.verify(prims, alice.sign_public, {**obj, "signature": b64.encode(sig)})

    run(go())


def test_titles_and_draft_replies(prims, vector_identities):
    me = vector_identities[1]

    async def go():
        key = await topickey.generate(prims)
        assert await payload.decrypt_title(prims, key, await payload.encrypt_title(prims, key, "Plans ☃")) == "Plans ☃"
        field = await payload.make_draft_reply(prims, me.encrypt_public, "draft text")
        assert await payload.open_draft_reply(prims, field, me.encrypt_private) == {"raw": "draft text"}
        empty = await payload.make_draft_reply(prims, me.encrypt_public, "")
        assert await payload.open_draft_reply(prims, empty, me.encrypt_private) is None

    run(go())


def test_every_decrypt_failure_is_a_pycore_error(prims):
    async def go():
        key = await topickey.generate(prims)
        for bad in ["", "1$", "1$short", "3$AAAAAAAAAAAAAAAAAAAA", "1$AAAAAAAAAAAAAAAA", None, 42, "1$" + "A" * 40]:
            with pytest.raises(PycoreError):
                await payload.decrypt(prims, key, bad)

    run(go())


def test_plain_stringify_enumerates_integer_keys_first_like_javascript():
    assert jsjson.stringify({"b": 1, "10": 2, "a": 3, "2": 4, "01": 5}) == '{"2":4,"10":2,"b":1,"a":3,"01":5}'

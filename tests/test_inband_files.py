"""Files in encrypted posts on CPython: a first post or a reply carries its attachments' references
inside the signed object, and ends with plain links to the carriers (so the forum keeps them);
readers get the references back only from a validly signed post; an edit keeps both; a reference
the signer did not sign never reaches a reader."""
import pytest

from pycore import inband
from pycore.errors import MalformedInput
from pycore.inband import attachments as A
from pycore.inband import messages
from tests.test_inband import people, run  # noqa: F401 (people: alice, bob, carol, dave)

NOW = "2026-12-03T10:00:00.000Z"
LATER = "2026-12-03T11:00:00.000Z"


def _uploaded(prims, data, name, mime, short):
    ref, parts = run(A.seal_file(prims, data, name, mime))
    return ref.uploaded_to([f"upload://{short}{i}.png" for i in range(len(parts))]), parts


@pytest.fixture(scope="module")
def with_files(prims, people):
    (a, _), (_, pb) = people["alice"], people["bob"]
    shot, _ = _uploaded(prims, b"\x89PNG fake screenshot" * 50, "screen shot.png", "image/png", "Shot")
    pdf, pdf_parts = _uploaded(prims, b"%PDF-1.4\n" * 300, "report.pdf", "application/pdf", "Pdf")
    new = run(inband.start_conversation(prims, a, "alice", [("bob", pb)], "Files", "see attached", NOW,
                                        files=[shot, pdf]))
    return new, shot, pdf, pdf_parts


def test_a_first_post_carries_its_files_and_links_their_carriers(prims, people, with_files):
    new, shot, pdf, _ = with_files
    # the forum sees links to the carriers (it stores them anyway), never a file's name or type
    assert new.raw.endswith(A.carrier_links([shot, pdf]))
    assert "upload://Shot0.png" in new.raw and "report.pdf" not in new.raw and "image/png" not in new.raw
    conv = run(inband.open_conversation(prims, new.raw, "bob", people["bob"][0], people["alice"][1],
                                        poster_username="alice"))
    assert conv.status == "valid" and conv.files == [shot, pdf]
    # the links are for the forum only: a server that strips them changes nothing for readers
    stripped = new.raw[:-len(A.carrier_links([shot, pdf]))]
    again = run(inband.open_conversation(prims, stripped, "bob", people["bob"][0], people["alice"][1],
                                         poster_username="alice"))
    assert again.files == [shot, pdf]


def test_replies_carry_files_and_edits_keep_them(prims, people, with_files):
    new, shot, _, _ = with_files
    b = people["bob"][0]
    bob = run(inband.open_conversation(prims, new.raw, "bob", b, people["alice"][1], poster_username="alice"))
    reply = run(inband.make_reply(prims, bob, b, "bob", "mine too", LATER, files=[shot]))
    assert reply.endswith(A.carrier_links([shot]))
    r = run(inband.read_post(prims, bob, reply, [people["bob"][1]], poster_username="bob"))
    assert (r.status, r.body, r.files) == ("valid", "mine too", [shot])
    edited = run(inband.make_revision(prims, bob, b, "bob", reply, "mine too (edited)", LATER))
    assert edited.endswith(A.carrier_links([shot]))
    r = run(inband.read_post(prims, bob, edited, [people["bob"][1]], poster_username="bob"))
    assert (r.status, r.body, r.files) == ("valid", "mine too (edited)", [shot])
    plain = run(inband.make_reply(prims, bob, b, "bob", "no files", LATER))
    assert run(inband.read_post(prims, bob, plain, [people["bob"][1]], poster_username="bob")).files == []
    assert "upload://" not in plain


def test_files_must_be_uploaded_references(prims, people, with_files):
    new, shot, _, _ = with_files
    b = people["bob"][0]
    bob = run(inband.open_conversation(prims, new.raw, "bob", b, people["alice"][1], poster_username="alice"))
    not_uploaded, _ = run(A.seal_file(prims, b"x", "a.txt", "text/plain"))
    for bad in ([not_uploaded], ["upload://x.png"], [shot] * (A.MAX_FILES + 1)):
        with pytest.raises(MalformedInput):
            run(inband.make_reply(prims, bob, b, "bob", "hi", LATER, files=bad))


def test_a_signed_but_malformed_file_list_is_malformed_and_an_unsigned_one_is_refused(prims, people, with_files):
    new, shot, _, _ = with_files
    a, b = people["alice"][0], people["bob"][0]
    bob = run(inband.open_conversation(prims, new.raw, "bob", b, people["alice"][1], poster_username="alice"))
    # a validly signed object whose files member is not a list of references: a pycore error
    obj = {"type": "reply", "v": messages.PROTOCOL_VERSION, "conversation_id": bob.id, "message_id": "ab" * 16,
           "created_at": LATER, "raw": "x", "files": [["not", "a", "reference"]],
           "signed_by_name": "bob", "signed_by_fingerprint": people["bob"][1].fingerprint_hex}
    raw = run(messages._seal_post(prims, bob.key, obj, b, messages._epoch_header(messages.KIND_REPLY, 0),
                                  messages.MAX_POST_CHARS, []))
    with pytest.raises(MalformedInput):
        run(inband.read_post(prims, bob, raw, [people["bob"][1]], poster_username="bob"))
    # files added after signing (by whoever holds the conversation key): the signature fails
    signed = run(messages._payload.sign(prims, b, dict(obj, files=[])))
    signed["files"] = [shot.to_signed()]
    raw = run(messages.seal_envelope(prims, bob.key, signed, messages._epoch_header(messages.KIND_REPLY, 0),
                                     messages.MAX_POST_CHARS))
    r = run(inband.read_post(prims, bob, raw, [people["bob"][1]], poster_username="bob"))
    assert r.status == "invalid_signature" and r.files == [] and r.body is None

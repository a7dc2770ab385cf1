"""pycore.engine's attachment handlers on CPython, through the router's checks: alice seals a file
into carriers, "uploads" them (the forum's short urls), sends them in a first post and a reply;
bob's engine names the files in what it reads and opens them from the carriers; a changed,
swapped or foreign carrier is refused with a pycore error, never opened as another file; nothing of
a file reaches the store or the post's raw in plain."""
import base64
import hashlib

import pytest

from pycore.inband import attachments as A
from tests.test_engine_conversations import ORIGIN, _start, base_users, texts, users  # noqa: F401 (fixtures)

SCREENSHOT = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40 + b"the screenshot's own bytes"
PDF = b"%PDF-1.4\n" + b"a page of the report\n" * 300


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def short_url(png_b64: str) -> str:
    """Stands in for the forum's answer: a name derived from the stored file."""
    return "upload://" + hashlib.sha1(unb64(png_b64)).hexdigest()[:27] + ".png"


def seal(u, data, name, mime, **extra):
    sealed = u.ok("files.seal", {"name": name, "mime": mime, "data": b64(data), **extra}, sender="frame:composer")
    return sealed, {"ref": sealed["ref"], "carriers": [short_url(c) for c in sealed["carriers"]]}


def test_files_travel_in_a_conversation_and_open_from_their_carriers(users):
    a, b = users["alice"], users["bob"]
    shot, shot_sent = seal(a, SCREENSHOT, "screen shot.png", "image/png")
    # a forum limiting images to 8 kB... is refused; at 24 kB carriers stay below the limit
    assert a.err("files.seal", {"name": "report.pdf", "mime": "application/pdf", "data": b64(PDF),
                                "max_image_size_kb": 8}, sender="frame:composer")["code"] == "malformed_input"
    pdf, pdf_sent = seal(a, PDF, "report.pdf", "application/pdf", max_image_size_kb=24)
    assert len(shot["carriers"]) == 1 and len(pdf["carriers"]) >= 1
    for c in shot["carriers"] + pdf["carriers"]:
        png = unb64(c)
        assert png.startswith(b"\x89PNG") and SCREENSHOT[20:60] not in png and len(png) < 24 * 1024
    started = a.ok("conv.start", {"origin": ORIGIN, "me": "alice", "recipients": [b.ref()], "title": "Files",
                                  "body": "see attached", "files": [shot_sent, pdf_sent]})
    raw = started["raw"]
    assert "report.pdf" not in raw and "image/png" not in raw
    assert all(c in raw for c in shot_sent["carriers"] + pdf_sent["carriers"])
    opened = b.ok("conv.open", {"origin": ORIGIN, "topic_id": 7, "raw": raw, "me": "bob", "author": a.ref()})
    assert [(f["name"], f["mime"], f["size"]) for f in opened["files"]] == \
        [("screen shot.png", "image/png", len(SCREENSHOT)), ("report.pdf", "application/pdf", len(PDF))]
    got = b.ok("files.open", {"ref": opened["files"][1]["ref"], "carriers": pdf["carriers"]}, sender="frame:viewer")
    assert (got["name"], got["mime"], unb64(got["data"])) == ("report.pdf", "application/pdf", PDF)
    got = b.ok("files.open", {"ref": opened["files"][0]["ref"], "carriers": shot["carriers"]}, sender="frame:viewer")
    assert unb64(got["data"]) == SCREENSHOT
    # a reply may be its files alone
    reply = b.ok("conv.reply", {"origin": ORIGIN, "topic_id": 7, "conversation_id": started["conversation_id"],
                                "me": "bob", "body": "", "files": [shot_sent]})["raw"]
    assert b.err("conv.reply", {"origin": ORIGIN, "topic_id": 7, "conversation_id": started["conversation_id"],
                                "me": "bob", "body": ""})["code"] == "bad_request"
    a.ok("conv.open", {"origin": ORIGIN, "topic_id": 7, "raw": raw, "me": "alice", "author": a.ref()})
    read = a.ok("conv.read", {"origin": ORIGIN, "topic_id": 7, "posts": [
        {"post_id": 12, "raw": reply, "username": "bob", "bio_raw": b.bio}]})["posts"][0]
    assert read["status"] == "valid" and [f["name"] for f in read["files"]] == ["screen shot.png"]
    for u in (a, b):
        assert "screen shot" not in u.stored_text() and "report.pdf" not in u.stored_text()


def test_a_changed_swapped_or_foreign_carrier_is_refused(users):
    a = users["alice"]
    big = bytes(range(256)) * 200
    sealed, _ = seal(a, big, "big.bin", "application/octet-stream", max_image_size_kb=24)
    other, _ = seal(a, big, "big.bin", "application/octet-stream", max_image_size_kb=24)
    carriers, ref = sealed["carriers"], sealed["ref"]
    assert len(carriers) >= 2
    assert unb64(a.ok("files.open", {"ref": ref, "carriers": carriers}, sender="frame:viewer")["data"]) == big

    def refused(cs, r=ref):
        return a.err("files.open", {"ref": r, "carriers": cs}, sender="frame:viewer")["code"]

    assert refused(carriers[::-1]) == "malformed_input"              # parts swapped
    assert refused(other["carriers"]) == "malformed_input"           # another file's carriers
    assert refused(carriers[:1]) == "bad_request"                    # a part missing
    png = bytearray(unb64(carriers[0]))
    png[len(png) // 2] ^= 0x01                                       # damaged on the way
    assert refused([b64(bytes(png)), *carriers[1:]]) == "malformed_input"
    assert refused([b64(b"GIF89a not a carrier"), *carriers[1:]]) == "malformed_input"
    # the right carriers under another file's key: the post's reference decides, and refuses
    assert refused(carriers, [other["ref"][0], *ref[1:]]) == "authentication_failed"
    # what the router refuses outright: not base64, a reference of the wrong shape
    a.refused("files.open", {"ref": ref, "carriers": ["not base64!"]}, sender="frame:viewer")
    a.refused("files.open", {"ref": ref + ["x"], "carriers": carriers}, sender="frame:viewer")


def test_only_uploaded_references_can_be_sent(users):
    a, b = users["alice"], users["bob"]
    _, sent = seal(a, b"tiny", "a.txt", "text/plain")
    for bad in ({"ref": sent["ref"], "carriers": []}, {"ref": sent["ref"][:6], "carriers": sent["carriers"]},
                {"ref": sent["ref"], "carriers": ["upload://a.png", "upload://b.png"]}):
        code = a.err("conv.start", {"origin": ORIGIN, "me": "alice", "recipients": [b.ref()], "title": "T",
                                    "body": "b", "files": [bad]})["code"]
        assert code == "malformed_input"
    assert a.refused("conv.start", {"origin": ORIGIN, "me": "alice", "recipients": [b.ref()], "title": "T",
                                    "body": "b", "files": [{"ref": sent["ref"], "carriers": ["http://x.invalid/y.png"]}]})
    started = _start(a, b)
    assert A.SHORT_URL.search(started["raw"]) is None


@pytest.mark.parametrize("sender", ["frame:viewer", "page:inbox", "page:options", "content"])
def test_only_the_composer_seals_files_and_only_frames_open_them(users, sender):
    a = users["alice"]
    a.call("files.seal", {"name": "a.txt", "mime": "text/plain", "data": b64(b"x")}, sender=sender,
           router_rejects=True)
    if sender != "frame:viewer":
        sealed, _ = seal(a, b"x", "a.txt", "text/plain")
        a.call("files.open", {"ref": sealed["ref"], "carriers": sealed["carriers"]}, sender=sender,
               router_rejects=True)


def test_the_limits_follow_the_forums_image_size_limit(users):
    a = users["alice"]
    default = a.ok("files.limits", {}, sender="frame:composer")
    assert default == {"possible": True, "max_files": A.MAX_FILES, "max_file_bytes": A.max_file_bytes(),
                       "part_bytes": A.PART_BYTES}
    small = a.ok("files.limits", {"max_image_size_kb": 100}, sender="frame:composer")
    assert small["possible"] and small["part_bytes"] == A.part_bytes_for(100) < 100 * 1024
    assert small["max_file_bytes"] == A.max_file_bytes(small["part_bytes"]) < default["max_file_bytes"]
    # what files.seal then does with a file of exactly that size, and one byte more
    sealed, _ = seal(a, b"q" * small["max_file_bytes"], "max.bin", "application/octet-stream", max_image_size_kb=100)
    assert len(sealed["carriers"]) == A.MAX_PARTS
    assert a.err("files.seal", {"name": "over.bin", "mime": "application/octet-stream",
                                "data": b64(b"q" * (small["max_file_bytes"] + 1)), "max_image_size_kb": 100},
                 sender="frame:composer")["code"] == "malformed_input"
    assert a.ok("files.limits", {"max_image_size_kb": 8}, sender="frame:composer")["possible"] is False
    a.call("files.limits", {"max_image_size_kb": "big"}, sender="frame:composer", router_rejects=True)
    assert a.call_unrouted("files.limits", {"max_image_size_kb": "big"}, sender="frame:composer")["error"]["code"] == \
        "bad_request"
    a.call("files.limits", {}, sender="content", router_rejects=True)

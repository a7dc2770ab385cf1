"""Encrypted attachments: alice in Chromium, bob in Firefox (and the other way round in
test_encrypted_files_reverse.py), on the stand-in with Discourse's upload
pipeline (its PNG-to-JPEG, recompression and size rules), its hostile page scripts (plus
E2E_EXTRA_INJECT) and the leak oracle, with the files' bytes registered as secrets.

Also run on the real-forum profile (uploads and downloads below its subfolder).

Ordered story: both publish keys → alice's composer refuses a file above the size limit, and takes
a PNG screenshot by the attach button and a PDF by drag-and-drop → she sends: the forum stores only
1-bit carrier PNGs, and the post only links to them → bob (Firefox) sees the screenshot inline
(click enlarges it) and saves the PDF byte-identical under its name → bob replies with a text file
from Firefox: first the forum's image limit has dropped and Discourse refuses the carrier, then the
store changes a pixel of it, which the composer's read-back catches (both times nothing is posted
and all is kept), then it goes through, and alice saves it in Chromium → the server swaps the PDF's carrier for another one: bob's
viewer shows the PDF as damaged, never as another file → no secret reached the server or the pages.
"""
from __future__ import annotations

import base64
import struct
from pathlib import Path

import pytest

from pycore.inband import attachments as A
from tests.conftest import missing_tool

from .browser import FIREFOX, ChromiumExt, FirefoxExt, wait_until
from .conftest import PASSPHRASE
from .convo import ForumUser, assert_no_secret_leaked, browsers, enable_and_publish, import_vector, story_fixtures
from .test_firefox_conversation import FirefoxUser

pytestmark = [pytest.mark.e2e, pytest.mark.firefox, pytest.mark.real_forum_pass]

TITLE = "Files story: the quarterly figures"
BODY = "Screenshot and report attached. Marker: indigo-marmalade."
REPLY = "My notes are attached. Marker: cerulean-walrus."
PDF_TEXT = "Quarterly report, confidential: tangerine-obelisk 4711"
NOTES_TEXT = "bob's private notes: magenta-quokka"
SECRETS = [PASSPHRASE, TITLE, BODY, REPLY, "indigo-marmalade", "cerulean-walrus", PDF_TEXT, "tangerine-obelisk",
           NOTES_TEXT, "magenta-quokka", "quarterly figures", "report.pdf", "bob-notes.txt", "screenshot.png"]


def make_pdf(text: str) -> bytes:
    """A small valid one-page PDF holding `text`."""
    stream = f"BT /F1 18 Tf 40 760 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def png_size(png: bytes) -> tuple[int, int]:
    return struct.unpack(">II", png[16:24])


def png_idat(png: bytes) -> bytes:
    """The compressed pixel stream of a PNG (what a leak of the file's bytes would carry)."""
    at, out = 8, b""
    while at < len(png):
        n = struct.unpack(">I", png[at:at + 4])[0]
        if png[at + 4:at + 8] == b"IDAT":
            out += png[at + 8:at + 8 + n]
        at += 12 + n
    return out


story, _ordered, oracle, srv = story_fixtures(SECRETS, ["alice", "bob"], topic_id=None, first_post_id=None,
                                              reply_post_id=None, files={}, carriers=[], takes_png=True)


@pytest.fixture(autouse=True)
def _needs_png(story):
    """On a forum profile without PNG uploads, step 2 checks the refusal; the rest cannot run."""
    if not story.takes_png:
        pytest.skip("this forum profile accepts no PNG uploads")


# Who runs which browser: alice (the sender) in Chromium and bob (the reader) in Firefox here;
# test_encrypted_files_reverse.py runs the same story the other way round.
SENDER_BROWSER = "chromium"


@pytest.fixture(scope="module")
def pair(request, ext_dir, ext_dir_firefox, tmp_path_factory, srv):
    if not Path(FIREFOX).exists():
        missing_tool("Firefox ESR is not installed")

    def launch(browser, name):
        if browser == "chromium":
            return ForumUser(ChromiumExt.launch(ext_dir, tmp_path_factory.mktemp(f"files-{name}")), srv, name)
        return FirefoxUser(FirefoxExt.launch(ext_dir_firefox, tmp_path_factory.mktemp(f"files-{name}")), srv, name)
    sender = request.module.SENDER_BROWSER
    with browsers(request) as started:
        alice = launch(sender, "alice")
        started.append(alice)
        bob = launch("firefox" if sender == "chromium" else "chromium", "bob")
        started.append(bob)
        alice.login()
        bob.login()
        yield alice, bob


def attach(u: ForumUser, path: Path):
    """Picks a file with the composer's attach button (the driver is inside the composer)."""
    u.d.find_element("css selector", "#file-input").send_keys(str(path))
    wait_until(lambda: u.d.find_elements("css selector", f'#file-list li[data-name="{path.name}"]'), timeout=30,
               what=f"{u.username}: {path.name} listed in the composer")


def drop(u: ForumUser, name: str, data: bytes, mime: str):
    """Drops a file on the composer's message box (a drag-and-drop as the page would deliver it)."""
    u.d.execute_script("""
        const [name, bytes, mime] = arguments;
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], name, { type: mime }));
        document.querySelector('#body').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    """, name, list(data), mime)
    wait_until(lambda: u.d.find_elements("css selector", f'#file-list li[data-name="{name}"]'), timeout=30,
               what=f"{u.username}: dropped {name} listed in the composer")


def viewer_files(u: ForumUser, post_id: int, texts=False) -> dict:
    """{name: state} (or {name: (state, text)}) of the attachments the viewer of `post_id` lists
    (driver left inside the viewer)."""
    u.d.switch_to.default_content()
    u.d.switch_to.frame(u.viewer_for(post_id))
    return {r.get_attribute("data-name"): (r.get_attribute("data-state"), r.text, r.get_attribute("data-code"))
            if texts else r.get_attribute("data-state")
            for r in u.d.find_elements("css selector", "#files .file")}


def wait_file(u: ForumUser, post_id: int, name: str, states, timeout=120) -> str:
    try:
        return wait_until(lambda: (lambda s: s if s in states else None)(viewer_files(u, post_id).get(name)),
                          timeout=timeout, what=f"{u.username}: attachment {name} of post {post_id} in {states}")
    except TimeoutError as e:
        raise TimeoutError(f"{e}; the viewer shows {viewer_files(u, post_id, texts=True)}") from None


def click_in_view(u: ForumUser, css: str):
    """Clicks an element of the viewer (the driver is inside it) once it is scrolled into the
    frame's view: the viewer scrolls inside, and geckodriver's own scrolling does not reach it."""
    el = u.d.find_element("css selector", css)
    u.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    el.click()


def save(u: ForumUser, post_id: int, name: str) -> bytes:
    """Opens a non-image attachment in the viewer, then saves it; returns the saved bytes."""
    wait_file(u, post_id, name, ("closed",))
    click_in_view(u, f'#files .file[data-name="{name}"] button.open')
    wait_file(u, post_id, name, ("ready",))
    click_in_view(u, f'#files .file[data-name="{name}"] a.save')
    u.d.switch_to.default_content()
    return u.b.downloaded(name)


def test_1_both_publish_keys(pair):
    alice, bob = pair
    import_vector(alice, 0, PASSPHRASE)
    enable_and_publish(alice)
    import_vector(bob, 1, PASSPHRASE)
    enable_and_publish(bob)


def test_2_alice_attaches_a_screenshot_and_a_pdf(pair, story, oracle, srv, tmp_path):
    alice, _ = pair
    story.takes_png = "png" in srv.settings["authorized_extensions"].lower().split("|") or \
        "*" in srv.settings["authorized_extensions"]
    alice.to_forum(f"/u/{alice.username}/messages")
    shot = alice.d.get_screenshot_as_png()   # the forum page, as a user would capture it
    pdf = make_pdf(PDF_TEXT)
    story.files = {"screenshot.png": shot, "report.pdf": pdf}
    oracle.register_bytes("the screenshot's pixels", png_idat(shot)[100:164])
    oracle.register_bytes("the screenshot's header", shot[:48])
    (tmp_path / "screenshot.png").write_bytes(shot)
    big = tmp_path / "huge-video.bin"
    with open(big, "wb") as f:
        f.truncate(A.max_file_bytes() + 1)
    alice.click_page(".efd-new-message")
    alice.composer()
    alice.d.find_element("css selector", "#to").send_keys("bob\n")
    alice.type("#title", TITLE)
    alice.type("#body", BODY)
    if not story.takes_png:
        # a forum profile that takes no PNG: the composer says at once that it cannot attach here
        alice.d.find_element("css selector", "#file-input").send_keys(str(tmp_path / "screenshot.png"))
        wait_until(lambda: "PNG" in alice.d.find_element("css selector", "#status").text, timeout=30,
                   what="alice: attachments refused on a forum without PNG uploads")
        assert not alice.d.find_elements("css selector", "#file-list li")
        pytest.skip("this forum profile accepts no PNG uploads: attachments cannot be sent (checked)")
    # above the limit: refused at once, with the limit in the user's words
    alice.d.find_element("css selector", "#file-input").send_keys(str(big))
    wait_until(lambda: "huge-video.bin" in alice.d.find_element("css selector", "#status").text, timeout=30,
               what="alice: the size refusal")
    assert alice.composer_state() == "error" and "MB" in alice.d.find_element("css selector", "#status").text
    assert not alice.d.find_elements("css selector", '#file-list li[data-name="huge-video.bin"]')
    attach(alice, tmp_path / "screenshot.png")
    drop(alice, "report.pdf", pdf, "application/pdf")
    # a file pasted into the message joins them; its × takes it out again (Chromium: Firefox gives
    # a paste event made by a script no files)
    if alice.b.name == "chromium":
        paste_and_remove(alice)
    names = [li.get_attribute("data-name") for li in alice.d.find_elements("css selector", "#file-list li")]
    assert names == ["screenshot.png", "report.pdf"]


def paste_and_remove(alice: ForumUser):
    alice.d.execute_script("""
        const dt = new DataTransfer();
        dt.items.add(new File(['pasted by mistake'], 'pasted.txt', { type: 'text/plain' }));
        document.querySelector('#body').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    """)
    wait_until(lambda: alice.d.find_elements("css selector", '#file-list li[data-name="pasted.txt"]'), timeout=30,
               what="alice: the pasted file listed")
    assert alice.d.find_element("css selector", "#body").get_attribute("value") == BODY   # not pasted as text
    alice.d.find_element("css selector", '#file-list li[data-name="pasted.txt"] button.remove').click()


def test_3_the_forum_stores_only_carriers(pair, story, srv):
    alice, _ = pair
    before = {u["short_url"] for u in srv.uploads()}
    alice.send_composer()
    story.topic_id = alice.wait_topic_page()
    new = [u for u in srv.uploads() if u["short_url"] not in before]
    assert new, "no upload reached the forum"
    for u in new:
        data = u["data"]
        assert u["extension"] == "png" and u["original_filename"] == A.CARRIER_FILENAME
        w, h = png_size(data)
        assert w == A.CARRIER_WIDTH and data[24:26] == b"\x01\x00"   # 1 bit, greyscale
        for content in story.files.values():
            assert content[:64] not in data
    story.carriers = [u["short_url"] for u in new]
    first = srv.posts(story.topic_id)[0]
    story.first_post_id = first["id"]
    # the post links to every carrier (so Discourse keeps them), and names nothing else in plain
    assert all(c in first["raw"] for c in story.carriers)
    assert "report.pdf" not in first["raw"] and "screenshot" not in first["raw"]
    # the forum's orphan clean-up keeps linked carriers
    srv.clean_up_uploads(grace_hours=0)
    assert {u["short_url"] for u in srv.uploads()} >= set(story.carriers)
    # the content script uploads carriers only: the screenshot itself (a PNG, not a carrier) is refused
    count = len(srv.uploads())
    alice.ext_page("ui/options.html")
    r = alice.b.send("forum.request", {"op": "upload_carrier", "origin": srv.origin,
                                       "args": {"png": base64.b64encode(story.files["screenshot.png"]).decode()}})
    assert not r["ok"] and r["error"]["code"] == "refused", r
    assert len(srv.uploads()) == count


def test_4_bob_sees_the_image_and_saves_the_pdf(pair, story):
    _, bob = pair
    bob.to_forum(f"/t/{story.topic_id}")
    shown = bob.read_viewer(story.first_post_id)
    assert shown["title"] == TITLE and "indigo-marmalade" in shown["body"]
    wait_file(bob, story.first_post_id, "screenshot.png", ("shown",))
    # the image is drawn inside the sandboxed renderer, at its real size, and a click enlarges it
    bob.d.switch_to.frame(bob.d.find_element("css selector", "iframe.body"))
    img = wait_until(lambda: bob.d.find_elements("css selector", "img.efd-attached"), timeout=30,
                     what="bob: the inline image")[0]
    w, h = png_size(story.files["screenshot.png"])
    assert bob.d.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", img) == [w, h]
    assert bob.d.execute_script("return getComputedStyle(arguments[0]).maxHeight", img) != "none"
    # the viewer frame scrolls inside: bring the image into its view (the frames' scrolling is the
    # user's; WebDriver's own scrolling does not reach the outer frame)
    bob.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", img)
    img.click()
    wait_until(lambda: bob.d.execute_script(
        "return document.activeElement === arguments[0] && getComputedStyle(arguments[0]).maxHeight === 'none'", img),
        timeout=10, what="bob: the image enlarged by a click")
    bob.d.switch_to.default_content()
    assert save(bob, story.first_post_id, "report.pdf") == story.files["report.pdf"]


def test_5_bob_replies_with_a_file_and_alice_saves_it(pair, story, srv, tmp_path):
    alice, bob = pair
    notes = tmp_path / "bob-notes.txt"
    notes.write_text(NOTES_TEXT + "\n" + "lorem ipsum dolor " * 300)   # about 5 kB: one carrier of that size
    story.files["bob-notes.txt"] = notes.read_bytes()
    bob.to_forum(f"/t/{story.topic_id}")
    bob.click_page(".efd-reply")
    bob.composer()
    bob.type("#body", REPLY)
    attach(bob, notes)
    posts_before = len(srv.posts(story.topic_id))

    def refused_and_kept(expected: str):
        assert bob.click_send(states=("error",)) == "error"
        said = bob.d.find_element("css selector", "#status").text
        assert expected in said, said
        assert len(srv.posts(story.topic_id)) == posts_before
        assert bob.d.find_element("css selector", "#body").get_attribute("value") == REPLY
        assert bob.d.find_elements("css selector", '#file-list li[data-name="bob-notes.txt"]')
    # The forum's image limit dropped below the carrier's size after the page loaded: Discourse
    # refuses the upload (halving a 1-bit image makes it larger), in its own words; all is kept.
    limit = srv.settings["max_image_size_kb"]
    srv.settings["max_image_size_kb"] = 2
    try:
        refused_and_kept("maximum size is 2 KB")
    finally:
        srv.settings["max_image_size_kb"] = limit
    # A store that changes the stored image: the read-back catches it before anything is posted.
    srv.damage_next_uploads(1)
    refused_and_kept("Nothing was posted")
    assert "bob-notes.txt" in bob.d.find_element("css selector", "#status").text
    # with the forum's limit back, the same send goes through
    bob.d.switch_to.default_content()
    bob.d.execute_script("window.__efdTestBeforeSend = true")
    bob.in_composer()
    bob.click_decision("#send-btn")
    bob.wait_topic_page()
    posts = srv.posts(story.topic_id)
    story.reply_post_id = posts[-1]["id"]
    assert posts[-1]["user_id"] == srv.user("bob")["id"] and "upload://" in posts[-1]["raw"]
    alice.to_forum(f"/t/{story.topic_id}")
    # in the sender's browser too, the screenshot shows inline in the first post
    alice.read_viewer(story.first_post_id)
    wait_file(alice, story.first_post_id, "screenshot.png", ("shown",))
    alice.d.switch_to.default_content()
    shown = alice.read_viewer(story.reply_post_id)
    assert "cerulean-walrus" in shown["body"]
    assert save(alice, story.reply_post_id, "bob-notes.txt") == story.files["bob-notes.txt"]


def test_6_a_swapped_carrier_shows_the_file_as_damaged(pair, story, srv):
    _, bob = pair
    pdf_carrier = story.carriers[-1]
    other = next(u for u in srv.uploads() if u["short_url"] != pdf_carrier)
    srv.replace_upload(pdf_carrier, other["data"])          # a hostile server swaps the stored file
    bob.to_forum(f"/t/{story.topic_id}")
    bob.read_viewer(story.first_post_id)
    wait_file(bob, story.first_post_id, "report.pdf", ("closed",))
    click_in_view(bob, '#files .file[data-name="report.pdf"] button.open')
    wait_file(bob, story.first_post_id, "report.pdf", ("invalid",))
    text = bob.d.find_element("css selector", '#files .file[data-name="report.pdf"]').text
    assert "report.pdf" in text and PDF_TEXT not in text and not bob.d.find_elements(
        "css selector", '#files .file[data-name="report.pdf"] a.save')
    bob.d.switch_to.default_content()
    # the damaged carrier leaves the rest of the post readable
    assert viewer_files(bob, story.first_post_id)["screenshot.png"] in ("shown", "opening")
    bob.d.switch_to.default_content()


def test_7_no_secret_leaked(pair, oracle, srv):
    alice, bob = pair
    assert_no_secret_leaked(oracle, srv, [alice, bob], ["indigo-marmalade", "cerulean-walrus", "tangerine-obelisk",
                                                        "magenta-quokka"])

"""The stand-in's uploads behave like a default Discourse's (UploadsController, UploadCreator of the
newest generation, UploadValidator, the orphan clean-up): a carrier the real forum would damage
fails here too. Sources: docs/DISCOURSE-FIDELITY.md, "Uploads"."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time

import pytest
from PIL import Image, PngImagePlugin

from tests.standin import DEFAULT_SETTINGS
from tests.standin import uploads as U
from tests.test_standin_fidelity import DOC, ROW, TYPES, check

PW = "pw-123456"
NO_XHR = {"X-Requested-With": "", "Accept": "*/*"}
HOUR = 3600.0


@pytest.fixture
def forum(standin):
    standin.settings.update(rate_limit_create_topic=0, rate_limit_create_post=0)
    standin.create_user("alice", PW, trust_level=1, age_days=30)
    standin.create_user("bob", PW, trust_level=1, age_days=30)
    standin.create_user("admin", PW, trust_level=4, admin=True, age_days=30)
    return standin


def png(img: Image.Image, **kw) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG", **kw)
    return out.getvalue()


def carrier(height: int, width: int = 2048) -> bytes:
    """What the extension uploads: a greyscale PNG of bit depth 1 full of random-looking bits."""
    return png(Image.frombytes("1", (width, height), os.urandom(width * height // 8)), optimize=True)


def photo_like(width: int = 1024, height: int = 768, alpha: bool = False) -> bytes:
    """A smooth RGB image with fine grain, like a photograph: PNG compresses it badly, JPEG well."""
    grain = Image.frombytes("L", (width, height), os.urandom(width * height)).point(lambda v: v // 16)
    r = Image.linear_gradient("L").resize((width, height))
    g = Image.radial_gradient("L").resize((width, height))
    b = Image.eval(Image.linear_gradient("L").rotate(90).resize((width, height)), lambda v: 255 - v)
    img = Image.merge("RGB", [Image.blend(ch, grain, 0.25) for ch in (r, g, b)])
    if alpha:
        a = Image.new("L", (width, height), 255)
        a.paste(0, (0, 0, width // 4, height // 4))          # a transparent corner
        img = img.convert("RGBA")
        img.putalpha(a)
    return png(img)


def upload(client, data: bytes, name: str = "encrypted.png", **fields):
    fields.setdefault("upload_type", "composer")
    fields.setdefault("for_private_message", "true")
    return client.upload(data, name, **fields)


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def stored(srv, answer: dict) -> dict:
    return next(u for u in srv.uploads() if u["id"] == answer["id"])


# ------------------------------------------------------------------------------ carriers

def test_a_large_carrier_is_stored_pixel_exact(forum):
    """2048×4096 random bits (8.4 megapixels, about 1 MiB): above the older generations' 921 600
    pixels and the newest one's 75 000 bytes, so Discourse tries a JPEG; it is far larger than the
    PNG and not kept. Too many pixels for the lossless re-encode: the bytes stay as sent."""
    data = carrier(4096)
    assert len(data) >= U.MIN_CONVERT_TO_JPEG_BYTES_SAVED and 2048 * 4096 >= 921_600
    r = upload(forum.client("alice"), data)
    assert r.status == 200, r.text
    j = r.json()
    assert j["extension"] == "png" and j["original_filename"] == "encrypted.png"
    assert (j["width"], j["height"], j["filesize"]) == (2048, 4096, len(data))
    row = stored(forum, j)
    assert row["steps"] == [] and row["data"] == data
    # the short url names the stored file: its SHA-1 in base62
    assert j["short_url"] == "upload://" + U.base62_sha1(sha1(data)) + ".png"
    assert U.sha1_from_base62(j["short_url"][len("upload://"):-len(".png")]) == sha1(data)


def test_a_small_carrier_keeps_its_pixels_through_the_lossless_re_encode(forum):
    """Under 2 megapixels a PNG is re-encoded losslessly (oxipng): the pixels survive, the bytes
    and ancillary chunks may not, and the short url then names the new bytes."""
    img = Image.new("1", (2048, 512))
    img.paste(Image.frombytes("1", (2048, 256), os.urandom(2048 * 256 // 8)))   # the rest is blank
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "dropped by the optimiser")
    loose = png(img, compress_level=0, pnginfo=info)          # a badly packed PNG with a tEXt chunk
    r = upload(forum.client("alice"), loose)
    assert r.status == 200, r.text
    j = r.json()
    row = stored(forum, j)
    assert row["steps"] == ["png optimised losslessly"] and j["extension"] == "png"
    assert len(row["data"]) < len(loose) and b"tEXt" not in row["data"]
    assert U.pixels_of(row["data"]) == U.pixels_of(loose)
    assert j["short_url"] == U.short_url(sha1(row["data"]), "png") != U.short_url(sha1(loose), "png")
    # a tight carrier is left byte for byte: no re-encode makes it smaller
    tight = carrier(256)
    r = upload(forum.client("alice"), tight)
    assert stored(forum, r.json())["data"] == tight


def test_a_carriers_jpeg_is_several_times_larger_than_its_png():
    """Why the carrier is safe from the JPEG attempt: random bits at full contrast make a JPEG (at
    Discourse's quality 90, greyscale or RGB) several times the PNG's size, never under 0.70 × it."""
    data = carrier(4096)
    grey = U.png_to_jpeg(data, 90)
    with Image.open(io.BytesIO(data)) as img:
        rgb = U.encode_jpeg(img.convert("RGB"), 90)
    assert len(grey) > 3 * len(data) and len(rgb) > 3 * len(data)
    assert not U.keep_jpeg_candidate(len(data), len(grey))


def test_a_photo_like_png_becomes_a_jpeg_flattened_on_white(forum):
    """A PNG of 75 000 bytes or more whose JPEG (quality 90) is under 0.70 × it and saves more than
    75 000 bytes is replaced by it: extension "jpeg", the name's extension .jpg, transparency on
    white. This is what would destroy a carrier of 8-bit or colour noise."""
    data = photo_like(alpha=True)
    r = upload(forum.client("alice"), data, "holiday.png")
    assert r.status == 200, r.text
    j = r.json()
    row = stored(forum, j)
    assert row["steps"] == ["png→jpeg"] and row["data"][:3] == b"\xff\xd8\xff"
    assert j["extension"] == "jpeg" and j["original_filename"] == "holiday.jpg"
    assert j["short_url"].endswith(".jpeg") and j["url"].endswith(f"{row['sha1']}.jpeg")
    assert j["filesize"] < 0.7 * len(data)
    with Image.open(io.BytesIO(row["data"])) as img:
        assert img.mode == "RGB" and min(img.convert("L").getpixel((5, 5)), 255) >= 250
    # no JPEG attempt when png_to_jpg_quality is 100
    forum.settings["png_to_jpg_quality"] = 100
    r = upload(forum.client("bob"), photo_like(), "holiday.png")
    assert r.json()["extension"] == "png"


def test_the_type_comes_from_the_content_not_the_name(forum):
    """A PNG named .txt is handled as a PNG, and its name corrected; a name without extension too."""
    data = carrier(64)
    j = upload(forum.client("alice"), data, "notes.txt").json()
    assert j["extension"] == "png" and j["original_filename"] == "notes.png"
    j = upload(forum.client("alice"), carrier(64), "carrier").json()
    assert j["original_filename"] == "carrier.png"


def test_files_that_are_not_images_are_refused_by_default(forum):
    """authorized_extensions lists images only: a .txt or .pdf is refused with Discourse's text,
    unless the site authorises it (then it is stored byte for byte)."""
    a = forum.client("alice")
    listed = "jpg, jpeg, png, gif, heic, heif, webp"
    for name, data in (("notes.txt", b"ciphertext"), ("paper.pdf", b"%PDF-1.4\n%%EOF\n")):
        r = upload(a, data, name)
        assert r.status == 422
        assert r.json() == {"errors": [f"Sorry, the file you are trying to upload is not authorized "
                                       f"(authorized extensions: {listed})."]}
    assert forum.uploads() == []
    forum.settings["authorized_extensions"] = DEFAULT_SETTINGS["authorized_extensions"] + "|txt"
    r = upload(a, b"ciphertext", "notes.txt")
    assert r.status == 200 and r.json()["extension"] == "txt" and r.json()["width"] is None
    assert forum.uploads()[-1]["data"] == b"ciphertext"


def test_staff_may_upload_any_file_in_a_pm(forum):
    admin = forum.client("admin")
    assert upload(admin, b"a staff attachment", "notes.txt").status == 200
    assert upload(admin, b"outside a PM", "other.txt", for_private_message="false").status == 422


def test_too_many_megapixels_are_refused(forum):
    """max_image_megapixels (40): an image of 40 million pixels or more is refused, whatever its
    file size; downsizing never reduces the pixel count to make it fit."""
    a = forum.client("alice")
    r = upload(a, png(Image.new("1", (8000, 5000))), "huge.png")
    assert r.status == 422
    assert r.json() == {"errors": ["Sorry, the image with filename huge.png is too large (maximum dimension is "
                                   "40 megapixels), please resize it and try again."]}
    assert upload(a, png(Image.new("1", (7999, 5000))), "big.png").status == 200


def test_too_large_files_are_halved_then_refused(forum):
    """A file of max_image_size_kb or more is halved (up to three times) until it fits; the pixels
    are interpolated (the data is gone). One that does not fit is refused."""
    forum.settings.update(max_image_size_kb=256, png_to_jpg_quality=100)
    a = forum.client("alice")
    data = photo_like(1024, 768)
    assert len(data) >= 256 * 1024
    j = upload(a, data, "big.png").json()
    assert j["width"] < 1024 and j["filesize"] < 256 * 1024 and "halved" in stored(forum, j)["steps"]
    r = upload(a, carrier(1200), "carrier.png")            # random bits only grow when halved
    assert r.status == 422
    assert r.json() == {"errors": ["Sorry, the image you are trying to upload is too big (maximum size is "
                                   "256 KB), please resize it and try again."]}


def test_identical_files_are_one_upload(forum):
    data = carrier(64)
    first = upload(forum.client("alice"), data).json()
    again = upload(forum.client("bob"), data, "other-name.png").json()
    assert again["id"] == first["id"] and again["original_filename"] == "encrypted.png"
    assert len(forum.uploads()) == 1


# ------------------------------------------------------------------------------ the request

def test_upload_needs_login_csrf_a_type_and_a_file(forum):
    data = carrier(64)
    assert forum.client().upload(data, "x.png", upload_type="composer").json()["error_type"] == "not_logged_in"
    a = forum.client("alice")
    a.fetch_csrf()
    a.csrf = "forged"
    r = upload(a, data)
    assert r.status == 403 and r.body == b'["BAD CSRF"]'
    a = forum.client("alice")
    r = a.upload(data, "x.png")
    assert r.status == 400 and r.json() == {"errors": ["param is missing or the value is empty: upload_type"]}
    assert a.upload(data, "x.png", type="composer").status == 200          # the deprecated name still works
    r = a.post("/uploads.json", {"upload_type": "composer"})
    assert r.status == 422 and r.json() == {"errors": ["Sorry, you must provide a file to upload."]}
    r = upload(a, b"", "empty.png")
    assert r.status == 422 and r.json() == {"errors": ["Sorry, but the file you provided is empty."]}
    r = upload(a, b"\x89PNG\r\n\x1a\nnot really", "broken.png")
    assert r.status == 422 and list(r.json()) == ["errors"]
    assert len(forum.uploads()) == 1


def load_upload_shape() -> list[tuple[str, list[str], bool]]:
    text = DOC.read_text("utf-8")
    section = text.split("### The upload answer", 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        m = ROW.match(line)
        if m:
            shape, key, typ, req, _ = m.groups()
            assert shape == "upload" and all(t in TYPES for t in typ.split("/"))
            rows.append((key, typ.split("/"), req == "yes"))
    return rows


def test_the_answer_has_the_upload_serializers_shape(forum):
    """The keys and types of UploadSerializer (the table in docs/DISCOURSE-FIDELITY.md, "Uploads");
    url is the store's path made absolute on the forum and schemaless."""
    rows = load_upload_shape()
    assert len(rows) == 14
    j = upload(forum.client("alice"), carrier(512)).json()
    assert check({"upload": rows}, {"upload": j}) == []
    assert j["url"] == f"//127.0.0.1:{forum.port}/uploads/default/original/1X/{stored(forum, j)['sha1']}.png"
    assert j["short_path"] == "/uploads/short-url/" + j["short_url"][len("upload://"):]
    assert (j["thumbnail_width"], j["thumbnail_height"]) == (690, 172) and j["retain_hours"] is None
    assert re.fullmatch(r"[0-9A-F]{6}", j["dominant_color"]) and j["human_filesize"].endswith(" KB")
    broken = dict(j, filesize="1")
    del broken["short_url"]
    problems = check({"upload": rows}, {"upload": broken})
    assert any("missing 'short_url'" in p for p in problems) and any("filesize" in p for p in problems)


def test_upload_settings_reach_the_page_and_the_doc(forum):
    """Discourse's defaults, the `client: true` ones in the preloaded siteSettings, every one named
    in the doc's Settings table."""
    names = ["authorized_extensions", "authorized_extensions_for_staff", "allow_staff_to_upload_any_file_in_pm",
             "max_image_size_kb", "max_attachment_size_kb", "max_image_megapixels", "max_image_width",
             "max_image_height", "png_to_jpg_quality", "recompress_original_jpg_quality", "strip_image_metadata",
             "clean_up_uploads", "clean_orphan_uploads_grace_period_hours", "prevent_anons_from_downloading_files"]
    assert {k: DEFAULT_SETTINGS[k] for k in ("authorized_extensions", "max_image_size_kb", "max_attachment_size_kb",
                                             "max_image_megapixels", "png_to_jpg_quality",
                                             "recompress_original_jpg_quality", "strip_image_metadata",
                                             "clean_orphan_uploads_grace_period_hours")} == {
        "authorized_extensions": "jpg|jpeg|png|gif|heic|heif|webp", "max_image_size_kb": 4096,
        "max_attachment_size_kb": 4096, "max_image_megapixels": 40, "png_to_jpg_quality": 95,
        "recompress_original_jpg_quality": 90, "strip_image_metadata": True,
        "clean_orphan_uploads_grace_period_hours": 48}
    settings_table = DOC.read_text("utf-8").split("## Settings", 1)[1].split("\n## ", 1)[0]
    assert [n for n in names if f"`{n}`" not in settings_table] == []
    c = forum.client("alice")
    c.xhr = False
    page = c.get("/").text
    outer = json.loads(re.search(r'<script id="data-preloaded" type="application/json">(.*?)</script>',
                                 page, re.S).group(1))
    site = json.loads(outer["siteSettings"])
    assert site["authorized_extensions"] == "jpg|jpeg|png|gif|heic|heif|webp"
    assert site["max_image_size_kb"] == 4096 and site["max_attachment_size_kb"] == 4096
    assert "max_image_megapixels" not in site and "png_to_jpg_quality" not in site


# ------------------------------------------------------------------------------ downloads

def test_downloads_serve_the_stored_bytes_and_refuse_xhr(forum):
    """show_short and show send the stored file (as a download), refuse requests marked as XHR
    with 400, and answer 404 for what is not stored; anonymous users may download."""
    data = carrier(256)
    j = upload(forum.client("alice"), data).json()
    row = stored(forum, j)
    anon = forum.client()
    original = j["url"].split(str(forum.port), 1)[1]
    for path in (j["short_path"], original, f"/uploads/default/{row['sha1']}.png"):
        r = anon.get(path, headers=NO_XHR)
        assert r.status == 200 and r.body == row["data"], path
        assert r.headers["content-type"] == "image/png"
        assert r.headers["content-disposition"].startswith('attachment; filename="encrypted.png"')
        x = anon.get(path)                                     # X-Requested-With: XMLHttpRequest
        assert x.status == 400 and x.json() == {
            "errors": ["You supplied invalid parameters to the request: XHR not allowed"],
            "error_type": "invalid_parameters"}
    assert anon.get(j["short_path"] + "?inline=1", headers=NO_XHR).headers["content-disposition"].startswith("inline")
    assert anon.get("/uploads/short-url/" + U.base62_sha1("1" * 40) + ".png", headers=NO_XHR).status == 404
    assert anon.get(original.replace("/default/", "/other/"), headers=NO_XHR).status == 404
    forum.settings["prevent_anons_from_downloading_files"] = True
    assert anon.get(j["short_path"], headers=NO_XHR).status == 404
    assert forum.client("bob").get(j["short_path"], headers=NO_XHR).status == 200


def test_a_subfolder_install_puts_uploads_below_its_base_path(standin_factory):
    srv = standin_factory(settings={"base_path": "/forum"})
    srv.create_user("alice", PW, age_days=30)
    a = srv.client("alice")
    data = carrier(128)
    j = upload(a, data).json()
    sha = stored(srv, j)["sha1"]
    assert j["url"] == f"//127.0.0.1:{srv.port}/forum/uploads/default/original/1X/{sha}.png"
    assert j["short_path"].startswith("/forum/uploads/short-url/")
    assert a.get(j["short_path"], headers=NO_XHR).body == stored(srv, j)["data"]
    assert srv.requests[-1]["app_path"].startswith("/uploads/short-url/")
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request("GET", j["short_path"][len("/forum"):])
    assert conn.getresponse().status == 404                     # nothing answers outside the subfolder
    conn.close()


def test_the_body_limit_is_nginxs(forum):
    """client_max_body_size 10m: a larger request never reaches Discourse (413)."""
    r = upload(forum.client("alice"), b"\0" * (10 * 1024 * 1024 + 1), "big.bin")
    assert r.status == 413


# ------------------------------------------------------------------------------ clean-up

def test_orphans_are_cleaned_up_after_the_grace_period(forum):
    """Jobs::CleanUpUploads: an upload older than clean_orphan_uploads_grace_period_hours (48) that
    nothing references goes; a post's link or image keeps it (not a mention inside a code block),
    and so does a draft naming it."""
    a = forum.client("alice")
    ids = {}
    for name in ("orphan", "imaged", "linked", "fenced", "drafted", "young"):
        ids[name] = upload(a, carrier(32)).json()
    for name, row in ids.items():
        if name != "young":
            forum.age_upload(row["id"], 49)
    short = {name: row["short_url"] for name, row in ids.items()}
    raw = (f"![enc-1of1|2048x32]({short['imaged']})\n\n[encrypted.png]({short['linked']})\n\n"
           f"```text\n{short['fenced']}\n```")
    post = a.create_pm("bob", "Carriers", raw).json()
    assert a.post("/drafts.json", {"draft_key": "topic_999", "sequence": 0,
                                   "data": json.dumps({"reply": f"later: {short['drafted']}"})}).status == 200
    assert forum.clean_up_uploads(now=time.time() - 2 * HOUR) == []          # nothing is old enough yet
    removed = forum.clean_up_uploads()
    assert sorted(r["id"] for r in removed) == sorted([ids["orphan"]["id"], ids["fenced"]["id"]])
    left = {u["id"] for u in forum.uploads()}
    assert left == {ids[n]["id"] for n in ("imaged", "linked", "drafted", "young")}
    gone = forum.client().get(ids["orphan"]["short_path"], headers=NO_XHR)
    assert gone.status == 404
    # an edit that drops the image leaves that carrier an orphan
    r = a.put(f"/posts/{post['id']}.json", {"post[raw]": f"[encrypted.png]({short['linked']}) only now"})
    assert r.status == 200, r.text
    assert [r["id"] for r in forum.clean_up_uploads()] == [ids["imaged"]["id"]]
    forum.age_upload(ids["young"]["id"], 49)
    forum.settings["clean_up_uploads"] = False
    assert forum.clean_up_uploads() == []
    forum.settings["clean_up_uploads"] = True
    assert [r["id"] for r in forum.clean_up_uploads()] == [ids["young"]["id"]]


def test_the_store_paths_in_a_post_count_as_references(forum):
    a = forum.client("alice")
    j = upload(a, carrier(32)).json()
    forum.age_upload(j["id"], 49)
    path = j["url"].split(str(forum.port), 1)[1]
    a.create_pm("bob", "By path", f"![carrier]({path}) and a long enough body")
    assert forum.clean_up_uploads() == []
    assert U.sha1s_in_cooked('<img src="https://elsewhere.invalid/uploads/default/original/1X/'
                             f'{j["url"][-44:-4]}.png">', host=f"127.0.0.1:{forum.port}") == set()


def test_a_hostile_store_changes_one_pixel_of_the_next_images(forum):
    """The test API's damage_next_uploads: the next image is stored with its first pixel inverted
    (a valid image of the same size and type), the one after is stored as sent."""
    c = forum.client("alice")
    first, second = carrier(8), carrier(8)
    forum.damage_next_uploads(1)
    damaged = stored(forum, upload(c, first).json())
    kept = stored(forum, upload(c, second).json())
    assert damaged["extension"] == "png" and damaged["data"] != first and "hostile store" in damaged["steps"][-1]
    with Image.open(io.BytesIO(damaged["data"])) as a, Image.open(io.BytesIO(first)) as b:
        assert a.size == b.size
        pa, pb = a.convert("L"), b.convert("L")
        assert pa.getpixel((0, 0)) != pb.getpixel((0, 0))
        assert pa.tobytes()[1:] == pb.tobytes()[1:]
    assert kept["data"] == second or "png optimised losslessly" in kept["steps"]

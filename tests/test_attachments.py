"""pycore.inband.attachments on CPython: a file sealed under its own key, cut into parts, each
carried by a 1-bit greyscale PNG; the carrier read back after a lossless re-encoding like the
forum's optimiser may do (other filters, bit depths, colour types, a palette, chunk splits),
refused when its pixels changed; damaged, swapped or foreign input raises only pycore errors."""
import asyncio
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pycore.errors import AuthenticationFailed, MalformedInput, PycoreError
from pycore.inband import attachments as A


def run(coro):
    return asyncio.run(coro)


def chunks(png: bytes):
    at, out = 8, []
    while at < len(png):
        n = struct.unpack(">I", png[at:at + 4])[0]
        out.append((png[at + 4:at + 8], png[at + 8:at + 8 + n]))
        at += 12 + n
    return out


def pixels(png: bytes) -> tuple[int, int, list]:
    """The carrier's pixels as 0/1 rows (it is written as 1-bit greyscale, filter 0)."""
    c = dict(chunks(png))
    w, h = struct.unpack(">II", c[b"IHDR"][:8])
    raw = zlib.decompress(b"".join(b for k, b in chunks(png) if k == b"IDAT"))
    stride = w // 8
    rows = []
    for y in range(h):
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        rows.append([(byte >> (7 - k)) & 1 for byte in line for k in range(8)])
    return w, h, rows


def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _filter(rows: list, bpp: int, kind: int) -> bytes:
    out, prev = b"", bytes(len(rows[0]))
    for row in rows:
        line = bytearray(row)
        f = kind if kind != 5 else (len(out) // (len(row) + 1)) % 5   # 5: a different filter per row
        enc = bytearray(len(line))
        for i, x in enumerate(line):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            pred = 0 if f == 0 else a if f == 1 else b if f == 2 else (a + b) // 2 if f == 3 else A._paeth(a, b, c)
            enc[i] = (x - pred) & 0xFF
        out += bytes([f]) + bytes(enc)
        prev = bytes(line)
    return out


def reencode(png: bytes, colour: int, depth: int, filt: int, split: int = 0) -> bytes:
    """The same pixels as another lossless PNG: colour type / bit depth / filter of our choice,
    IDAT optionally split in chunks of `split` bytes, plus ancillary chunks an encoder may add."""
    w, h, rows = pixels(png)
    palette = b""
    lines = []
    for bits in rows:
        if colour == 0:
            top = (1 << depth) - 1
            vals = [top if v else 0 for v in bits]
        elif colour == 3:
            palette = bytes([250, 250, 250, 3, 3, 3])
            vals = [0 if v else 1 for v in bits]
        elif colour == 4:
            vals = [x for v in bits for x in (255 if v else 0, 255)]
        elif colour == 2:
            vals = [x for v in bits for x in ((200, 230, 255) if v else (10, 0, 20))]
        else:   # 6
            vals = [x for v in bits for x in ((255, 255, 255, 255) if v else (0, 0, 0, 255))]
        if depth < 8:
            per = 8 // depth
            packed = bytearray()
            for i in range(0, len(vals), per):
                byte = 0
                for k, v in enumerate(vals[i:i + per]):
                    byte |= v << (8 - depth * (k + 1))
                packed.append(byte)
            lines.append(bytes(packed))
        elif depth == 8:
            lines.append(bytes(vals))
        else:
            lines.append(b"".join(struct.pack(">H", v * 257 if v <= 255 else v) for v in vals))
    channels = A._CHANNELS[colour]
    bpp = max(1, depth * channels // 8)
    data = zlib.compress(_filter(lines, bpp, filt), 6)
    idats = [data[i:i + split] for i in range(0, len(data), split)] if split else [data]
    out = A._PNG_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0))
    out += _chunk(b"tEXt", b"Software\0optimiser")
    if palette:
        out += _chunk(b"PLTE", palette)
    return out + b"".join(_chunk(b"IDAT", d) for d in idats) + _chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def small(prims):
    ref, parts = run(A.seal_file(prims, b"%PDF-1.4 a small document\n" * 40, "report.pdf", "application/pdf"))
    png = run(A.carrier_png(prims, parts[0], 0, 1))
    return ref, parts, png


def test_a_file_round_trips_through_its_carriers(prims):
    data = bytes(range(256)) * 9000   # 2.3 MB: three parts
    ref, parts = run(A.seal_file(prims, data, "screenshot.png", "image/png"))
    assert len(parts) == 3 and all(len(p) <= A.PART_BYTES for p in parts) and ref.size == len(data)
    carriers = [run(A.carrier_png(prims, p, i, len(parts))) for i, p in enumerate(parts)]
    for png in carriers:
        c = chunks(png)
        assert [k for k, _ in c] == [b"IHDR", b"IDAT", b"IEND"]
        w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", c[0][1])
        assert (w, depth, colour, interlace) == (A.CARRIER_WIDTH, 1, 0, 0) and w * h < A.MAX_CARRIER_PIXELS
        assert len(png) < 4096 * 1024
    got = [run(A.read_carrier(prims, png)) for png in reversed(carriers)]
    assert [(i, n) for i, n, _ in got] == [(2, 3), (1, 3), (0, 3)]
    back = run(A.open_file(prims, ref, [p for _, _, p in sorted(got)]))
    assert back == data
    # the reference travels in the signed post as strings only, and comes back the same; in a
    # post it must name where each carrier is stored
    assert A.FileRef.from_signed(ref.to_signed(), uploaded=False) == ref
    with pytest.raises(MalformedInput, match="carrier addresses"):
        A.FileRef.from_signed(ref.to_signed())
    uploaded = ref.uploaded_to(["upload://a1.png", "upload://B2.png", "upload://c3.png"])
    assert A.FileRef.from_signed(uploaded.to_signed()) == uploaded
    assert A.carrier_links([uploaded]).split() == [f"[{A.CARRIER_FILENAME}](upload://{x}.png)" for x in ("a1", "B2", "c3")]
    for bad in (["upload://a1.png"] * 2, ["upload://a1.png", "upload://b.png", "http://evil.invalid/x.png"],
                ["upload://a1.jpg"] * 3, ["upload://a,1.png"] * 3):
        with pytest.raises(MalformedInput):
            ref.uploaded_to(bad)


def test_the_part_size_follows_the_forums_image_limit(prims):
    assert A.part_bytes_for(None) == A.part_bytes_for(4096) == A.PART_BYTES
    small_part = A.part_bytes_for(200)
    assert A.MIN_PART_BYTES <= small_part < 200 * 1024
    ref, parts = run(A.seal_file(prims, b"z" * (3 * small_part), "big.bin", "application/octet-stream", small_part))
    assert len(parts) == 4 and all(len(p) <= small_part for p in parts)
    # every carrier stays below the limit, where Discourse would start shrinking it
    assert all(len(run(A.carrier_png(prims, p, i, 4))) < 200 * 1024 for i, p in enumerate(parts))
    for bad in (0, -5, 10, True, "4096"):
        with pytest.raises(MalformedInput):
            A.part_bytes_for(bad)
    with pytest.raises(MalformedInput, match="limited"):
        run(A.seal_file(prims, b"z" * (A.max_file_bytes(small_part) + 1), "big.bin", "application/octet-stream",
                        small_part))


@pytest.mark.parametrize("colour,depth", [(0, 1), (0, 2), (0, 4), (0, 8), (0, 16), (3, 1), (3, 8), (4, 8),
                                          (2, 8), (2, 16), (6, 8)])
@pytest.mark.parametrize("filt", [0, 1, 2, 3, 4, 5])
def test_a_carrier_survives_a_lossless_re_encoding(prims, small, colour, depth, filt):
    ref, parts, png = small
    other = reencode(png, colour, depth, filt, split=300 if filt == 5 else 0)
    assert other != png
    assert run(A.read_carrier(prims, other)) == (0, 1, parts[0])


def test_changed_pixels_and_foreign_images_are_refused(prims, small):
    ref, parts, png = small
    w, h, rows = pixels(png)
    # one pixel flipped in the part (a lossy step), the header intact: the hash tells
    raw = bytearray(zlib.decompress(b"".join(b for k, b in chunks(png) if k == b"IDAT")))
    raw[1 + 60] ^= 0x10
    flipped = A._PNG_SIGNATURE + chunks_bytes(png, b"IHDR") + _chunk(b"IDAT", zlib.compress(bytes(raw))) + \
        _chunk(b"IEND", b"")
    with pytest.raises(MalformedInput, match="changed"):
        run(A.read_carrier(prims, flipped))
    # a CRC error, a truncated file, another size, an interlaced image, not a PNG at all
    damaged = bytearray(png)
    damaged[40] ^= 1
    for bad in (bytes(damaged), png[:len(png) // 2], b"GIF89a", b"",
                interlaced(png), resized(png, 1024)):
        with pytest.raises(MalformedInput):
            run(A.read_carrier(prims, bad))


def chunks_bytes(png, kind):
    return b"".join(_chunk(k, b) for k, b in chunks(png) if k == kind)


def interlaced(png):
    c = chunks(png)
    ihdr = bytearray(c[0][1])
    ihdr[12] = 1
    return A._PNG_SIGNATURE + _chunk(b"IHDR", bytes(ihdr)) + b"".join(_chunk(k, b) for k, b in c[1:])


def resized(png, width):
    c = chunks(png)
    ihdr = bytearray(c[0][1])
    ihdr[0:4] = struct.pack(">I", width)
    return A._PNG_SIGNATURE + _chunk(b"IHDR", bytes(ihdr)) + b"".join(_chunk(k, b) for k, b in c[1:])


def test_parts_must_be_the_ones_the_post_names(prims):
    ref, parts = run(A.seal_file(prims, b"x" * (A.PART_BYTES + 10), "a.bin", "application/octet-stream"))
    assert len(parts) == 2
    with pytest.raises(MalformedInput):
        run(A.open_file(prims, ref, parts[::-1]))
    with pytest.raises(MalformedInput):
        run(A.open_file(prims, ref, parts[:1]))
    other, other_parts = run(A.seal_file(prims, b"y" * (A.PART_BYTES + 10), "a.bin", "application/octet-stream"))
    with pytest.raises(MalformedInput):
        run(A.open_file(prims, ref, other_parts))
    # the right parts under a swapped key: AES-GCM refuses
    swapped = A.FileRef(other.key_raw, ref.iv, ref.name, ref.mime, ref.size, ref.parts)
    with pytest.raises(AuthenticationFailed):
        run(A.open_file(prims, swapped, parts))


def test_file_references_and_arguments_are_checked(prims, small):
    ref, _, _ = small
    signed = ref.uploaded_to(["upload://x.png"]).to_signed()
    for bad in (None, [], signed[:6], [*signed[:2], "../etc/passwd", *signed[3:]], [*signed[:3], "text", *signed[4:]],
                [*signed[:4], "-1", *signed[5:]], [*signed[:5], "", signed[6]], [*signed[:5], "zz", signed[6]],
                ["AAAA", *signed[1:]], [*signed[:6], "upload://x.png,upload://y.png"], [*signed[:6], 7]):
        with pytest.raises(MalformedInput):
            A.FileRef.from_signed(bad)
    for name, mime in (("", "text/plain"), ("a/b", "text/plain"), ("ok.txt", "nonsense")):
        with pytest.raises(MalformedInput):
            run(A.seal_file(prims, b"x", name, mime))
    with pytest.raises(MalformedInput):
        run(A.carrier_png(prims, b"", 0, 1))
    with pytest.raises(MalformedInput):
        run(A.carrier_png(prims, b"x", 1, 1))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_the_carrier_reader_on_altered_input(prims, small, data):
    _, parts, png = small
    i = data.draw(st.integers(0, len(png) - 1))
    how = data.draw(st.sampled_from(["flip", "cut", "insert"]))
    if how == "flip":
        text = png[:i] + bytes([png[i] ^ data.draw(st.integers(1, 255))]) + png[i + 1:]
    elif how == "cut":
        text = png[:i]
    else:
        text = png[:i] + data.draw(st.binary(min_size=1, max_size=8)) + png[i:]
    try:
        got = run(A.read_carrier(prims, text))
    except PycoreError:
        return
    assert got == (0, 1, parts[0])


@settings(max_examples=200, deadline=None)
@given(blob=st.binary(max_size=400))
def test_the_carrier_reader_on_random_pngs(prims, blob):
    for data in (blob, A._PNG_SIGNATURE + blob,
                 A._PNG_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", A.CARRIER_WIDTH, 4, 1, 0, 0, 0, 0))
                 + _chunk(b"IDAT", zlib.compress(blob)) + _chunk(b"IEND", b"")):
        try:
            run(A.read_carrier(prims, data))
        except PycoreError:
            continue
        raise AssertionError("random bytes read as a carrier")

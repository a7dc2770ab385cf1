"""Encrypted attachments: a file sealed under its own key, carried in lossless images (PROTOCOL §11).

`seal_file` encrypts a file with a fresh AES-256-GCM key and cuts the ciphertext into parts;
`carrier_png` packs one part into a greyscale PNG of bit depth 1, the one image a default
Discourse neither converts to JPEG (a JPEG of such pixels is larger, so `convert_to_jpeg!` never
keeps it) nor changes in pixel values (its lossless recompression may rewrite the bytes).
`read_carrier` reads a part back from whatever lossless PNG the forum stored — any colour type,
bit depth or filter — by its pixel values alone, and checks it against the hash in its header.
`open_file` joins the parts and decrypts. The file's key, name, type, size, the parts' hashes and
the carriers' upload addresses travel in the signed, encrypted post (`FileRef.to_signed`); the
forum sees only the carriers, and the post's plain links to them (`carrier_links`), which keep
Discourse from deleting them as unused uploads.

Errors: MalformedInput for anything that is not a carrier or a file reference we made,
AuthenticationFailed when the parts do not decrypt with the reference's key.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field

from ..errors import AuthenticationFailed, MalformedInput
from ..plugin import b64

PART_BYTES = 1 << 20            # ciphertext per carrier: far below 4096 KB and 40 megapixels
MIN_PART_BYTES = 16 << 10       # a forum whose image limit leaves less than this gets no attachments
MAX_PARTS = 16                  # carriers per file: with 1 MiB parts, files up to 16 MiB
MAX_FILES = 10                  # files per post
CARRIER_FILENAME = "encrypted.png"   # the name the forum stores each carrier under (never the file's own)
# Discourse's short url of an upload: upload://<base62 of the SHA-1 of the stored file>.<extension>
SHORT_URL = re.compile(r"upload://[A-Za-z0-9]{1,40}\.png")
CARRIER_WIDTH = 2048            # pixels; one bit each
_MAGIC = b"EFDA"
_VERSION = 1
# magic, version, part index, part count, part length, SHA-256 of the part
_HEADER = struct.Struct(">4sBHHI32s")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IV = 12
MAX_CARRIER_PIXELS = 40_000_000     # Discourse's default max_image_megapixels
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


@dataclass
class FileRef:
    """What a reader needs to get a file back, sealed inside the post: the file's key and IV, its
    name, media type and size, the SHA-256 of each carrier part in order, and where each carrier
    is stored (Discourse short urls; empty until uploaded)."""
    key_raw: bytes
    iv: bytes
    name: str
    mime: str
    size: int
    parts: list
    carriers: list = field(default_factory=list)

    def to_signed(self) -> list:
        """The v1-serialisable form (arrays of strings only, like `participants`)."""
        return [b64.encode(self.key_raw), b64.encode(self.iv), self.name, self.mime, str(self.size),
                ",".join(h.hex() for h in self.parts), ",".join(self.carriers)]

    def uploaded_to(self, carriers) -> "FileRef":
        """This reference with the carriers' short urls, one per part in order. Raises MalformedInput."""
        carriers = list(carriers or [])
        if len(carriers) != len(self.parts) or not all(isinstance(c, str) and SHORT_URL.fullmatch(c) for c in carriers):
            raise MalformedInput(f"attachment: {len(self.parts)} carrier addresses (upload://….png) expected")
        return FileRef(self.key_raw, self.iv, self.name, self.mime, self.size, list(self.parts), carriers)

    @classmethod
    def from_signed(cls, item, *, uploaded: bool = True) -> "FileRef":
        """The reference from its signed form. `uploaded`: its carriers must be named (a post's);
        False accepts a reference not uploaded yet (a composer's). Raises MalformedInput."""
        if not (isinstance(item, list) and len(item) == 7 and all(isinstance(x, str) for x in item)):
            raise MalformedInput("attachment: malformed file reference")
        key_raw, iv = b64.decode(item[0], what="file key"), b64.decode(item[1], what="file IV")
        if len(key_raw) != 32 or len(iv) != _IV:
            raise MalformedInput("attachment: the file key or IV has the wrong length")
        if not item[4].isdigit() or len(item[4]) > 12:
            raise MalformedInput("attachment: malformed file size")
        hashes = item[5].split(",") if item[5] else []
        if not 1 <= len(hashes) <= MAX_PARTS or not all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes):
            raise MalformedInput("attachment: malformed part hashes")
        ref = cls(key_raw, iv, _check_name(item[2]), _check_mime(item[3]), int(item[4]),
                  [bytes.fromhex(h) for h in hashes])
        if item[6] or uploaded:
            ref = ref.uploaded_to(item[6].split(",") if item[6] else [])
        return ref


def files_of(obj: dict) -> list:
    """The FileRefs of a signed post object (its `files` member; none when absent). Raises
    MalformedInput."""
    items = obj.get("files", [])
    if not isinstance(items, list) or len(items) > MAX_FILES:
        raise MalformedInput(f"attachment: a post carries at most {MAX_FILES} files")
    return [FileRef.from_signed(item) for item in items]


def carrier_links(refs) -> str:
    """The plain lines a post with files ends with: a link to each carrier. Discourse deletes an
    upload no post links to (clean_orphan_uploads_grace_period_hours); the links say nothing
    the forum does not know (it stores the carriers)."""
    links = [f"[{CARRIER_FILENAME}]({c})" for ref in refs for c in ref.carriers]
    return "\n\n" + "\n".join(links) if links else ""


def part_bytes_for(max_image_size_kb) -> int:
    """The ciphertext per carrier on a forum whose images are limited to `max_image_size_kb`
    (Discourse shrinks, and so destroys, an image of that size or more): PART_BYTES at most,
    with room for the PNG's rows and chunks. Raises MalformedInput when the limit leaves less
    than MIN_PART_BYTES."""
    if max_image_size_kb is None:
        return PART_BYTES
    if isinstance(max_image_size_kb, bool) or not isinstance(max_image_size_kb, int) or max_image_size_kb <= 0:
        raise MalformedInput("attachment: the forum's image size limit must be a positive number of kB")
    room = (max_image_size_kb * 1024 - 4096) * 255 // 256 - _HEADER.size
    if room < MIN_PART_BYTES:
        raise MalformedInput(f"attachment: this forum's images are limited to {max_image_size_kb} kB, "
                             "too little to carry encrypted files")
    return min(PART_BYTES, room)


def max_file_bytes(part_bytes: int = PART_BYTES) -> int:
    """The largest file sealed into parts of `part_bytes` (the GCM tag takes 16 bytes)."""
    return part_bytes * MAX_PARTS - 16


def _check_name(name) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 255 or any(c in name for c in "/\\\0"):
        raise MalformedInput("attachment: a file name is 1-255 characters, without path separators")
    return name


def _check_mime(mime) -> str:
    if not isinstance(mime, str) or not _MIME.fullmatch(mime):
        raise MalformedInput("attachment: malformed media type")
    return mime


async def seal_file(prims, data: bytes, name: str, mime: str, part_bytes: int = PART_BYTES) -> tuple[FileRef, list]:
    """(reference, [ciphertext part, …]): `data` under a fresh key, cut into parts of at most
    `part_bytes` (see part_bytes_for). Raises MalformedInput for a bad name or type, or a file
    that needs more than MAX_PARTS carriers."""
    data = bytes(data)
    _check_name(name)
    _check_mime(mime)
    if not MIN_PART_BYTES <= part_bytes <= PART_BYTES:
        raise MalformedInput("attachment: bad part size")
    if len(data) > max_file_bytes(part_bytes):
        raise MalformedInput(f"attachment: files are limited to {max_file_bytes(part_bytes)} bytes")
    key_raw, iv = prims.random_bytes(32), prims.random_bytes(_IV)
    key = await prims.aes_import(key_raw, False)
    ct = await prims.aes_gcm_encrypt(key, iv, data)
    parts = [ct[i:i + part_bytes] for i in range(0, len(ct), part_bytes)]
    return FileRef(key_raw, iv, name, mime, len(data), [await prims.sha256(p) for p in parts]), parts


async def open_file(prims, ref: FileRef, parts: list) -> bytes:
    """The file, from its parts in order (each checked against the reference). Raises
    MalformedInput for a missing, extra or swapped part, AuthenticationFailed when the parts
    do not decrypt under the reference's key."""
    if len(parts) != len(ref.parts):
        raise MalformedInput(f"attachment: {len(ref.parts)} parts expected, {len(parts)} given")
    for i, (part, want) in enumerate(zip(parts, ref.parts)):
        if await prims.sha256(bytes(part)) != want:
            raise MalformedInput(f"attachment: part {i + 1} is not the one the post names")
    key = await prims.aes_import(ref.key_raw, False)
    data = await prims.aes_gcm_decrypt(key, ref.iv, b"".join(bytes(p) for p in parts))
    if len(data) != ref.size:
        raise AuthenticationFailed("attachment: the file has another size than the post says")
    return data


# ------------------------------------------------------------------------------ the carrier
def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


async def carrier_png(prims, part: bytes, index: int, count: int) -> bytes:
    """A greyscale PNG of bit depth 1, CARRIER_WIDTH pixels wide, holding the header and `part`
    (random bits fill the last row). Non-interlaced, filter 0, no ancillary chunk."""
    part = bytes(part)
    if not 0 <= index < count <= MAX_PARTS or not 0 < len(part) <= PART_BYTES:
        raise MalformedInput("attachment: bad carrier part")
    payload = _HEADER.pack(_MAGIC, _VERSION, index, count, len(part), await prims.sha256(part)) + part
    row = CARRIER_WIDTH // 8
    height = -(-len(payload) // row)
    payload += prims.random_bytes(height * row - len(payload))
    raw = b"".join(b"\0" + payload[y * row:(y + 1) * row] for y in range(height))
    ihdr = struct.pack(">IIBBBBB", CARRIER_WIDTH, height, 1, 0, 0, 0, 0)
    return _PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}      # colour type -> samples per pixel
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


def _chunks(data: bytes):
    if not data.startswith(_PNG_SIGNATURE):
        raise MalformedInput("attachment: not a PNG")
    at = len(_PNG_SIGNATURE)
    while at + 12 <= len(data):
        (n,), kind = struct.unpack(">I", data[at:at + 4]), data[at + 4:at + 8]
        body = data[at + 8:at + 8 + n]
        if len(body) != n or at + 12 + n > len(data):
            raise MalformedInput("attachment: truncated PNG chunk")
        if struct.unpack(">I", data[at + 8 + n:at + 12 + n])[0] != zlib.crc32(kind + body) & 0xFFFFFFFF:
            raise MalformedInput("attachment: damaged PNG chunk")
        yield kind, body
        if kind == b"IEND":
            return
        at += 12 + n
    raise MalformedInput("attachment: the PNG has no end")


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _unfilter(data: bytes, height: int, stride: int, bpp: int) -> list:
    if len(data) < height * (stride + 1):
        raise MalformedInput("attachment: the PNG holds fewer rows than it says")
    rows, prev = [], bytes(stride)
    for y in range(height):
        f, line = data[y * (stride + 1)], bytearray(data[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif f == 2:
            line = bytearray((x + p) & 0xFF for x, p in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 0xFF
        elif f == 4:
            for i in range(stride):
                line[i] = (line[i] + _paeth(line[i - bpp] if i >= bpp else 0, prev[i],
                                            prev[i - bpp] if i >= bpp else 0)) & 0xFF
        elif f != 0:
            raise MalformedInput(f"attachment: unknown PNG filter {f}")
        rows.append(bytes(line))
        prev = rows[-1]
    return rows


def _bits_of_row(row: bytes, width: int, colour: int, depth: int, palette: list) -> list:
    """One bit per pixel: whether its luminance is in the upper half of the range."""
    samples = []
    if depth < 8:
        mask = (1 << depth) - 1
        for byte in row:
            samples.extend((byte >> (8 - depth - k)) & mask for k in range(0, 8, depth))
    elif depth == 8:
        samples = list(row)
    else:
        samples = [row[i] << 8 | row[i + 1] for i in range(0, len(row) - 1, 2)]
    top = (1 << depth) - 1
    n = _CHANNELS[colour]
    out = []
    for x in range(width):
        px = samples[x * n:(x + 1) * n]
        if colour == 3:
            if px[0] >= len(palette):
                raise MalformedInput("attachment: a pixel names a colour the palette lacks")
            r, g, b = palette[px[0]]
            value, full = (r + g + b) / 3, 255
        elif colour in (2, 6):
            value, full = sum(px[:3]) / 3, top
        else:
            value, full = px[0], top
        out.append(1 if value * 2 > full else 0)
    return out


async def read_carrier(prims, png: bytes) -> tuple[int, int, bytes]:
    """(part index, part count, part) from a carrier as the forum serves it: any non-interlaced
    PNG whose pixels are the carrier's. Raises MalformedInput when it is not one, or when its
    pixels were changed (the part no longer matches its header's hash)."""
    header = palette = None
    idat = []
    for kind, body in _chunks(bytes(png)):
        if kind == b"IHDR":
            if len(body) != 13:
                raise MalformedInput("attachment: malformed PNG header")
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = [tuple(body[i:i + 3]) for i in range(0, len(body) - 2, 3)]
        elif kind == b"IDAT":
            idat.append(body)
    if header is None or not idat:
        raise MalformedInput("attachment: the PNG has no header or no pixels")
    width, height, depth, colour, _comp, _filt, interlace = header
    if colour not in _DEPTHS or depth not in _DEPTHS[colour]:
        raise MalformedInput("attachment: unknown PNG colour type or bit depth")
    if interlace:
        raise MalformedInput("attachment: interlaced PNGs are not carriers")
    if width != CARRIER_WIDTH or not 0 < height or width * height > MAX_CARRIER_PIXELS:
        raise MalformedInput("attachment: the image does not have a carrier's size")
    if colour == 3 and not palette:
        raise MalformedInput("attachment: a palette image without its palette")
    bits_per_pixel = depth * _CHANNELS[colour]
    stride, bpp = -(-width * bits_per_pixel // 8), max(1, bits_per_pixel // 8)
    try:
        # one extra byte of room tells a stream that holds more than the image from one that fits
        inflated = zlib.decompressobj().decompress(b"".join(idat), height * (stride + 1) + 1)
    except zlib.error as e:
        raise MalformedInput(f"attachment: the PNG's pixels do not inflate ({e})") from None
    data = bytearray()
    for row in _unfilter(inflated, height, stride, bpp):
        if colour == 0 and depth == 1:
            data += row          # the carrier as written: one bit per pixel already
            continue
        bits = _bits_of_row(row, width, colour, depth, palette or [])
        data.extend(sum(b << (7 - k) for k, b in enumerate(bits[i:i + 8])) for i in range(0, width, 8))
    if len(data) < _HEADER.size:
        raise MalformedInput("attachment: the image holds no carrier header")
    magic, version, index, count, length, digest = _HEADER.unpack_from(data)
    if magic != _MAGIC or version != _VERSION:
        raise MalformedInput("attachment: this image is not a carrier of this version")
    part = bytes(data[_HEADER.size:_HEADER.size + length])
    if not 0 <= index < count <= MAX_PARTS or len(part) != length or await prims.sha256(part) != digest:
        raise MalformedInput("attachment: the carrier's pixels were changed")
    return index, count, part

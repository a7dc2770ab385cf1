"""Encrypted attachments (PROTOCOL §11): sealing a file into carrier images for the composer, and
opening the carriers the forum serves for the viewer. Both are stateless: the file's key travels
in the file reference, which only extension frames and the signed post ever hold.

| type | payload | result |
|---|---|---|
| files.seal | {name, mime, data (base64), max_image_size_kb?} | {ref (signed form, carriers not named yet), carriers: [base64 PNG]} |
| files.open | {ref (signed form), carriers: [base64 PNG, in part order]} | {name, mime, size, data (base64)} |
| files.limits | {max_image_size_kb?} | {possible, max_files, max_file_bytes, part_bytes} |
"""

from __future__ import annotations

import base64
import binascii

from ...errors import BadRequest, MalformedInput
from ...inband import attachments
from .. import args


def _bytes(value, what: str) -> bytes:
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{what} is not valid base64") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(bytes(data)).decode("ascii")


async def limits(engine, payload, context):
    """What a composer may attach on a forum whose images are limited to `max_image_size_kb`
    (absent: Discourse's default): files per post, bytes per file, ciphertext per carrier;
    `possible` false when that limit is too small to carry anything."""
    limit = payload.get("max_image_size_kb")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise BadRequest("max_image_size_kb must be a positive whole number of kB")
    try:
        part = attachments.part_bytes_for(limit)
    except MalformedInput:
        return {"possible": False, "max_files": attachments.MAX_FILES, "max_file_bytes": 0, "part_bytes": 0}
    return {"possible": True, "max_files": attachments.MAX_FILES, "max_file_bytes": attachments.max_file_bytes(part),
            "part_bytes": part}


async def seal(engine, payload, context):
    await engine.require_unlocked()
    name, mime = args.text(payload, "name"), args.text(payload, "mime")
    data = _bytes(payload.get("data"), "data")
    limit = payload.get("max_image_size_kb")
    ref, parts = await attachments.seal_file(engine.prims, data, name, mime, attachments.part_bytes_for(limit))
    carriers = [await attachments.carrier_png(engine.prims, p, i, len(parts)) for i, p in enumerate(parts)]
    return {"ref": ref.to_signed(), "carriers": [_b64(c) for c in carriers]}


async def open_carriers(engine, payload, context):
    """The file of a reference, from its carriers as the forum stored them. Raises MalformedInput
    when a carrier is not one, was changed, or is not the part the reference names;
    AuthenticationFailed when the parts do not decrypt under the reference's key."""
    await engine.require_unlocked()
    ref = attachments.FileRef.from_signed(payload.get("ref"), uploaded=False)
    carriers = payload.get("carriers")
    if not isinstance(carriers, list) or len(carriers) != len(ref.parts):
        raise BadRequest(f"carriers must list the file's {len(ref.parts)} carriers")
    parts = []
    for i, c in enumerate(carriers):
        index, count, part = await attachments.read_carrier(engine.prims, _bytes(c, f"carriers[{i}]"))
        if (index, count) != (i, len(ref.parts)):
            raise MalformedInput(f"attachment: carrier {i + 1} holds part {index + 1} of {count}")
        parts.append(part)
    data = await attachments.open_file(engine.prims, ref, parts)
    return {"name": ref.name, "mime": ref.mime, "size": ref.size, "data": _b64(data)}


def to_send(payload) -> list:
    """The uploaded attachments of a new post: the payload's `files`, [{ref, carriers}], each a
    reference from files.seal and the short urls its carriers got from the forum."""
    items = payload.get("files") or []
    if not isinstance(items, list) or len(items) > attachments.MAX_FILES or not all(isinstance(f, dict) for f in items):
        raise BadRequest(f"files must be a list of at most {attachments.MAX_FILES} {{ref, carriers}}")
    return [attachments.FileRef.from_signed(f.get("ref"), uploaded=False).uploaded_to(f.get("carriers"))
            for f in items]


def described(refs) -> list:
    """What a reader's frame gets of a post's files: name, type and size to show, the carriers'
    short urls to fetch, and the reference (key included) to open them with files.open."""
    return [{"name": r.name, "mime": r.mime, "size": r.size, "carriers": list(r.carriers), "ref": r.to_signed()}
            for r in refs]


HANDLERS = {"files.limits": limits, "files.seal": seal, "files.open": open_carriers}

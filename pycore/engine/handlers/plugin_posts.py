"""Posts written by the discourse-encrypt plugin: decrypting one with the topic key wrapped for us.

| type | payload | result |
|---|---|---|
| post.decrypt | {wrapped_key, ciphertext} | {post} (the decrypted object: {"raw": …} and the plugin's other members) |
"""

from __future__ import annotations

from ...plugin import payload as _payload
from ...plugin import topickey
from .. import args


async def decrypt(engine, payload, context):
    ident = await engine.require_unlocked()
    wrapped, ciphertext = args.text(payload, "wrapped_key"), args.text(payload, "ciphertext")
    key = await topickey.unwrap(engine.prims, wrapped, ident.encrypt_private, extractable=False)
    return {"post": await _payload.decrypt(engine.prims, key, ciphertext)}


HANDLERS = {"post.decrypt": decrypt}

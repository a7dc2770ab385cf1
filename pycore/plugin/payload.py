"""Encrypted payloads: post bodies, titles and drafts under a topic key.

    v1: "1$" + b64(iv[12]) + b64(AES-256-GCM(topic key, iv, UTF-8(v1 JSON serialisation)))
    v0: "0$" + b64(iv[12]) + b64(AES-256-GCM(topic key, iv, UTF-16LE(text)))   (read only)

A post body may be followed by an unauthenticated "\\n[](upload://…),…" suffix that only exists
so the server keeps the uploads; readers ignore everything after the first newline.

Signed v1 objects carry "signature": b64(RSA-PSS-SHA256(salt 32) over the v1 serialisation of
the object without "signature"). Verification re-serialises the decrypted object (jsjson).
"""

import re

from . import b64, jsjson, topickey, versioned
from ..errors import KeyUnusable, MalformedInput, SignatureMissing

IV_LEN = 12
_IV_B64 = 16
SIGN_SALT = 32
LEGACY_SIGN_SALT = 128  # signatures made between June and September 2019
_UPLOAD = re.compile(r"upload://[A-Za-z0-9.]+")


def serialize_v1(obj) -> bytes:
    """The exact bytes the plugin encrypts (and, without "signature", signs)."""
    return jsjson.to_utf8(jsjson.stringify_sorted(obj))


def upload_suffix(raw: str) -> str:
    """The plugin's "extra" suffix for the uploads a post body links to ("" when none)."""
    found = _UPLOAD.findall(raw)
    return "\n" + ",".join(f"[]({m})" for m in found) if found else ""


async def sign(prims, identity, obj: dict) -> dict:
    """A copy of obj with its "signature" member added (the caller's object is left alone)."""
    if not isinstance(obj, dict):
        raise MalformedInput("only JSON objects can be signed")
    if identity is None or getattr(identity, "sign_private", None) is None:
        raise KeyUnusable("signing needs an identity with a signing key (v1)")
    unsigned = {k: v for k, v in obj.items() if k != "signature"}
    signature = await prims.rsa_pss_sign(identity.sign_private, serialize_v1(unsigned), SIGN_SALT)
    return {**unsigned, "signature": b64.encode(signature)}


async def encrypt(prims, key, plaintext, *, sign_with=None, include_uploads: bool = False,
                  iv: bytes | None = None) -> str:
    """v1 ciphertext of a JSON object (posts, titles) or a string (draft titles).
    `iv` is for known-answer tests only."""
    obj = plaintext
    if sign_with is not None:
        obj = await sign(prims, sign_with, plaintext)
    iv = prims.random_bytes(IV_LEN) if iv is None else bytes(iv)
    if len(iv) != IV_LEN:
        raise ValueError("iv must be 12 bytes")
    ct = await prims.aes_gcm_encrypt(key, iv, serialize_v1(obj))
    text = "1$" + b64.encode(iv) + b64.encode(ct)
    if include_uploads and isinstance(obj, dict) and isinstance(obj.get("raw"), str):
        text += upload_suffix(obj["raw"])
    return text


async def encrypt_legacy_v0(prims, key, text: str, *, iv: bytes | None = None) -> str:
    """v0 ciphertext. Never used for new messages; exists to check v0 known answers."""
    iv = prims.random_bytes(IV_LEN) if iv is None else bytes(iv)
    ct = await prims.aes_gcm_encrypt(key, iv, jsjson.encode_utf16le(text))
    return "0$" + b64.encode(iv) + b64.encode(ct)


def split_ciphertext(ciphertext: str) -> tuple[int, bytes, bytes]:
    """(version, iv, ciphertext||tag) of the first line. Raises MalformedInput/UnsupportedVersion."""
    if not isinstance(ciphertext, str):
        raise MalformedInput(f"ciphertext: expected text, got {type(ciphertext).__name__}")
    first_line = ciphertext.split("\n", 1)[0].strip()
    version, body = versioned.split(first_line, what="ciphertext")
    if len(body) < _IV_B64:
        raise MalformedInput("ciphertext: too short to hold an IV")
    iv = b64.decode(body[:_IV_B64], what="ciphertext IV")
    data = b64.decode(body[_IV_B64:], what="ciphertext body")
    if len(iv) != IV_LEN:
        raise MalformedInput("ciphertext: malformed IV")
    return version, iv, data


async def decrypt_bytes(prims, key, ciphertext: str) -> tuple[int, bytes]:
    """(version, plaintext bytes). Raises AuthenticationFailed when altered or under another key."""
    version, iv, data = split_ciphertext(ciphertext)
    return version, await prims.aes_gcm_decrypt(key, iv, data)


async def decrypt(prims, key, ciphertext: str):
    """The decrypted value: for v1 whatever the JSON holds (an object for posts and titles, a
    string for draft titles); for v0 {"raw": text}."""
    version, plaintext = await decrypt_bytes(prims, key, ciphertext)
    if version == 0:
        return {"raw": jsjson.decode_utf16le_whatwg(plaintext)}
    return jsjson.parse_utf8(plaintext, what="decrypted payload")


async def verify(prims, sign_public, obj) -> bool:
    """True when obj's "signature" is a valid RSA-PSS signature by sign_public over the rest of
    obj. Raises SignatureMissing for unsigned objects; any malformed signature is simply False."""
    if not isinstance(obj, dict) or obj.get("signature") in (None, ""):
        raise SignatureMissing("this payload is not signed")
    if sign_public is None:
        raise KeyUnusable("the signer has no signing key (v0 identity)")
    signature = obj["signature"]
    if not isinstance(signature, str):
        return False
    try:
        sig_bytes = b64.decode(signature, what="signature")
    except MalformedInput:
        return False
    message = serialize_v1({k: v for k, v in obj.items() if k != "signature"})
    for salt in (SIGN_SALT, LEGACY_SIGN_SALT):
        if await prims.rsa_pss_verify(sign_public, sig_bytes, message, salt):
            return True
    return False


async def encrypt_title(prims, key, title: str) -> str:
    return await encrypt(prims, key, {"raw": title})


async def decrypt_title(prims, key, ciphertext: str) -> str:
    obj = await decrypt(prims, key, ciphertext)
    if not isinstance(obj, dict) or not isinstance(obj.get("raw"), str):
        raise MalformedInput("encrypted title: no text in it")
    return obj["raw"]


async def make_draft_reply(prims, own_public, reply: str) -> str:
    """The plugin's draft "reply" field: a fresh key, wrapped to the author, then the ciphertext."""
    draft_key = await topickey.generate(prims)
    wrapped = await topickey.wrap(prims, draft_key, own_public)
    body = await encrypt(prims, draft_key, {"raw": reply}, include_uploads=True) if reply else ""
    return wrapped + "\n" + body


async def open_draft_reply(prims, field: str, own_private):
    """The {"raw": …} object of a draft reply field, or None when the draft had no text."""
    if not isinstance(field, str) or "\n" not in field:
        raise MalformedInput("draft reply: expected '<wrapped key>\\n<ciphertext>'")
    wrapped, body = field.split("\n", 1)
    draft_key = await topickey.unwrap(prims, wrapped.strip(), own_private)
    body = body.strip()
    return await decrypt(prims, draft_key, body) if body else None

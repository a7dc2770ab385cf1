"""Topic (conversation) keys: one AES-256-GCM key per encrypted conversation, wrapped for each
participant with RSA-OAEP-SHA256 (512-byte result, 684 base64 characters, no version prefix)."""

from . import b64
from ..errors import MalformedInput

KEY_BYTES = 32


async def generate(prims, *, extractable: bool = True):
    return await prims.aes_import(prims.random_bytes(KEY_BYTES), extractable)


async def from_raw(prims, raw: bytes, *, extractable: bool = True):
    if len(raw) != KEY_BYTES:
        raise MalformedInput(f"topic key: expected {KEY_BYTES} bytes, got {len(raw)}")
    return await prims.aes_import(raw, extractable)


async def from_b64(prims, text: str, *, extractable: bool = True):
    return await from_raw(prims, b64.decode(text, what="topic key"), extractable=extractable)


async def to_raw(prims, key) -> bytes:
    return await prims.aes_export(key)


async def wrap(prims, key, public) -> str:
    """The topic key encrypted for one participant's encryptPublic key."""
    return b64.encode(await prims.rsa_oaep_encrypt(public, await prims.aes_export(key)))


async def unwrap(prims, wrapped: str, private, *, extractable: bool = True):
    """Raises WrongKey when the wrapped key is not for this private key (or was altered)."""
    data = b64.decode(wrapped.strip() if isinstance(wrapped, str) else wrapped, what="wrapped topic key")
    raw = await prims.rsa_oaep_decrypt(private, data)
    if len(raw) != KEY_BYTES:
        raise MalformedInput(f"wrapped topic key: holds {len(raw)} bytes, not {KEY_BYTES}")
    return await prims.aes_import(raw, extractable)

"""The one passphrase-to-key derivation every passphrase-protected record in pycore uses.

PBKDF2-HMAC-SHA256 stretches the passphrase (or paper key) into 32 bytes, imported at once as a
non-extractable AES-256-GCM key. The plugin's identity exports, our key backups and the engine's
identity at rest differ only in the password bytes, the salt and the cost they pass in.
"""


async def passphrase_key(prims, password: bytes, salt: bytes, iterations: int):
    """An AES-256-GCM key handle (never extractable) derived from `password`."""
    raw = await prims.pbkdf2_sha256(bytes(password), bytes(salt), int(iterations), 32)
    return await prims.aes_import(raw, extractable=False)

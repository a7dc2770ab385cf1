"""The primitives interface. Both backends follow these contracts exactly."""

from typing import Any, Protocol

from ..errors import AuthenticationFailed

# "oaep": RSA-OAEP with SHA-256 and MGF1-SHA-256 (encrypt/decrypt, wrap topic keys).
# "pss":  RSA-PSS with SHA-256 and MGF1-SHA-256 (sign/verify).
RSA_KINDS = ("oaep", "pss")

# The JWK "alg" each kind carries, as WebCrypto exports it.
JWK_ALG = {"oaep": "RSA-OAEP-256", "pss": "PS256"}
JWK_OPS = {
    ("oaep", False): ["encrypt", "wrapKey"],
    ("oaep", True): ["decrypt", "unwrapKey"],
    ("pss", False): ["verify"],
    ("pss", True): ["sign"],
}
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")

# Sizes we accept when importing someone else's RSA key. We generate 4096-bit keys; the plugin's
# own test data has 2048-bit legacy keys. Smaller keys are refused as unsafe; larger ones as
# a cheap denial-of-service vector.
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 16384

KeyHandle = Any


class Primitives(Protocol):
    name: str

    def random_bytes(self, n: int) -> bytes: ...

    async def sha256(self, data: bytes) -> bytes: ...

    async def pbkdf2_sha256(self, password: bytes, salt: bytes, iterations: int, length: int) -> bytes: ...

    async def aes_import(self, raw: bytes, extractable: bool = True) -> KeyHandle: ...

    async def aes_export(self, key: KeyHandle) -> bytes: ...

    async def aes_gcm_encrypt(self, key: KeyHandle, iv: bytes, data: bytes) -> bytes:
        """Returns ciphertext || 16-byte tag, as WebCrypto does."""

    async def aes_gcm_decrypt(self, key: KeyHandle, iv: bytes, data: bytes) -> bytes:
        """Raises errors.AuthenticationFailed when the tag does not verify."""

    async def rsa_generate(self, kind: str, bits: int = 4096, extractable: bool = True) -> tuple[KeyHandle, KeyHandle]:
        """Returns (private, public)."""

    async def rsa_import_jwk(self, jwk: dict, kind: str, extractable: bool = True) -> KeyHandle:
        """Imports a public or private RSA JWK (private when it has "d"). Raises MalformedInput."""

    async def rsa_export_jwk(self, key: KeyHandle) -> dict:
        """Chrome-like JWK: members in alphabetical order. Raises KeyUnusable if not extractable."""

    async def rsa_oaep_encrypt(self, public: KeyHandle, data: bytes) -> bytes: ...

    async def rsa_oaep_decrypt(self, private: KeyHandle, data: bytes) -> bytes:
        """Raises errors.WrongKey when the ciphertext does not decrypt under this key."""

    async def rsa_pss_sign(self, private: KeyHandle, data: bytes, salt_length: int = 32) -> bytes: ...

    async def rsa_pss_verify(self, public: KeyHandle, signature: bytes, data: bytes, salt_length: int = 32) -> bool: ...

    # Many operations at once (a topic's posts): the same results as one call per item, in order.
    async def aes_gcm_decrypt_many(self, items: list) -> list:
        """items: [(key, iv, data)] -> [plaintext, or None where the tag does not verify]."""

    async def rsa_pss_verify_many(self, items: list, salt_length: int = 32) -> list:
        """items: [(public, signature, data)] -> [bool]."""


async def decrypt_each(prims, items: list) -> list:
    """aes_gcm_decrypt_many by one aes_gcm_decrypt per item (backends with nothing faster)."""
    out = []
    for key, iv, data in items:
        try:
            out.append(await prims.aes_gcm_decrypt(key, iv, data))
        except AuthenticationFailed:
            out.append(None)
    return out


async def verify_each(prims, items: list, salt_length: int = 32) -> list:
    """rsa_pss_verify_many by one rsa_pss_verify per item."""
    return [await prims.rsa_pss_verify(public, sig, data, salt_length) for public, sig, data in items]

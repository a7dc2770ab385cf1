"""Primitives backed by the `cryptography` package (CPython)."""

import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from ..errors import AuthenticationFailed, KeyUnusable, MalformedInput, WrongKey
from .base import decrypt_each, verify_each
from .jwk import check_rsa_jwk, make_jwk


class _AesKey:
    __slots__ = ("raw", "extractable")

    def __init__(self, raw: bytes, extractable: bool):
        self.raw = raw
        self.extractable = extractable

    def __repr__(self):
        return "<AES-256-GCM key>"


class _RsaKey:
    """A `cryptography` RSA key with the facts WebCrypto keeps on a CryptoKey."""

    __slots__ = ("key", "kind", "private", "extractable")

    def __init__(self, key, kind: str, private: bool, extractable: bool):
        self.key, self.kind, self.private, self.extractable = key, kind, private, extractable

    def __repr__(self):
        return f"<RSA {self.kind} {'private' if self.private else 'public'} key>"


def _oaep():
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _pss(salt_length: int):
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt_length)


def _need(key, kind: str, private: bool):
    if not isinstance(key, _RsaKey) or key.kind != kind or key.private != private:
        raise KeyUnusable(f"expected an RSA {kind} {'private' if private else 'public'} key")
    return key.key


def _aes(key) -> AESGCM:
    if not isinstance(key, _AesKey):
        raise KeyUnusable("expected an AES-GCM key")
    return AESGCM(key.raw)


class CryptographyPrimitives:
    name = "cpython"

    def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)

    async def sha256(self, data: bytes) -> bytes:
        h = hashes.Hash(hashes.SHA256())
        h.update(bytes(data))
        return h.finalize()

    async def pbkdf2_sha256(self, password: bytes, salt: bytes, iterations: int, length: int) -> bytes:
        return PBKDF2HMAC(hashes.SHA256(), length=length, salt=bytes(salt), iterations=iterations).derive(bytes(password))

    async def aes_import(self, raw: bytes, extractable: bool = True):
        raw = bytes(raw)
        if len(raw) != 32:
            raise MalformedInput(f"AES-256 key: expected 32 bytes, got {len(raw)}")
        return _AesKey(raw, extractable)

    async def aes_export(self, key) -> bytes:
        if not isinstance(key, _AesKey) or not key.extractable:
            raise KeyUnusable("this AES key is not extractable")
        return key.raw

    async def aes_gcm_encrypt(self, key, iv: bytes, data: bytes) -> bytes:
        return _aes(key).encrypt(bytes(iv), bytes(data), None)

    async def aes_gcm_decrypt(self, key, iv: bytes, data: bytes) -> bytes:
        aes = _aes(key)
        if len(data) < 16:
            raise AuthenticationFailed("AES-GCM: ciphertext shorter than its 16-byte tag")
        try:
            return aes.decrypt(bytes(iv), bytes(data), None)
        except InvalidTag:
            raise AuthenticationFailed("AES-GCM authentication failed: altered ciphertext or wrong key") from None

    async def aes_gcm_decrypt_many(self, items: list) -> list:
        return await decrypt_each(self, items)

    async def rsa_generate(self, kind: str, bits: int = 4096, extractable: bool = True):
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        return _RsaKey(key, kind, True, extractable), _RsaKey(key.public_key(), kind, False, True)

    async def rsa_import_jwk(self, jwk: dict, kind: str, extractable: bool = True):
        numbers, private = check_rsa_jwk(jwk, kind)
        public = rsa.RSAPublicNumbers(numbers["e"], numbers["n"])
        try:
            if not private:
                return _RsaKey(public.public_key(), kind, False, True)
            key = rsa.RSAPrivateNumbers(
                p=numbers["p"], q=numbers["q"], d=numbers["d"], dmp1=numbers["dp"],
                dmq1=numbers["dq"], iqmp=numbers["qi"], public_numbers=public,
            ).private_key()
        except ValueError as exc:
            raise MalformedInput(f"RSA JWK: inconsistent key ({exc})") from None
        return _RsaKey(key, kind, True, extractable)

    async def rsa_export_jwk(self, key) -> dict:
        if not isinstance(key, _RsaKey):
            raise KeyUnusable("expected an RSA key")
        if not key.extractable:
            raise KeyUnusable("this private key is not extractable")
        if key.private:
            pn = key.key.private_numbers()
            numbers = {"n": pn.public_numbers.n, "e": pn.public_numbers.e, "d": pn.d, "p": pn.p,
                       "q": pn.q, "dp": pn.dmp1, "dq": pn.dmq1, "qi": pn.iqmp}
        else:
            pub = key.key.public_numbers()
            numbers = {"n": pub.n, "e": pub.e}
        return make_jwk(key.kind, numbers, key.private)

    async def rsa_oaep_encrypt(self, public, data: bytes) -> bytes:
        return _need(public, "oaep", False).encrypt(bytes(data), _oaep())

    async def rsa_oaep_decrypt(self, private, data: bytes) -> bytes:
        key = _need(private, "oaep", True)
        try:
            return key.decrypt(bytes(data), _oaep())
        except ValueError:
            raise WrongKey("RSA-OAEP decryption failed: not encrypted for this key, or damaged") from None

    async def rsa_pss_sign(self, private, data: bytes, salt_length: int = 32) -> bytes:
        return _need(private, "pss", True).sign(bytes(data), _pss(salt_length), hashes.SHA256())

    async def rsa_pss_verify(self, public, signature: bytes, data: bytes, salt_length: int = 32) -> bool:
        key = _need(public, "pss", False)
        try:
            key.verify(bytes(signature), bytes(data), _pss(salt_length), hashes.SHA256())
            return True
        except (InvalidSignature, ValueError):
            return False

    async def rsa_pss_verify_many(self, items: list, salt_length: int = 32) -> list:
        return await verify_each(self, items, salt_length)

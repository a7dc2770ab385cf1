"""User identities: the key pairs of a discourse-encrypt user, and their text exports.

v1 (current): RSA-OAEP-4096 "encrypt" pair + RSA-PSS-4096 "sign" pair, JSON of JWKs in UTF-8.
v0 (legacy, read and re-export only): one RSA-OAEP pair, JSON of JWKs in UTF-16LE.
Byte layouts: the plugin format spec (discourse-encrypt-formats.md) section 2; a summary per function.
"""

from dataclasses import dataclass, field
from typing import Any

from . import b64, jsjson, versioned
from ..errors import KeyUnusable, MalformedInput, PycoreError, WrongPassphrase
from ..primitives.base import JWK_ALG
from ..primitives.kdf import passphrase_key

PLUGIN_KDF_ITERATIONS = 128_000
SALT_LEN = 16
IV_LEN = 12
_SALT_B64 = 24  # 16 bytes always encode to 24 characters ending in "=="
_IV_B64 = 16  # 12 bytes always encode to 16 characters

# JSON member name -> (Identity attribute, RSA kind, private?)
_MEMBERS = {
    "encryptPublic": ("encrypt_public", "oaep", False),
    "encryptPrivate": ("encrypt_private", "oaep", True),
    "signPublic": ("sign_public", "pss", False),
    "signPrivate": ("sign_private", "pss", True),
}


@dataclass
class Identity:
    """Key handles of one user. `jwks` keeps the JWKs as they were imported (member order included)
    so that re-exporting an imported identity reproduces the original bytes."""

    version: int
    encrypt_public: Any
    encrypt_private: Any = None
    sign_public: Any = None
    sign_private: Any = None
    jwks: dict = field(default_factory=dict, repr=False)

    @property
    def has_private(self) -> bool:
        return self.encrypt_private is not None

    @property
    def can_sign(self) -> bool:
        return self.sign_private is not None

    def public_only(self) -> "Identity":
        jwks = {k: v for k, v in self.jwks.items() if k in ("encryptPublic", "signPublic")}
        return Identity(self.version, self.encrypt_public, None, self.sign_public, None, jwks)


async def generate(prims, *, extractable: bool = True, bits: int = 4096) -> Identity:
    """A new v1 identity. With extractable=False the private keys can never leave the engine."""
    enc_priv, enc_pub = await prims.rsa_generate("oaep", bits, extractable)
    sig_priv, sig_pub = await prims.rsa_generate("pss", bits, extractable)
    return Identity(1, enc_pub, enc_priv, sig_pub, sig_priv)


async def _jwk(prims, ident: Identity, member: str) -> dict:
    if member in ident.jwks:
        return ident.jwks[member]
    handle = getattr(ident, _MEMBERS[member][0])
    if handle is None:
        raise KeyUnusable(f"this identity has no {member} key")
    jwk = await prims.rsa_export_jwk(handle)
    ident.jwks[member] = jwk
    return jwk


def _members_for(ident: Identity, private: bool) -> list[str]:
    names = ["encryptPublic", "encryptPrivate", "signPublic", "signPrivate"]
    if ident.version == 0:
        names = ["encryptPublic", "encryptPrivate"]
    if not private:
        names = [n for n in names if not _MEMBERS[n][2]]
    return names


def _v0_blob(jwk: dict) -> str:
    # v0's J(): JSON of one JWK, as UTF-16LE code units, in base64.
    return b64.encode(jsjson.encode_utf16le(jsjson.stringify(jwk)))


def _check_passphrase(passphrase) -> None:
    if not isinstance(passphrase, str):
        raise MalformedInput("passphrase must be text")
    if passphrase == "":
        raise MalformedInput("an empty passphrase would leave the keys unprotected; pass None to export unprotected")


async def export_public(prims, ident: Identity) -> str:
    """The public identity string the plugin stores on the server ("1$…" or "0$…")."""
    if ident.version == 0:
        return "0$" + _v0_blob(await _jwk(prims, ident, "encryptPublic"))
    obj = {name: await _jwk(prims, ident, name) for name in _members_for(ident, private=False)}
    return "1$" + b64.encode(jsjson.to_utf8(jsjson.stringify(obj)))


async def export_private(prims, ident: Identity, passphrase: str | None = None, *,
                         iterations: int = PLUGIN_KDF_ITERATIONS, salt: bytes | None = None,
                         iv: bytes | None = None) -> str:
    """The private identity string: unprotected when passphrase is None, else protected with
    PBKDF2-SHA256(passphrase, salt, iterations) + AES-256-GCM. `salt`/`iv` exist for known-answer
    tests only; leave them None."""
    if not ident.has_private:
        raise KeyUnusable("this identity has no private keys to export")
    if passphrase is not None:
        _check_passphrase(passphrase)
    salt = prims.random_bytes(SALT_LEN) if salt is None else bytes(salt)
    iv = prims.random_bytes(IV_LEN) if iv is None else bytes(iv)
    if len(salt) != SALT_LEN or len(iv) != IV_LEN:
        raise ValueError("salt must be 16 bytes and iv 12 bytes")

    if ident.version == 0:
        public = _v0_blob(await _jwk(prims, ident, "encryptPublic"))
        private_jwk = await _jwk(prims, ident, "encryptPrivate")
        if passphrase is None:
            return "0$" + public + "$" + _v0_blob(private_jwk)
        key = await passphrase_key(prims, jsjson.encode_utf16le(passphrase), salt, iterations)
        # WebCrypto wrapKey("jwk") serialises the JWK as UTF-8 JSON (unlike the rest of v0).
        wrapped = await prims.aes_gcm_encrypt(key, iv, jsjson.to_utf8(jsjson.stringify(private_jwk)))
        return "0$" + public + "$" + b64.encode(iv) + b64.encode(wrapped) + "$" + b64.encode(salt)

    obj = {name: await _jwk(prims, ident, name) for name in _members_for(ident, private=True)}
    inner = jsjson.to_utf8(jsjson.stringify(obj))
    if passphrase is None:
        return "1$" + b64.encode(inner)
    key = await passphrase_key(prims, passphrase.encode("utf-8", "surrogatepass"), salt, iterations)
    ct = await prims.aes_gcm_encrypt(key, iv, inner)
    return "1$" + b64.encode(salt) + b64.encode(iv) + b64.encode(ct)


async def _open(prims, password: bytes, salt: bytes, iv: bytes, ct: bytes, iterations: int, what: str) -> bytes:
    key = await passphrase_key(prims, password, salt, iterations)
    try:
        return await prims.aes_gcm_decrypt(key, iv, ct)
    except PycoreError:
        raise WrongPassphrase(f"{what}: wrong passphrase (or the text was altered)") from None


async def import_identity(prims, text: str, passphrase: str | None = None, *,
                          iterations: int = PLUGIN_KDF_ITERATIONS, extractable: bool = True) -> Identity:
    """Reads any identity string the plugin writes: v0/v1, public or private, protected or not.
    An empty passphrase means "none", as in the plugin. Raises only pycore errors."""
    if passphrase is not None and not isinstance(passphrase, str):
        raise MalformedInput("passphrase must be text")
    if passphrase == "":
        passphrase = None
    version, body = versioned.split(text, what="identity")
    if version == 0:
        return await _import_v0(prims, body, passphrase, iterations, extractable)
    return await _import_v1(prims, body, passphrase, iterations, extractable)


def _looks_protected_v1(body: str) -> bool:
    return len(body) > _SALT_B64 + _IV_B64 and body[_SALT_B64 - 2:_SALT_B64] == "=="


async def _import_v1(prims, body: str, passphrase, iterations, extractable) -> Identity:
    if passphrase is None:
        if _looks_protected_v1(body):
            raise WrongPassphrase("identity: this identity is protected; a passphrase is needed")
        inner = b64.decode(body, what="identity")
    else:
        if not _looks_protected_v1(body):
            raise MalformedInput("identity: not passphrase-protected; import it without a passphrase")
        salt = b64.decode(body[:_SALT_B64], what="identity salt")
        iv = b64.decode(body[_SALT_B64:_SALT_B64 + _IV_B64], what="identity IV")
        ct = b64.decode(body[_SALT_B64 + _IV_B64:], what="identity ciphertext")
        inner = await _open(prims, passphrase.encode("utf-8", "surrogatepass"), salt, iv, ct, iterations, "identity")
    obj = jsjson.parse_utf8(inner, what="identity")
    return await _from_members(prims, 1, obj, extractable)


async def _import_v0(prims, body: str, passphrase, iterations, extractable) -> Identity:
    fields = body.split("$")
    if len(fields) > 3:
        raise MalformedInput(f"identity: a v0 identity has 1 to 3 '$'-separated fields, not {len(fields)}")
    if passphrase is not None and len(fields) != 3:
        raise MalformedInput("identity: not passphrase-protected; import it without a passphrase")
    public = _v0_jwk(fields[0], "identity public key")
    obj = {"encryptPublic": public}
    if len(fields) == 3:
        if passphrase is None:
            raise WrongPassphrase("identity: this identity is protected; a passphrase is needed")
        iv = b64.decode(fields[1][:_IV_B64], what="identity IV")
        wrapped = b64.decode(fields[1][_IV_B64:], what="identity wrapped key")
        salt = b64.decode(fields[2], what="identity salt")
        if len(iv) != IV_LEN or not salt:
            raise MalformedInput("identity: malformed v0 protected key")
        inner = await _open(prims, jsjson.encode_utf16le(passphrase), salt, iv, wrapped, iterations, "identity")
        obj["encryptPrivate"] = jsjson.parse_utf8(inner, what="identity private key")
    elif len(fields) == 2:
        obj["encryptPrivate"] = _v0_jwk(fields[1], "identity private key")
    return await _from_members(prims, 0, obj, extractable)


def _v0_jwk(blob: str, what: str):
    return jsjson.parse(jsjson.decode_utf16le_whatwg(b64.decode(blob, what=what)), what=what)


async def _from_members(prims, version: int, obj, extractable: bool) -> Identity:
    if not isinstance(obj, dict):
        raise MalformedInput("identity: expected a JSON object of keys")
    if "encryptPublic" not in obj:
        raise MalformedInput("identity: no encryptPublic key")
    ident = Identity(version, None)
    for name, (attr, kind, private) in _MEMBERS.items():
        if name not in obj:
            continue
        jwk = obj[name]
        if not isinstance(jwk, dict):
            raise MalformedInput(f"identity: {name} is not a JSON object")
        if private != ("d" in jwk):
            raise MalformedInput(f"identity: {name} is {'not ' if private else ''}a private key")
        if jwk.get("alg") not in (None, JWK_ALG[kind]):
            raise MalformedInput(f"identity: {name} has alg {jwk.get('alg')!r}, expected {JWK_ALG[kind]!r}")
        setattr(ident, attr, await prims.rsa_import_jwk(jwk, kind, extractable))
        ident.jwks[name] = jwk
    for pub, priv in (("encryptPublic", "encryptPrivate"), ("signPublic", "signPrivate")):
        if priv in obj and (pub not in obj or obj[pub].get("n") != obj[priv].get("n") or obj[pub].get("e") != obj[priv].get("e")):
            raise MalformedInput(f"identity: {priv} does not belong to {pub}")
    return ident


async def fingerprint(prims, ident: Identity) -> bytes:
    """SHA-256 over a canonical form of the public keys (modulus and exponent only), so the same
    keys give the same fingerprint whatever JWK member order or extra members an export used."""
    canon = {}
    for name in ("encryptPublic", "signPublic"):
        if getattr(ident, _MEMBERS[name][0]) is None:
            continue
        jwk = await _jwk(prims, ident, name)
        n = b64.decode_url(jwk["n"], what="modulus").lstrip(b"\0")
        e = b64.decode_url(jwk["e"], what="exponent").lstrip(b"\0")
        canon[name] = {"e": b64.encode_url(e), "kty": "RSA", "n": b64.encode_url(n)}
    return await prims.sha256(jsjson.to_utf8(jsjson.stringify(canon)))

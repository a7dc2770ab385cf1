"""The only exceptions pycore lets out of an entry point that takes outside input.

Every parser and every decrypt path catches lower-level failures (binascii.Error,
UnicodeError, ValueError from `cryptography`, JavaScript exceptions from WebCrypto, ...) and
re-raises one of these with a message that says what was wrong. Callers can therefore treat
`PycoreError` as "this input is bad or not for us" and everything else as a bug.
"""


class PycoreError(Exception):
    """Base class of every error pycore raises on purpose."""


class MalformedInput(PycoreError):
    """The input does not have the expected shape (bad base64, wrong length, bad JSON, ...)."""


class UnsupportedVersion(MalformedInput):
    """The input names a format version that pycore does not read."""


class WrongPassphrase(PycoreError):
    """A passphrase-protected blob did not open with the passphrase given."""


class WrongKey(PycoreError):
    """A key-wrapped value did not open with the private key given (not for us, or damaged)."""


class AuthenticationFailed(PycoreError):
    """AES-GCM authentication failed: the ciphertext was altered, or the key is not the right one."""


class SignatureMissing(PycoreError):
    """Signature verification was asked for a payload that carries no signature."""


class KeyUnusable(PycoreError):
    """A key cannot do what was asked (e.g. exporting a non-extractable key, signing without a signing key)."""


__all__ = [
    "PycoreError",
    "MalformedInput",
    "UnsupportedVersion",
    "WrongPassphrase",
    "WrongKey",
    "AuthenticationFailed",
    "SignatureMissing",
    "KeyUnusable",
]

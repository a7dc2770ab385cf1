"""Every exception pycore raises on purpose, in one place, each with the error code the engine
reports for it.

Every parser and every decrypt path catches lower-level failures (binascii.Error,
UnicodeError, ValueError from `cryptography`, JavaScript exceptions from WebCrypto, ...) and
re-raises one of these with a message that says what was wrong. Callers can therefore treat
`PycoreError` as "this input is bad or not for us" and everything else as a bug.

`code` is a class attribute: the engine answers a failed request with
`{"code": error.code, "message": str(error), **error.extra}`, so this file is the one table of
error codes. `extra` holds machine-readable details (for example how many characters too long).
"""


class PycoreError(Exception):
    """Base class of every error pycore raises on purpose."""
    code = "pycore_error"

    def __init__(self, message: str = "", **extra):
        super().__init__(message)
        self.extra = extra


# ---------------------------------------------------------------------------- input and formats
class MalformedInput(PycoreError):
    """The input does not have the expected shape (bad base64, wrong length, bad JSON, ...)."""
    code = "malformed_input"


class UnsupportedVersion(MalformedInput):
    """The input names a format version that pycore does not read."""
    code = "unsupported_version"


class NoPublishedKey(MalformedInput):
    """The bio holds no key block."""
    code = "no_published_key"


class BackupCostOutOfRange(MalformedInput):
    """A backup names a key-derivation cost we refuse to pay (or an impossible one)."""
    code = "backup_cost_out_of_range"


class _TooLong(PycoreError):
    def __init__(self, message: str, excess: int):
        super().__init__(message, excess=excess)
        self.excess = excess


class BioTooLong(_TooLong):
    """The bio with the key block would exceed Discourse's limit (`excess`: characters too many)."""
    code = "bio_too_long"


class MessageTooLarge(_TooLong):
    """The message would not fit in one Discourse post (`excess`: bytes too many)."""
    code = "message_too_large"


# ---------------------------------------------------------------------------- keys and ciphertexts
class WrongPassphrase(PycoreError):
    """A passphrase-protected blob did not open with the passphrase given."""
    code = "wrong_passphrase"


class WrongKey(PycoreError):
    """A key-wrapped value did not open with the private key given (not for us, or damaged)."""
    code = "wrong_key"


class NotAParticipant(WrongKey):
    """No wrapped key in this post opens with my private key."""
    code = "not_a_participant"


class AuthenticationFailed(PycoreError):
    """AES-GCM authentication failed: the ciphertext was altered, or the key is not the right one."""
    code = "authentication_failed"


class SignatureMissing(PycoreError):
    """Signature verification was asked for a payload that carries no signature."""
    code = "signature_missing"


class KeyUnusable(PycoreError):
    """A key cannot do what was asked (e.g. exporting a non-extractable key, signing without a signing key)."""
    code = "key_unusable"


# ---------------------------------------------------------------------------- engine requests
class EngineError(PycoreError):
    """A request the engine cannot answer in its current state, or with these arguments."""
    code = "engine_error"


class BadRequest(EngineError):
    code = "bad_request"


class Locked(EngineError):
    """The request needs the unlocked identity and it is locked (or there is none)."""
    code = "locked"


class NoIdentity(EngineError):
    code = "no_identity"


class IdentityExists(EngineError):
    code = "identity_exists"


class Throttled(EngineError):
    """Too many wrong passphrases: attempts are refused until `retry_after` seconds have passed."""
    code = "throttled"


class RecipientWithoutKey(EngineError):
    """A recipient has published no usable key (`username`)."""
    code = "recipient_without_key"


class KeyChangeUnacknowledged(EngineError):
    """A recipient's published key differs from the pinned one and the user has not accepted it."""
    code = "key_change_unacknowledged"


class ConversationChanged(EngineError):
    """The topic holds another conversation than the one the user was shown."""
    code = "conversation_changed"


class ConversationUnknown(EngineError):
    """The conversation of this topic has not been opened on this device."""
    code = "conversation_unknown"


class NewerData(EngineError):
    """A stored record was written by a newer version of the extension (a higher schema version
    than this code knows): it is neither read nor changed."""
    code = "newer_data"


__all__ = [name for name, value in dict(globals()).items()
           if isinstance(value, type) and issubclass(value, PycoreError) and not name.startswith("_")]

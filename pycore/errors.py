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


class NotYourPost(EngineError):
    """An edit was asked for a post that is not the user's own valid encrypted post."""
    code = "not_your_post"


class OldConversationKey(EngineError):
    """An edit was asked for a post written before the conversation's key changed: the new version
    would be encrypted with a key the removed participants hold."""
    code = "old_conversation_key"


class NotInConversation(EngineError):
    """A key change was asked for by someone the conversation does not list, or names no participant."""
    code = "not_in_conversation"


class RemovedFromConversation(NotInConversation):
    """A send was asked for in a conversation whose key was changed without me (`username`: who removed me)."""
    code = "removed_from_conversation"


class ConversationUnknown(EngineError):
    """The conversation of this topic has not been opened on this device."""
    code = "conversation_unknown"


class NewerData(EngineError):
    """A stored record was written by a newer version of the extension (a higher schema version
    than this code knows): it is neither read nor changed."""
    code = "newer_data"


__all__ = [name for name, value in dict(globals()).items()
           if isinstance(value, type) and issubclass(value, PycoreError) and not name.startswith("_")]
__all__ += ["FOR_USERS", "FORUM_SAYS", "WITH_FORUM_WORDS"]


# ---------------------------------------------------------------------------- what the user reads
# Every error code a user may meet, as (what happened, what to do next), in plain words: the
# engine's codes above, and those of the router, the content script's forum client and the frames
# (they share the table through common/constants.js). The extension shows these sentences, never
# an exception's message, which is written for developers. {name} takes the error's field of that
# name when it has one.
FOR_USERS = {
    "pycore_error": ("Something in this data could not be read.", "If it came from the forum, it may be damaged."),
    "malformed_input": ("This is not something the extension can read: it is incomplete or damaged.",
                        "Check that you copied all of it."),
    "unsupported_version": ("This was made by a newer version of the extension.", "Update the extension, then try again."),
    "no_published_key": ("There is no key in this profile.", "Ask the person to publish their key from the extension's inbox."),
    "backup_cost_out_of_range": ("This backup asks for an unusual amount of work to open it, so it was not opened.",
                                 "Use a backup made by the extension."),
    "bio_too_long": ("Your profile text is too long to also hold your key ({excess} characters too many).",
                     "Shorten your forum profile's About me text, then publish again."),
    "message_too_large": ("The message is too long for one forum post.", "Shorten it, or send it in two parts."),
    "wrong_passphrase": ("Wrong passphrase.", "Type it again; it is case-sensitive."),
    "wrong_key": ("This was not encrypted for your key.", "It may be for another account or an older key of yours."),
    "not_a_participant": ("This conversation was not encrypted for your current key.",
                          "If you had another key before, restore it from your backup, paper key or export."),
    "authentication_failed": ("This could not be decrypted with the key this device has.",
                              "If you replaced or restored your key, restore the key this was written to; "
                              "otherwise the post was changed after it was written."),
    "signature_missing": ("This message is not signed, so its author cannot be confirmed.", "Do not trust its contents."),
    "key_unusable": ("This key cannot be used for that.", "Export or use the key from the device that created it."),
    "engine_error": ("The extension could not do this right now.", "Try again in a moment."),
    "bad_request": ("The extension refused this request because something in it is not acceptable.",
                    "Check what you typed; if it keeps happening, reload the page."),
    "locked": ("Your key is locked.", "Unlock it with your passphrase, then try again."),
    "no_identity": ("You have no key on this device yet.", "Create one, or restore yours from your backup."),
    "identity_exists": ("This device already has a key.", "To use another one, reset this device's key first (in the options)."),
    "throttled": ("Too many wrong passphrases.", "Wait {retry_after} seconds, then try again."),
    "recipient_without_key": ("{username} has not published a key, so you cannot write to them encrypted yet.",
                              "Ask them to install the extension and publish their key, or exchange keys by private message."),
    "key_change_unacknowledged": ("{username}'s key changed since you last wrote to them.",
                                  "Check the new safety code with them, accept the new key, then send."),
    "conversation_changed": ("The page now shows another conversation than the one you were writing in.",
                             "Nothing was sent. Reload the conversation and check where you are writing."),
    "not_your_post": ("Only your own encrypted posts can be edited, and this one is not yours or could not be "
                      "confirmed as yours.", "Edit a post you wrote; nothing was changed."),
    "old_conversation_key": ("This post was written before someone was removed from the conversation, so "
                             "a new version of it could be read by them.", "Write a new reply instead; nothing was changed."),
    "not_in_conversation": ("That person is not a participant of this encrypted conversation, or you no longer are.",
                            "Check the name; nothing was changed."),
    "removed_from_conversation": ("{username} removed you from this conversation: the others no longer hold a key you "
                                  "can write to.", "Nothing was sent; your text is kept."),
    "conversation_unknown": ("This conversation has not been opened on this device yet.", "Open its first post, then try again."),
    "newer_data": ("This data was saved by a newer version of the extension, so this version leaves it untouched.",
                   "Update the extension; nothing was changed or lost."),
    # the router
    "rejected": ("The extension refused a request from this page.", "Reload the page; if it keeps happening, the page may be interfering."),
    "router_error": ("The extension ran into a problem.", "Try again; if it keeps happening, restart the browser."),
    "not_implemented": ("This is not available in this version of the extension.", "Update the extension."),
    "no_permission": ("The extension is not enabled on this forum.", "Enable it from the extension's toolbar button on the forum's page."),
    "bad_token": ("This window of the extension has expired or was not opened by the extension.", "Close it and open it again from the forum page."),
    "no_forum_tab": ("The forum is not open in any tab.", "Open the forum in a tab (logged in), then try again."),
    "engine_boot_failed": ("The extension's encryption engine did not start.", "Restart the browser; if it keeps happening, reinstall the extension (your keys stay)."),
    "no_reply": ("The extension did not answer.", "Reload the page, then try again."),
    # the extension's pages and frames
    "encrypted_to_old_key": ("This conversation was encrypted to your key with fingerprint {fingerprint}, "
                             "which this device does not have.",
                             "Restore that key from your forum backup, your paper key or an export "
                             "(Import, in the options): then it reads again."),
    "no_backup": ("There is no key backup of yours on this forum.",
                  "Import your key in the options if you have it, or make a backup on a device that has it."),
    # the forum, as the content script meets it
    "offline": ("The forum could not be reached.", "Check your connection; your text is kept."),
    "rate_limited": ("The forum asks to wait before the next post.", "It will be retried; your text is kept."),
    "server_error": ("The forum had a problem answering.", "Try again in a moment; your text is kept."),
    "not_found": ("The forum has no such user, group or topic.", "Check the name."),
    "forbidden": ("The forum does not allow this to your account.", "Your trust level may not allow private messages yet."),
    "forum_refused": ("The forum refused this.", "Its reason is shown here."),
    "refused": ("The extension only posts encrypted text to the forum, and this was not.", "Nothing was posted."),
    "not_logged_in": ("You are not logged in to the forum.", "Log in, then try again."),
    "content_error": ("The extension's script in the forum page ran into a problem.", "Reload the page."),
    "unexpected": ("Something went wrong.", "Try again; if it keeps happening, reload the page."),
}

# The forum's own refusals carry the forum's words (Discourse writes them for its users, in their
# language): these codes have a second message that quotes them after the two sentences.
WITH_FORUM_WORDS = ("forum_refused", "forbidden")
FORUM_SAYS = "The forum says: \u201c{forum_words}\u201d"

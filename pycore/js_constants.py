"""The facts the extension's JavaScript shares with pycore, from the one place pycore defines them.

build.py writes `for_javascript()` into the built extension as `common/constants.js`
(`globalThis.EFD_CONSTANTS`), so no JavaScript file retypes an armour marker, a title, the
username rule or a limit. A build-time module: it is not shipped in the extension's pycore.zip.
"""
from .engine.args import MIN_PASSPHRASE_LENGTH
from .errors import FOR_USERS
from .inband import armour, forum


def for_javascript() -> dict:
    return {
        "MSG_BEGIN": armour.MSG_BEGIN, "MSG_END": armour.MSG_END,
        "BACKUP_BEGIN": armour.BACKUP_BEGIN, "BACKUP_END": armour.BACKUP_END,
        "KEY_BEGIN": armour.KEY_BEGIN, "KEY_END": armour.KEY_END,
        "PLACEHOLDER_TITLE": forum.PLACEHOLDER_TITLE, "BACKUP_TITLE": forum.BACKUP_TITLE,
        "USERNAME_PATTERN": forum.USERNAME_PATTERN,
        "BIO_LIMIT": forum.BIO_LIMIT, "MAX_POST_CHARS": forum.MAX_POST_CHARS,
        "MIN_PASSPHRASE_LENGTH": MIN_PASSPHRASE_LENGTH,
        # A viewer frame's height follows the size of the post's armoured ciphertext (which the
        # page sees anyway), never its plaintext: [raw length up to (null: any), pixels]. The
        # first class holds a reply's smallest padding bucket (PROTOCOL §9).
        "VIEWER_HEIGHTS": [[3500, 240], [6500, 400], [None, 560]],
        # Titles a PM may carry on the server: the placeholder, and the neutral fallback used
        # once when a forum's watched words refuse the placeholder.
        "FALLBACK_TITLE": forum.FALLBACK_TITLE,
        "KEY_EXCHANGE_TITLE": forum.KEY_EXCHANGE_TITLE,
        # What the user reads for each error code: [what happened, what to do].
        "USER_TEXT": {code: list(text) for code, text in FOR_USERS.items()},
    }

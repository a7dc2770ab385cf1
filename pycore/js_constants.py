"""The facts the extension's JavaScript shares with pycore, from the one place pycore defines them.

build.py writes `for_javascript()` into the built extension as `common/constants.js`
(`globalThis.EFD_CONSTANTS`), so no JavaScript file retypes an armour marker, a title, the
username rule or a limit.
"""
from . import engine, inband


def for_javascript() -> dict:
    return {
        "MSG_BEGIN": inband.MSG_BEGIN, "MSG_END": inband.MSG_END,
        "BACKUP_BEGIN": inband.BACKUP_BEGIN, "BACKUP_END": inband.BACKUP_END,
        "KEY_BEGIN": inband.KEY_BEGIN, "KEY_END": inband.KEY_END,
        "PLACEHOLDER_TITLE": inband.PLACEHOLDER_TITLE, "BACKUP_TITLE": inband.BACKUP_TITLE,
        "USERNAME_PATTERN": inband.USERNAME_PATTERN,
        "BIO_LIMIT": inband.BIO_LIMIT, "MAX_POST_CHARS": inband.MAX_POST_CHARS,
        "MIN_PASSPHRASE_LENGTH": engine.MIN_PASSPHRASE_LENGTH,
    }

"""The facts the extension's JavaScript shares with pycore, from the one place pycore defines them.

build.py writes `for_javascript()` into the built extension as `common/constants.js`
(`globalThis.EFD_CONSTANTS`), so no JavaScript file retypes an armour marker, a title, the
username rule or a limit. A build-time module: it is not shipped in the extension's pycore.zip.
"""
from .engine.args import MIN_PASSPHRASE_LENGTH
import re

from .errors import FOR_USERS, FORUM_SAYS, WITH_FORUM_WORDS
from .inband import armour, attachments, forum, messages


def for_javascript() -> dict:
    return {
        "MSG_BEGIN": armour.MSG_BEGIN, "MSG_END": armour.MSG_END,
        "BACKUP_BEGIN": armour.BACKUP_BEGIN, "BACKUP_END": armour.BACKUP_END,
        "STATE_BEGIN": armour.STATE_BEGIN, "STATE_END": armour.STATE_END,
        "KEY_BEGIN": armour.KEY_BEGIN, "KEY_END": armour.KEY_END,
        # the plain first line of a key change (rekey) post: a page view reads those first
        "REKEY_HINT": messages.REKEY_HINT,
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
        # The longest selection of a decrypted post a viewer quotes into an encrypted reply.
        "MAX_QUOTE_CHARS": 4000,
        # The error codes users have words for, each with the fields its messages take, in the
        # order of their placeholders: the words themselves are the `error_<code>` messages of
        # _locales/en/messages.json (error_messages(), merged by build.py).
        "USER_TEXT": {code: fields_of(code) for code in FOR_USERS},
        "WITH_FORUM_WORDS": list(WITH_FORUM_WORDS),
        # Encrypted attachments (PROTOCOL §11): limits, and what a carrier looks like to the forum.
        "ATTACHMENTS": {
            "MAX_FILES": attachments.MAX_FILES, "MAX_PARTS": attachments.MAX_PARTS,
            "PART_BYTES": attachments.PART_BYTES, "MAX_FILE_BYTES": attachments.max_file_bytes(),
            # a carrier's PNG: its part, the header, one filter byte per row, zlib and chunks
            "MAX_CARRIER_BYTES": attachments.PART_BYTES * 257 // 256 + 4096,
            "CARRIER_WIDTH": attachments.CARRIER_WIDTH, "CARRIER_FILENAME": attachments.CARRIER_FILENAME,
            "SHORT_URL_PATTERN": attachments.SHORT_URL.pattern,
        },
    }


FIELD = re.compile(r"\{(\w+)\}")
# What a translator sees as an example of each field's value.
FIELD_EXAMPLES = {"username": "alice", "excess": "120", "retry_after": "30", "forum_words": "Title is invalid",
                  "fingerprint": "12345 67890 12345 67890 12345 67890"}


def fields_of(code: str) -> list[str]:
    """The fields of FOR_USERS[code], in order of first appearance (what happened, then next)."""
    out: list[str] = []
    for name in FIELD.findall(" ".join(FOR_USERS[code])):
        if name not in out:
            out.append(name)
    return out


def _message(text: str, fields: list[str], description: str) -> dict:
    """One WebExtension message: {field} becomes the named placeholder $field$ (content $n, n the
    field's position in `fields`); a literal $ is written $$."""
    msg = FIELD.sub(lambda m: f"${m.group(1)}$", text.replace("$", "$$"))
    entry = {"message": msg, "description": description}
    used = [f for f in fields if "{" + f + "}" in text]
    if used:
        entry["placeholders"] = {f: {"content": f"${fields.index(f) + 1}", "example": FIELD_EXAMPLES.get(f, f)}
                                 for f in used}
    return entry


def error_messages() -> dict:
    """The error words of FOR_USERS as messages for _locales/en/messages.json:
    error_<code> (what happened and what to do, one message), error_<code>_what (what happened
    only: common/retry.js says it while it waits), and for the codes that quote the forum,
    error_<code>_forum_says (the two sentences and the forum's words). Substitutions are given in
    the order of fields_of(code) (then the forum's words)."""
    out = {}
    for code, (what, next_step) in FOR_USERS.items():
        fields = fields_of(code)
        out[f"error_{code}"] = _message(f"{what} {next_step}", fields,
                                        f"Shown when something fails (error code {code}): what happened, then what to do.")
        out[f"error_{code}_what"] = _message(what, fields,
                                             f"What happened (error code {code}), shown alone while the extension waits to try again.")
        if code in WITH_FORUM_WORDS:
            out[f"error_{code}_forum_says"] = _message(
                f"{what} {next_step} {FORUM_SAYS}", fields + ["forum_words"],
                f"Shown when the forum refuses something (error code {code}), with the forum's own reason quoted.")
    return out

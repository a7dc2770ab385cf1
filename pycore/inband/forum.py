"""What the in-band protocol assumes about the Discourse it runs on: limits, the titles it posts
under, and the username rule. Defaults are Discourse's own (config/site_settings.yml,
docs/DISCOURSE-FIDELITY.md); a forum that sets other limits passes them in (`max_chars`).
"""

from __future__ import annotations

import re

from ..errors import MalformedInput

BIO_LIMIT = 3000          # user_profile bio_raw length limit
MAX_POST_CHARS = 32000    # max_post_length
PLACEHOLDER_TITLE = "Encrypted message"       # the server-visible title of every conversation
BACKUP_TITLE = "Encrypted key backup"         # the server-visible title of the key backup PM to oneself
FALLBACK_TITLE = "Private conversation"       # used once when watched words refuse the placeholder
KEY_EXCHANGE_TITLE = "Encryption key exchange"  # a PM carrying public keys, where bios cannot
# Discourse usernames with unicode_usernames off (its default): ASCII letters, digits, _ . -.
# JavaScript compiles the same source (pycore.js_constants).
USERNAME_PATTERN = r"[A-Za-z0-9_.\-]{1,60}"
_USERNAME = re.compile(USERNAME_PATTERN)


def is_username(name) -> bool:
    return isinstance(name, str) and _USERNAME.fullmatch(name) is not None


def check_username(name, what: str = "username") -> str:
    if not is_username(name):
        raise MalformedInput(f"{what}: not a Discourse username")
    return name

"""The plugin's "Export key pair" text block: the unprotected private identity between a header
and a footer, cut into 71-character lines."""

import re

from ..errors import MalformedInput

COLUMNS = 71
HEADER = "============== BEGIN EXPORTED DISCOURSE ENCRYPT KEY PAIR =============="
FOOTER = "=============== END EXPORTED DISCOURSE ENCRYPT KEY PAIR ==============="
LEGACY_SEPARATOR = "-" * COLUMNS
PLACEHOLDER = "\n".join([HEADER] + ["." * COLUMNS] * 3 + [FOOTER])

_WHITESPACE = re.compile(r"\s+")


def pack_identity(identity_text: str) -> str:
    if not isinstance(identity_text, str) or not identity_text:
        raise MalformedInput("pack: expected a non-empty identity string")
    lines = [identity_text[i:i + COLUMNS] for i in range(0, len(identity_text), COLUMNS)]
    return "\n".join([HEADER, *lines, FOOTER])


def unpack_identity(block: str) -> str:
    """Header and footer removed (first occurrence of each), all white space removed (CRLF,
    indentation, blank lines), pre-2019 exports with a line of 71 dashes between the public and
    private key converted to a v0 identity ("0$<public>$<private>")."""
    if not isinstance(block, str):
        raise MalformedInput("pack: expected text")
    text = block.replace(HEADER, "", 1).replace(FOOTER, "", 1)
    text = _WHITESPACE.sub("", text)
    if LEGACY_SEPARATOR in text:
        text = "0$" + text.replace(LEGACY_SEPARATOR, "$")
    if not text:
        raise MalformedInput("pack: the block holds no key")
    if "=" * 10 in text or "." * 10 in text:
        raise MalformedInput("pack: damaged or placeholder block (header, footer or dots left over)")
    return text

"""The "<version>$<body>" envelope shared by identities and ciphertexts."""

from ..errors import MalformedInput, UnsupportedVersion
from .jsjson import parse_int_prefix

KNOWN_VERSIONS = (0, 1)


def split(text, *, what: str) -> tuple[int, str]:
    """Splits at the first '$' and reads the version as the plugin does (JavaScript parseInt:
    leading white space, a sign, leading zeros and trailing junk before '$' are tolerated; the
    prefix is not authenticated, so tolerating them costs nothing and keeps old data readable)."""
    if not isinstance(text, str):
        raise MalformedInput(f"{what}: expected text, got {type(text).__name__}")
    prefix, sep, body = text.partition("$")
    if not sep:
        raise MalformedInput(f"{what}: no '<version>$' prefix")
    version = parse_int_prefix(prefix)
    if version is None:
        raise UnsupportedVersion(f"{what}: version prefix {prefix[:12]!r} is not a number")
    if version not in KNOWN_VERSIONS:
        raise UnsupportedVersion(f"{what}: version {version} is not supported (known: 0, 1)")
    return version, body

"""Paper keys: 16 random bytes written as 12 words of the BIP-39 English list (upper case).

This is the plugin's scheme, not BIP-39: the 4 spare bits are a "parity" nibble, the sum of the
data's 4-bit groups modulo 16 (generally: the sum of the data bits taken in chunks as wide as the
spare bits, modulo 2**width). The words themselves are the passphrase that protects the
identity export stored under the label "paper_<first word, lower case>".
"""

from importlib import resources

from ..errors import MalformedInput

WORD_BITS = 11
PAPER_KEY_BYTES = 16

_WORDS: list[str] | None = None
_INDEX: dict[str, int] | None = None


def words() -> list[str]:
    global _WORDS, _INDEX
    if _WORDS is None:
        text = resources.files(__package__).joinpath("data/bip39-english.txt").read_text("ascii")
        _WORDS = [w.upper() for w in text.split()]
        _INDEX = {w: i for i, w in enumerate(_WORDS)}
        assert len(_WORDS) == 2048
    return _WORDS


def _checksum(bits: str, width: int) -> int:
    total = sum(int(bits[i:i + width], 2) for i in range(0, len(bits), width))
    return total % (1 << width)


def _layout(data_bits: int) -> tuple[int, int]:
    n_words = -(-data_bits // WORD_BITS)
    return n_words, n_words * WORD_BITS - data_bits


def encode(data: bytes) -> str:
    """Bytes to words (the plugin's _bufferToPaperKey)."""
    data = bytes(data)
    n_words, width = _layout(len(data) * 8)
    if not data or width == 0:
        # The plugin loops forever here (no room for a checksum); we refuse.
        raise MalformedInput(f"paper key: {len(data)} bytes leave no room for a checksum")
    bits = "".join(f"{b:08b}" for b in data)
    bits += format(_checksum(bits, width), f"0{width}b")
    table = words()
    return " ".join(table[int(bits[i:i + WORD_BITS], 2)] for i in range(0, len(bits), WORD_BITS))


def decode(text: str) -> bytes:
    """Words to bytes (the plugin's _paperKeyToBuffer, which it never calls): case-insensitive,
    any white space between words. Raises MalformedInput on an unknown word or a bad checksum."""
    if not isinstance(text, str):
        raise MalformedInput("paper key: expected text")
    table = words()
    items = text.upper().split()
    if not items:
        raise MalformedInput("paper key: no words")
    indexes = []
    for w in items:
        if w not in _INDEX:
            raise MalformedInput(f"paper key: {w[:20]!r} is not a paper-key word")
        indexes.append(_INDEX[w])
    bits = "".join(f"{i:011b}" for i in indexes)
    n_bytes = len(bits) // 8
    width = len(bits) - n_bytes * 8
    if n_bytes == 0 or width == 0:
        raise MalformedInput(f"paper key: {len(items)} words leave no room for a checksum")
    data_bits, check = bits[: n_bytes * 8], int(bits[n_bytes * 8:], 2)
    if _checksum(data_bits, width) != check:
        raise MalformedInput("paper key: checksum mismatch (a word is wrong or missing)")
    return int(data_bits, 2).to_bytes(n_bytes, "big")


def generate(prims) -> str:
    return encode(prims.random_bytes(PAPER_KEY_BYTES))


def normalize(text: str) -> str:
    """The plugin's fixPaperKey: split on the space character only, drop empty pieces, join with
    one space, upper-case. Tabs and newlines are kept (as in the plugin, where they make
    activation fail); use `clean` for user input."""
    if not isinstance(text, str):
        raise MalformedInput("paper key: expected text")
    return " ".join(p for p in text.split(" ") if p).upper()


def clean(text: str) -> str:
    """What our UI does with typed paper keys: any white space, any case."""
    if not isinstance(text, str):
        raise MalformedInput("paper key: expected text")
    return " ".join(text.split()).upper()


def label(paper_key: str, *, device: bool = False) -> str:
    """The plugin's storage label: "paper_<first word lower-cased>" (or "device")."""
    if device:
        return "device"
    first = clean(paper_key).split(" ")[0]
    if not first:
        raise MalformedInput("paper key: no words")
    return "paper_" + first.lower()

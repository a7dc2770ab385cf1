"""The cryptographic primitives pycore is built on, behind one small async interface.

Exactly two backends implement `Primitives`:
- `cpython.CryptographyPrimitives`: the `cryptography` package (tests, tools, the CLI);
- `webcrypto.WebCryptoPrimitives`: the browser's (or Node's) `crypto.subtle`, reached through
  `pyodide.ffi` when pycore runs inside Pyodide.

Everything above this package works with opaque key handles and never learns which backend it has.
Keys are RSA-OAEP-SHA256 / RSA-PSS-SHA256 (4096-bit when generated) and AES-256-GCM.
"""

import sys

from .base import Primitives, RSA_KINDS

__all__ = ["Primitives", "RSA_KINDS", "default_primitives"]

_default = None


def default_primitives() -> Primitives:
    """The backend for the running interpreter: WebCrypto inside Pyodide, `cryptography` elsewhere."""
    global _default
    if _default is None:
        if sys.platform == "emscripten":
            from .webcrypto import WebCryptoPrimitives

            _default = WebCryptoPrimitives()
        else:
            from .cpython import CryptographyPrimitives

            _default = CryptographyPrimitives()
    return _default

"""pycore: the crypto core of Encrypt for Discourse.

Sans-IO: pure functions and small data classes; randomness and every cryptographic primitive
come from an injected `Primitives` object (`pycore.primitives.default_primitives()`), so the same
code runs on CPython (`cryptography`) and inside Pyodide (WebCrypto).

Layers, each using only the ones before it:
  errors       every exception pycore raises on purpose, with its error code
  primitives   the async primitives interface, its two backends, the passphrase-key derivation
  plugin       the discourse-encrypt plugin's formats (identities, topic keys, posts, paper keys)
  inband       our protocol for plugin-less forums (armour, bio keys, key backup, conversations)
  engine       the extension's state machine: lock state, key store, pins, request handlers

Development and build-time modules, not shipped in the extension: `vectors` (the known-answer
runner, `python -m pycore vectors DIR`), `js_constants` (facts build.py hands to JavaScript).
"""

__version__ = "0.2.0"

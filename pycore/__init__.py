"""pycore: the crypto core of Encrypt for Discourse.

Sans-IO: pure functions and small data classes; randomness and every cryptographic primitive
come from an injected `Primitives` object (`pycore.primitives.default_primitives()`), so the same
code runs on CPython (`cryptography`) and inside Pyodide (WebCrypto).

Modules, from the bottom up:
  errors       the only exceptions that leave pycore
  b64, jsjson  base64 and JavaScript-exact JSON (signatures depend on it)
  primitives   the async primitives interface and its two backends
  identity     user key pairs and their text exports (v0, v1)
  paperkey     12-word paper keys;  pack: the "export key pair" text block
  topickey     per-conversation AES keys and their RSA-OAEP wrapping
  payload      encrypted posts, titles and drafts; signatures
  vectors      the known-answer runner (python -m pycore vectors DIR)
"""

__version__ = "0.1.0"

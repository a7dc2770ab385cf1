"""The formats of the deprecated discourse-encrypt plugin, byte for byte (the plugin's format
spec, discourse-encrypt-formats.md): identities and their exports, topic keys, encrypted posts,
titles and drafts, paper keys, and the encodings they rest on.

Modules: b64, jsjson (JavaScript-exact JSON: signatures depend on it), versioned ("<v>$…"),
identity, topickey, payload, pack, paperkey. Everything here works through the injected
primitives (`pycore.primitives`) and raises only `pycore.errors`.
"""

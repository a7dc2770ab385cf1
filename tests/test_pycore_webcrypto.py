"""pycore's WebCrypto backend inside Pyodide under Node: what the vectors do not cover
(key generation, non-extractable keys, error mapping, an attachment's round trip through its
carriers: zlib and struct in Pyodide). The same Python as on CPython."""

import subprocess
import textwrap

from pycore.__main__ import zip_package
from tests.conftest import REPO_DIR

CHECKS = textwrap.dedent("""
    from pycore.plugin import identity, payload, topickey
    from pycore.errors import AuthenticationFailed, KeyUnusable, WrongKey, MalformedInput
    from pycore.primitives import default_primitives
    prims = default_primitives()
    assert prims.name == "webcrypto", prims.name
    results = []

    ident = await identity.generate(prims, bits=2048)
    public = await identity.export_public(prims, ident)
    clear = await identity.export_private(prims, ident)
    again = await identity.import_identity(prims, clear)
    assert list(again.jwks["encryptPrivate"]) == sorted(again.jwks["encryptPrivate"])
    protected = await identity.export_private(prims, ident, "correct horse battery", iterations=2000)
    opened = await identity.import_identity(prims, protected, "correct horse battery", iterations=2000, extractable=False)
    results.append("generate-export-import")

    try:
        await prims.rsa_export_jwk(opened.encrypt_private)
        raise SystemExit("a non-extractable key was exported")
    except KeyUnusable:
        results.append("non-extractable")

    key = await topickey.generate(prims)
    wrapped = await topickey.wrap(prims, key, ident.encrypt_public)
    try:
        await topickey.unwrap(prims, wrapped, (await identity.generate(prims, bits=2048)).encrypt_private)
        raise SystemExit("unwrapped with the wrong key")
    except WrongKey:
        results.append("wrong-key")

    ct = await payload.encrypt(prims, key, {"raw": "hi"}, sign_with=opened)
    obj = await payload.decrypt(prims, key, ct)
    assert await payload.verify(prims, (await identity.import_identity(prims, public)).sign_public, obj)
    try:
        await payload.decrypt(prims, key, ct[:-3] + ("AAA" if ct[-3:] != "AAA" else "BBB"))
        raise SystemExit("tampered ciphertext decrypted")
    except AuthenticationFailed:
        results.append("tamper")
    try:
        await prims.rsa_import_jwk({"kty": "RSA", "n": "AQAB", "e": "AQAB"}, "oaep")
        raise SystemExit("tiny key imported")
    except MalformedInput:
        results.append("bad-jwk")
    assert len(prims.random_bytes(70000)) == 70000

    from pycore.inband import attachments
    data = bytes(range(256)) * 5000
    ref, parts = await attachments.seal_file(prims, data, "shot.png", "image/png")
    carriers = [await attachments.carrier_png(prims, p, i, len(parts)) for i, p in enumerate(parts)]
    got = [(await attachments.read_carrier(prims, c))[2] for c in carriers]
    assert await attachments.open_file(prims, ref, got) == data
    results.append("attachment")
    print(" ".join(results))
    0
""")


def test_webcrypto_backend_inside_pyodide(tmp_path):
    archive = tmp_path / "pycore.zip"
    zip_package(archive)
    proc = subprocess.run(["node", str(REPO_DIR / "tools" / "pyodide-run.mjs"), "--pyodide",
                           str(REPO_DIR / "node_modules" / "pyodide"), "--package", str(archive), "--code", CHECKS],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split() == ["generate-export-import", "non-extractable", "wrong-key", "tamper", "bad-jwk",
                                   "attachment"]

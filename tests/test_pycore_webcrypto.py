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

    # Many operations in one call (the extension's crypto_batch.js, installed by
    # tools/pyodide-run.mjs as the engine host installs it), failures in place, in order; the
    # same answers without the helper (one WebCrypto call per item).
    from pycore.primitives import webcrypto
    import efd_host, js
    assert webcrypto._HOST_BATCH is not None
    other = await topickey.generate(prims)
    ivs = [prims.random_bytes(12) for _ in range(5)]
    texts = [b"", b"x" * 1000, "é☃".encode(), b"y", b"z" * 70000]
    sealed = [await prims.aes_gcm_encrypt(key, iv, t) for iv, t in zip(ivs, texts)]
    sealed[3] = sealed[3][:-1] + bytes([sealed[3][-1] ^ 1])
    items = [(key, iv, ct) for iv, ct in zip(ivs, sealed)] + [(other, ivs[0], sealed[0]), (key, ivs[0], b"short")]
    want = [texts[0], texts[1], texts[2], None, texts[4], None, None]
    signer = await identity.generate(prims, bits=2048)
    msgs = [b"one", b"two", b""]
    sigs = [await prims.rsa_pss_sign(signer.sign_private, m) for m in msgs]
    checks = [(signer.sign_public, sigs[0], msgs[0]), (signer.sign_public, sigs[1], msgs[0]),
              (signer.sign_public, sigs[2], msgs[2]), (ident.sign_public, sigs[0], msgs[0]),
              (signer.sign_public, b"", msgs[1])]
    for helper in (efd_host.cryptoBatch(js.crypto.subtle), None):
        webcrypto.use_batches(helper)
        assert await prims.aes_gcm_decrypt_many(items) == want
        assert await prims.rsa_pss_verify_many(checks) == [True, False, True, False, False]
        assert await prims.aes_gcm_decrypt_many([]) == [] and await prims.rsa_pss_verify_many([]) == []
        try:
            await prims.aes_gcm_decrypt_many([(signer.sign_public, ivs[0], sealed[0])])
            raise SystemExit("an RSA key used for AES-GCM")
        except KeyUnusable:
            pass
    results.append("batches")
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
                                   "attachment", "batches"]

"""Known-answer runner for vector directories laid out like ../shared/vectors.

    python -m pycore vectors DIR [--engine cpython|pyodide]

Every case of every known file is checked against pycore, on whichever primitives backend runs
this module; the last line printed is "N passed, M failed". Extra fields are ignored; files that
are absent are reported and skipped. The same code runs inside Pyodide (see pycore/__main__.py).

Where the plugin's behaviour is garbage-in-garbage-out (its base64 decoder turns stray characters
into bytes), pycore rejects the input instead; such cases pass when pycore rejects them with a
MalformedInput, and the per-file line says how many there were (docs/DECISIONS.md).
"""

import json
import re
import traceback
from pathlib import Path

from .plugin import b64, identity, pack, paperkey, payload, topickey
from .errors import MalformedInput, PycoreError, SignatureMissing
from .plugin.jsjson import encode_utf16le

FILES = ("base64.json", "identities.json", "topic_keys.json", "posts.json", "negative.json", "paper_keys.json")


class CaseFailed(Exception):
    pass


def expect(condition, message: str) -> None:
    if not condition:
        raise CaseFailed(message)


def _short(value, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=True, default=repr) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


class Runner:
    def __init__(self, directory, prims, out=print):
        self.dir = Path(directory)
        self.prims = prims
        self.out = out
        self.passed = 0
        self.failed = 0
        self._identities: dict[int, identity.Identity] | None = None
        self._identity_cases: dict[int, dict] = {}

    # ----------------------------------------------------------------- plumbing
    def load(self, name: str):
        path = self.dir / name
        if not path.exists():
            return None
        return json.loads(path.read_text("utf-8"))

    async def identities(self) -> dict[int, identity.Identity]:
        """identities.json's identities, imported from their unprotected private exports."""
        if self._identities is None:
            self._identities = {}
            data = self.load("identities.json") or {"cases": []}
            for case in data.get("cases", []):
                self._identity_cases[case["index"]] = case
                clear = [e for e in case.get("exports", []) if e.get("passphrase") is None]
                if clear:
                    self._identities[case["index"]] = await identity.import_identity(self.prims, clear[0]["private"])
        return self._identities

    async def ident(self, index) -> identity.Identity:
        idents = await self.identities()
        expect(index in idents, f"identity {index} is not in identities.json")
        return idents[index]

    async def run_file(self, name: str, cases, check) -> None:
        passed = failed = 0
        notes: dict[str, int] = {}
        for number, case in enumerate(cases):
            label = case.get("name") or case.get("op") or case.get("kind") or str(number)
            try:
                note = await check(case)
                passed += 1
                if note:
                    notes[note] = notes.get(note, 0) + 1
            except CaseFailed as exc:
                failed += 1
                self.out(f"FAIL {name} #{number} {label}: {exc}")
            except Exception as exc:  # a bug, or an error pycore should have wrapped
                failed += 1
                detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                self.out(f"FAIL {name} #{number} {label}: unexpected {detail}")
        extra = "".join(f" ({count} {note})" for note, count in notes.items())
        self.out(f"{name}: {passed} passed, {failed} failed{extra}")
        self.passed += passed
        self.failed += failed

    async def run(self) -> tuple[int, int]:
        self.out(f"primitives: {self.prims.name}")
        for name in FILES:
            data = self.load(name)
            if data is None:
                self.out(f"{name}: absent, skipped")
                continue
            checker = getattr(self, "check_" + name.split(".")[0])
            await checker(name, data)
        self.out(f"{self.passed} passed, {self.failed} failed")
        return self.passed, self.failed

    # ----------------------------------------------------------------- base64.json
    async def check_base64(self, name, data):
        def plugin_garbage(text: str) -> bool:
            # Inputs a strict decoder cannot accept; the plugin turns them into garbage bytes.
            return not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", text) or len(text.rstrip("=")) % 4 == 1

        async def check(case):
            if case["op"] == "encode":
                got = b64.encode(bytes.fromhex(case["bytes_hex"]))
                expect(got == case["output"], f"encode gave {got!r}, expected {case['output']!r}")
                return None
            expect(case["op"] == "decode", f"unknown op {case['op']!r}")
            text = case["input"]
            try:
                got = b64.decode(text)
            except MalformedInput:
                expect(plugin_garbage(text), f"valid base64 {text!r} was rejected")
                return "rejected by design where the plugin returns garbage"
            expect(got.hex() == case["bytes_hex"], f"decode {text!r} gave {got.hex()}, expected {case['bytes_hex']}")
            return None

        await self.run_file(name, data.get("cases", []), check)

    # ----------------------------------------------------------------- identities.json
    async def check_identities(self, name, data):
        prims = self.prims
        await self.identities()
        checks = []
        for case in data.get("cases", []):
            for export in case.get("exports", []):
                checks.append({"name": f"identity {case['index']} v{case['version']} "
                                       f"passphrase={'none' if export.get('passphrase') is None else 'set'}",
                               "case": case, "export": export})

        async def check(item):
            case, export = item["case"], item["export"]
            passphrase = export.get("passphrase")
            public = await identity.import_identity(prims, export["public"])
            expect(public.version == case["version"], f"public version {public.version}")
            expect(not public.has_private, "public export imported with private keys")
            for member in ("encryptPublic", "signPublic"):
                if member in case["jwk"]:
                    expect(public.jwks.get(member) == case["jwk"][member], f"{member} differs from the generated JWK")
            expect(await identity.export_public(prims, public) == export["public"], "public re-export differs")

            private = await identity.import_identity(prims, export["private"], passphrase)
            expect(private.has_private and private.version == case["version"], "private import incomplete")
            for member, jwk in case["jwk"].items():
                expect(private.jwks.get(member) == jwk, f"{member} differs from the generated JWK")
            aux = export.get("aux") or {}
            if passphrase is None:
                again = await identity.export_private(prims, private)
                expect(again == export["private"], "unprotected private re-export differs")
            elif "salt" in aux and "iv" in aux:
                salt, iv = b64.decode(aux["salt"]), b64.decode(aux["iv"])
                again = await identity.export_private(prims, private, passphrase, salt=salt, iv=iv)
                expect(again == export["private"], "protected re-export with the same salt and IV differs")
                if "pbkdf2_key" in aux:
                    pw = encode_utf16le(passphrase) if case["version"] == 0 else passphrase.encode("utf-8")
                    derived = await prims.pbkdf2_sha256(pw, salt, identity.PLUGIN_KDF_ITERATIONS, 32)
                    expect(b64.encode(derived) == aux["pbkdf2_key"], "PBKDF2 key differs")
            # The keys work: wrap/unwrap a topic key, and sign/verify for v1.
            key = await topickey.generate(prims)
            wrapped = await topickey.wrap(prims, key, public.encrypt_public)
            back = await topickey.unwrap(prims, wrapped, private.encrypt_private)
            expect(await topickey.to_raw(prims, back) == await topickey.to_raw(prims, key), "wrap/unwrap round trip")
            if case["version"] == 1:
                signed = await payload.sign(prims, private, {"raw": "check"})
                expect(await payload.verify(prims, public.sign_public, signed), "sign/verify round trip")
            return None

        await self.run_file(name, checks, check)

    # ----------------------------------------------------------------- topic_keys.json
    async def check_topic_keys(self, name, data):
        prims = self.prims

        async def check(case):
            ident = await self.ident(case["identity_index"])
            key = await topickey.unwrap(prims, case["wrapped"], ident.encrypt_private)
            raw = await topickey.to_raw(prims, key)
            expect(b64.encode(raw) == case["raw"], "unwrapped key differs")
            rewrapped = await topickey.wrap(prims, key, ident.encrypt_public)
            again = await topickey.unwrap(prims, rewrapped, ident.encrypt_private)
            expect(await topickey.to_raw(prims, again) == raw, "re-wrap round trip")
            return None

        await self.run_file(name, data.get("cases", []), check)

    # ----------------------------------------------------------------- posts.json
    async def check_posts(self, name, data):
        prims = self.prims

        async def check(case):
            key = await topickey.from_b64(prims, case["topic_key"])
            ciphertext = case["ciphertext"]
            decrypted = await payload.decrypt(prims, key, ciphertext)
            expect(decrypted == case["decrypted"], f"decrypted {_short(decrypted)}, expected {_short(case['decrypted'])}")
            version, plain = await payload.decrypt_bytes(prims, key, ciphertext)
            iv = b64.decode(case["iv"]) if "iv" in case else None
            first_line = ciphertext.split("\n", 1)[0]
            if version == 0:
                if "plaintext_utf16le" in case:
                    expect(b64.encode(plain) == case["plaintext_utf16le"], "v0 plaintext bytes differ")
                if iv is not None and isinstance(case.get("input"), str):
                    again = await payload.encrypt_legacy_v0(prims, key, case["input"], iv=iv)
                    expect(again == first_line, "v0 re-encryption with the same IV differs")
            else:
                if "plaintext_json" in case:
                    expect(plain == case["plaintext_json"].encode("utf-8", "surrogatepass"), "plaintext bytes differ")
                if case.get("kind") != "crafted" and iv is not None:
                    # Re-encrypting the decrypted object (signature included) with the same IV must
                    # give the same ciphertext: checks the serialisation and AES-GCM byte for byte.
                    uploads = bool((case.get("encrypt_opts") or {}).get("includeUploads"))
                    again = await payload.encrypt(prims, key, decrypted, iv=iv, include_uploads=uploads)
                    expect(again == ciphertext, "re-encryption with the same IV differs")
                if "upload_suffix" in case and isinstance(decrypted, dict) and isinstance(decrypted.get("raw"), str):
                    expected_suffix = case["upload_suffix"] or ""
                    expect(payload.upload_suffix(decrypted["raw"]) == expected_suffix, "upload suffix differs")
                if "signed_json" in case and isinstance(decrypted, dict):
                    unsigned = {k: v for k, v in decrypted.items() if k != "signature"}
                    signed_bytes = payload.serialize_v1(unsigned)
                    expect(signed_bytes == case["signed_json"].encode("utf-8", "surrogatepass"), "signed bytes differ")
            verify = case.get("verify")
            if verify:
                signer = await self.ident(verify["identity_index"])
                if verify.get("result") is None:
                    try:
                        await payload.verify(prims, signer.sign_public, decrypted)
                        raise CaseFailed("verify of an unsigned payload did not refuse")
                    except SignatureMissing:
                        pass
                else:
                    ok = await payload.verify(prims, signer.sign_public, decrypted)
                    expect(ok == verify["result"], f"verify gave {ok}, expected {verify['result']}")
            if "wrapped_topic_key" in case and "wrapped_to_identity_index" in case:
                owner = await self.ident(case["wrapped_to_identity_index"])
                unwrapped = await topickey.unwrap(prims, case["wrapped_topic_key"], owner.encrypt_private)
                expect(await topickey.to_raw(prims, unwrapped) == await topickey.to_raw(prims, key), "draft key differs")
                if "draft_reply_field" in case:
                    opened = await payload.open_draft_reply(prims, case["draft_reply_field"], owner.encrypt_private)
                    expect(opened == case["decrypted"], "draft reply field does not open to the expected text")
            return None

        await self.run_file(name, data.get("cases", []), check)

    # ----------------------------------------------------------------- negative.json
    async def check_negative(self, name, data):
        prims = self.prims

        async def attempt(coro):
            try:
                return True, await coro
            except PycoreError as exc:
                return False, exc

        async def check(case):
            op, want = case["op"], case["expect"]
            if op == "decrypt":
                key = await topickey.from_b64(prims, case["topic_key"])
                ok, value = await attempt(payload.decrypt(prims, key, case["ciphertext"]))
            elif op == "decrypt_then_verify":
                key = await topickey.from_b64(prims, case["topic_key"])
                ok, value = await attempt(payload.decrypt(prims, key, case["ciphertext"]))
                expect(ok, f"decryption failed: {value}")
                if "decrypted" in case:
                    expect(value == case["decrypted"], "decrypted value differs")
                signer = await self.ident(case["identity_index"])
                ok, value = await attempt(payload.verify(prims, signer.sign_public, value))
            elif op == "import_identity":
                ok, value = await attempt(identity.import_identity(prims, case["identity"], case.get("passphrase")))
                if ok:
                    value = {"version": value.version, "has_private": value.has_private}
            elif op == "import_key":
                ident = await self.ident(case["identity_index"])
                ok, value = await attempt(topickey.unwrap(prims, case["wrapped"], ident.encrypt_private))
            else:
                raise CaseFailed(f"unknown op {op!r}")

            if want == "reject":
                expect(not ok, f"accepted: {_short(value)}")
            elif want == "accept":
                expect(ok, f"rejected: {value}")
                observed = (case.get("observed") or {}).get("value")
                if observed is not None and op != "import_key":
                    expect(value == observed, f"gave {_short(value)}, expected {_short(observed)}")
            elif want in ("verify_true", "verify_false"):
                expect(ok, f"verify raised {value}")
                expect(value is (want == "verify_true"), f"verify gave {value}")
            else:
                raise CaseFailed(f"unknown expectation {want!r}")
            return None

        await self.run_file(name, data.get("cases", []), check)

    # ----------------------------------------------------------------- paper_keys.json
    async def check_paper_keys(self, name, data):
        prims = self.prims
        constants = data.get("constants") or {}
        if constants:
            ok = (constants.get("PACKED_KEY_COLUMNS", pack.COLUMNS) == pack.COLUMNS
                  and constants.get("PACKED_KEY_HEADER", pack.HEADER) == pack.HEADER
                  and constants.get("PACKED_KEY_FOOTER", pack.FOOTER) == pack.FOOTER)
            self.passed += ok
            self.failed += not ok
            if not ok:
                self.out(f"FAIL {name} constants differ from pycore.pack")

        async def check(case):
            op = case["op"]
            if op == "buffer_to_paper_key":
                got = paperkey.encode(b64.decode(case["buffer"]))
                expect(got == case["words"], f"gave {got!r}")
            elif op == "paper_key_to_buffer":
                if case.get("buffer") is None:
                    try:
                        got = paperkey.decode(case["input"])
                        raise CaseFailed(f"accepted as {got.hex()}")
                    except MalformedInput:
                        pass
                else:
                    got = paperkey.decode(case["input"])
                    expect(b64.encode(got) == case["buffer"], f"gave {b64.encode(got)}")
            elif op == "fix_paper_key":
                got = paperkey.normalize(case["input"])
                expect(got == case["output"], f"gave {got!r}")
            elif op == "paper_key_identity":
                words = case["paper_key"]
                if "paper_key_buffer" in case:
                    expect(b64.encode(paperkey.decode(words)) == case["paper_key_buffer"], "paper key bytes differ")
                if case.get("label", "").startswith("paper_"):
                    expect(paperkey.label(words) == case["label"], f"label {paperkey.label(words)!r}")
                opened = await identity.import_identity(prims, case["private"], paperkey.normalize(words))
                if "identity_index" in case:
                    base = await self.ident(case["identity_index"])
                    for member, jwk in base.jwks.items():
                        expect(opened.jwks.get(member) == jwk, f"{member} differs")
                if "public" in case:
                    expect(await identity.export_public(prims, opened) == case["public"], "public export differs")
                if "packed_private" in case:
                    expect(pack.pack_identity(case["private"]) == case["packed_private"], "packed block differs")
                    expect(pack.unpack_identity(case["packed_private"]) == case["private"], "unpack differs")
            elif op == "pack_identity":
                expect(pack.pack_identity(case["input"]) == case["packed"], "packed block differs")
                expect(pack.unpack_identity(case["packed"]) == case["input"], "unpack of the packed block differs")
            elif op == "unpack_identity":
                got = pack.unpack_identity(case["input"])
                expect(got == case["output"], f"gave {_short(got)}")
                if "identity_index" in case:
                    opened = await identity.import_identity(prims, got)
                    base = await self.ident(case["identity_index"])
                    expect(opened.jwks == base.jwks, "unpacked identity holds other keys")
            elif op == "packed_placeholder":
                expect(pack.PLACEHOLDER == case["output"], "placeholder differs")
                try:
                    pack.unpack_identity(case["output"])
                    raise CaseFailed("the placeholder was accepted as a key")
                except MalformedInput:
                    pass
            else:
                raise CaseFailed(f"unknown op {op!r}")
            return None

        await self.run_file(name, data.get("cases", []), check)


async def run_vectors(directory, prims=None, out=print) -> tuple[int, int]:
    if prims is None:
        from .primitives import default_primitives

        prims = default_primitives()
    return await Runner(directory, prims, out).run()

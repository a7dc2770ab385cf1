"""The leak oracle catches a secret in every supported encoding, and ignores unrelated traffic."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from tests.standin.oracle import LeakOracle

SECRETS = ["Meet me at the old mill at noon!", "pässwörd – ünïcödé ✓ 秘密", "short1"]


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


# Each encoder takes the secret and returns (body, query) as a client might send it.
ENCODERS = {
    "plain": lambda s: (f"text={s}", ""),
    "url-%20": lambda s: (f"raw={urllib.parse.quote(s, safe='')}&x=1", ""),
    "url-plus": lambda s: (urllib.parse.urlencode({"raw": s, "title": "Hello"}), ""),
    "query": lambda s: ("", urllib.parse.urlencode({"q": s})),
    "json": lambda s: (json.dumps({"data": s}), ""),
    "json-ascii": lambda s: (json.dumps({"data": s}, ensure_ascii=True), ""),
    "json-in-form": lambda s: (urllib.parse.urlencode({"data": json.dumps({"reply": s})}), ""),
    "json-nested-string": lambda s: (json.dumps({"data": json.dumps({"reply": s})}), ""),
    "base64": lambda s: (f"blob={b64(s.encode())}", ""),
    "base64-offset1": lambda s: (b64(b"x" + s.encode() + b"tail"), ""),
    "base64-offset2": lambda s: (b64(b"xy" + s.encode()), ""),
    "base64-in-json": lambda s: (json.dumps({"b": b64(b"prefix:" + s.encode())}), ""),
    "base64-urlencoded": lambda s: (urllib.parse.urlencode({"b": b64(b"ab" + s.encode() + b"\xff\xfe")}), ""),
    "base64url": lambda s: (f"t={b64url(b'q' + s.encode())}", ""),
    "hex": lambda s: (s.encode().hex(), ""),
    "HEX": lambda s: ("0x" + s.encode().hex().upper(), ""),
    "utf16le-base64": lambda s: (b64(s.encode("utf-16-le")), ""),
    "utf16be-base64-offset": lambda s: (b64(b"\x00" + s.encode("utf-16-be")), ""),
    "utf16le-hex": lambda s: (s.encode("utf-16-le").hex(), ""),
}


def entry(body="", query="", path="/posts.json", headers=None, body_bytes=None):
    e = {"method": "POST", "path": path, "query": query, "headers": headers or {"Host": "127.0.0.1"},
         "body": body}
    if body_bytes is not None:
        e["body_bytes"] = body_bytes
    return e


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("enc", sorted(ENCODERS))
def test_catches_each_encoding(secret, enc):
    o = LeakOracle()
    o.register(secret, "s")
    body, query = ENCODERS[enc](secret)
    leaks = o.scan([entry("harmless=1"), entry(body, query)])
    assert leaks, f"{enc} not detected"
    assert {lk.index for lk in leaks} == {1}


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_catches_raw_utf16_bodies(secret, codec):
    o = LeakOracle()
    o.register(secret)
    raw = b"\xff\xfe" + secret.encode(codec)
    assert o.scan([entry(raw.decode("utf-8", "replace"), body_bytes=raw)])


def test_catches_secret_in_header_and_path():
    o = LeakOracle()
    o.register("passphrase-correct-horse", "pp")
    assert o.scan([entry(headers={"X-Leak": "passphrase-correct-horse"})])
    assert o.scan([entry(path="/u/passphrase-correct-horse.json")])


def test_does_not_flag_unrelated_traffic():
    o = LeakOracle()
    for s in SECRETS:
        o.register(s)
    unrelated = [
        entry(urllib.parse.urlencode({"raw": "An entirely different message about lunch", "title": "Lunch"})),
        entry(json.dumps({"data": json.dumps({"reply": "unrelated draft text"})})),
        entry(b64(b"some other random payload bytes" * 5)),
        entry("".join(f"{i:02x}" for i in range(256))),
        entry(query="post_ids[]=1&post_ids[]=2&include_raw=true", path="/t/1/posts.json"),
    ]
    assert o.scan(unrelated) == []
    with pytest.raises(ValueError):
        o.register("abc")


@settings(max_examples=60, deadline=None)
@given(secret=st.text(min_size=8, max_size=40).filter(lambda s: len(s.strip()) >= 8),
       prefix=st.binary(max_size=5), enc=st.sampled_from(["base64", "base64url", "hex", "json", "url"]))
def test_property_embedded_anywhere(secret, prefix, enc):
    data = prefix + secret.encode()
    body = {"base64": lambda: b64(data), "base64url": lambda: b64url(data), "hex": lambda: data.hex(),
            "json": lambda: json.dumps({"k": secret}), "url": lambda: urllib.parse.quote_plus(secret)}[enc]()
    o = LeakOracle()
    o.register(secret)
    assert o.scan([entry(body)])


def test_check_reports_where(standin):
    o = LeakOracle()
    o.watch(standin)
    o.register("the launch code is 0000", "launch code")
    standin.client().get("/u/search/users.json?term=ok")
    o.check()   # nothing yet
    standin.client().post("/__hostile/exfil", data={"x": "the launch code is 0000"}, csrf=False)
    with pytest.raises(AssertionError) as e:
        o.check()
    assert "'launch code'" in str(e.value) and "/__hostile/exfil" in str(e.value)


def test_fixture_fails_leaking_test_at_teardown(tmp_path):
    """Run a tiny test session: the leaking test must error at teardown, the clean one must pass."""
    repo = Path(__file__).resolve().parent.parent
    t = tmp_path / "test_leaky.py"
    t.write_text(textwrap.dedent("""
        pytest_plugins = ["tests.standin.fixtures"]

        def test_leaks(standin, leak_oracle):
            leak_oracle.register("my secret passphrase", "passphrase")
            standin.client().post("/__hostile/exfil", data={"p": "my secret passphrase"}, csrf=False)

        def test_clean(standin, leak_oracle):
            leak_oracle.register("my secret passphrase", "passphrase")
            standin.client().post("/__hostile/exfil", data={"p": "nothing to see"}, csrf=False)
    """))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                        "-c", "/dev/null", str(t)], cwd=repo, capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, "PYTHONPATH": str(repo)})
    out = r.stdout + r.stderr
    assert "2 passed, 1 error" in out and "ERROR at teardown of test_leaks" in out, out
    assert "passphrase" in out and "/__hostile/exfil" in out


FILE_BYTES = bytes(range(256))[::-1] + b"\x89PNG\r\n\x1a\n\x00\x00 a file's own bytes \xff\xfe"


@pytest.mark.parametrize("carry", [
    lambda d: b"--boundary\r\nContent-Type: image/png\r\n\r\n" + d + b"\r\n--boundary--",   # a multipart upload
    lambda d: b64(b"xy" + d).encode(),
    lambda d: json.dumps({"data": b64(d)}).encode(),
    lambda d: d.hex().encode(),
])
def test_catches_a_files_bytes(carry):
    o = LeakOracle()
    o.register_bytes("a file", FILE_BYTES)
    found = o.scan([entry(body_bytes=carry(FILE_BYTES))])
    assert [x.label for x in found] == ["a file"]
    # other bytes of the same length are not a leak
    assert o.scan([entry(body_bytes=carry(bytes(len(FILE_BYTES))))]) == []
    with pytest.raises(ValueError):
        o.register_bytes("too short", b"abc")

"""pycore.engine on CPython: lifecycle, throttling, auto-lock, browser-session marker, reset,
import/export, paper keys, post decryption. Injected clock, no sleeping."""
import json
import os
from pathlib import Path

import pytest

from pycore import engine as E
from pycore.plugin import identity, pack, paperkey
from pycore.errors import KeyUnusable, Locked
from pycore.primitives import default_primitives
from tests.engine_support import Clock, EngineReplies, run

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ENCRYPT_SHARED_DIR") or REPO.parent / "shared")
VECTORS = SHARED / "vectors"
PASS = "a long enough passphrase 1"
FAST_KDF = 1000  # unit tests only; the default (>= 1,000,000) is checked in test_default_kdf_cost


def vec(name):
    return json.loads((VECTORS / f"{name}.json").read_text())


class Harness(EngineReplies):
    def __init__(self, store=None, clock=None, iterations=FAST_KDF, marker="m1"):
        self.prims = default_primitives()
        self.store = store or E.MemoryStore()
        self.clock = clock or Clock()
        self.engine = E.Engine(self.prims, self.store, self.clock, kdf_iterations=iterations)
        self.marker = marker

    def context(self, sender, marker=None):
        return {"sender": sender, "marker": marker or self.marker}

    def restart(self, marker=None):
        """A new Engine on the same store: a restarted offscreen document / background page."""
        return Harness(self.store, self.clock, self.engine.kdf_iterations, marker or self.marker)


def alice_private():
    return vec("identities")["cases"][0]["exports"][0]["private"]


def imported(h=None, text=None, passphrase=None):
    h = h or Harness()
    payload = {"text": text or alice_private(), "new_passphrase": PASS}
    if passphrase:
        payload["passphrase"] = passphrase
    h.ok("identity.import", payload)
    return h


def test_status_without_identity():
    h = Harness()
    st = h.ok("engine.status")
    assert st["has_identity"] is False and st["unlocked"] is False
    assert h.err("identity.unlock", {"passphrase": PASS})["code"] == "no_identity"
    assert h.err("identity.public")["code"] == "no_identity"


def test_default_kdf_cost_and_generation():
    h = Harness(iterations=E.MIN_KDF_ITERATIONS)
    assert E.Engine(h.prims, E.MemoryStore()).kdf_iterations >= 1_000_000
    assert h.refused("identity.create", {"passphrase": "too short"})["code"] == "bad_request"
    res = h.ok("identity.create", {"passphrase": PASS})
    assert res["unlocked"] is True and res["version"] == 1 and res["public"].startswith("1$")
    rec = run(h.store.get("identity"))
    assert rec["blob"]["iterations"] >= 1_000_000 and rec["blob"]["kdf"] == "PBKDF2-SHA256"
    st = h.ok("engine.status")
    assert st["has_identity"] and st["unlocked"] and st["kdf_iterations"] >= 1_000_000
    # A second create is refused: reset first.
    assert h.err("identity.create", {"passphrase": PASS})["code"] == "identity_exists"
    # The generated identity works after lock/unlock with the 1M-iteration blob.
    h.ok("identity.lock")
    assert h.ok("identity.unlock", {"passphrase": PASS})["fingerprint"] == res["fingerprint"]


def test_passphrase_never_stored_and_private_keys_not_extractable():
    h = imported()
    dump = json.dumps({k: v for k, v in h.store.data.items() if isinstance(v, str)})
    assert PASS not in dump
    ident = run(h.engine.require_unlocked())
    for handle in (ident.encrypt_private, ident.sign_private):
        with pytest.raises(KeyUnusable):
            run(h.prims.rsa_export_jwk(handle))
    # The unprotected private identity is not in the store in clear either.
    d = vec("identities")["cases"][0]["jwk"]["encryptPrivate"]["d"]
    assert d[:40] not in dump and d[:40] not in json.dumps(run(h.store.get("session")))


def test_lock_unlock_and_engine_restart():
    h = imported()
    fp = h.ok("identity.public")["fingerprint"]
    assert h.ok("engine.status")["unlocked"] is True
    # Engine restart (new instance, same store, same browser session): still unlocked.
    h2 = h.restart()
    assert h2.ok("engine.status")["unlocked"] is True
    assert run(h2.engine.require_unlocked()).has_private
    h2.ok("identity.lock")
    assert h2.ok("engine.status")["unlocked"] is False
    assert not any(k.startswith("session") for k in h2.store.data)
    with pytest.raises(Locked):
        run(h2.engine.require_unlocked())
    assert h2.ok("identity.unlock", {"passphrase": PASS})["fingerprint"] == fp
    assert h2.ok("engine.status")["unlocked"] is True


def test_browser_session_marker_drops_unlocked_keys():
    h = imported()
    assert h.ok("engine.status")["unlocked"] is True
    # Browser restart: the router has a new marker. Keys are dropped, identity stays.
    st = h.ok("engine.status", marker="m2")
    assert st["unlocked"] is False and st["has_identity"] is True
    assert "session.encrypt_private" not in h.store.data
    # Back with the old marker does not bring them back.
    assert h.ok("engine.status", marker="m1")["unlocked"] is False
    assert h.ok("identity.unlock", {"passphrase": PASS}, marker="m2")["unlocked"] is True
    assert h.ok("engine.status", marker="m2")["unlocked"] is True


def test_wrong_passphrase_is_refused_and_throttled():
    h = imported()
    h.ok("identity.lock")
    assert h.err("identity.unlock", {"passphrase": "wrong passphrase 1234"})["code"] == "wrong_passphrase"
    # After the first failure there is no wait (delay 0): the next try is allowed and fails again.
    assert h.err("identity.unlock", {"passphrase": "wrong passphrase 1234"})["code"] == "wrong_passphrase"
    # Now 1 s: even the right passphrase is refused without being tried.
    e = h.err("identity.unlock", {"passphrase": PASS})
    assert e["code"] == "throttled" and 0 < e["retry_after"] <= 1
    assert h.ok("engine.status")["throttled_for"] > 0
    # Throttling survives an engine restart (persisted).
    h2 = h.restart()
    assert h2.err("identity.unlock", {"passphrase": PASS})["code"] == "throttled"
    h2.clock.advance(1.01)
    assert h2.err("identity.unlock", {"passphrase": "wrong again 123456"})["code"] == "wrong_passphrase"
    e = h2.err("identity.unlock", {"passphrase": PASS})
    assert e["code"] == "throttled" and 1 < e["retry_after"] <= 2 and e["failures"] == 3
    h2.clock.advance(2.01)
    assert h2.ok("identity.unlock", {"passphrase": PASS})["unlocked"] is True
    st = h2.ok("engine.status")
    assert st["failures"] == 0 and st["throttled_for"] == 0


def test_throttle_schedule_grows_and_caps():
    assert [E.throttle_delay(n) for n in range(1, 8)] == [0, 1, 2, 4, 8, 16, 32]
    assert E.throttle_delay(100) == E.THROTTLE_CAP_SECONDS


def test_export_and_paperkey_need_the_passphrase_and_are_throttled():
    h = imported()
    assert h.err("identity.export", {"passphrase": "not the passphrase"})["code"] == "wrong_passphrase"
    assert h.err("identity.paperkey", {"passphrase": "not the passphrase"})["code"] == "wrong_passphrase"
    assert h.err("identity.export", {"passphrase": PASS})["code"] == "throttled"
    h.clock.advance(1.5)
    packed = h.ok("identity.export", {"passphrase": PASS})["packed"]
    assert packed.startswith(pack.HEADER)
    assert pack.unpack_identity(packed) == alice_private()


def test_auto_lock_after_idle_time():
    h = imported()
    assert h.ok("settings.get")["auto_lock_seconds"] == E.DEFAULT_AUTO_LOCK_SECONDS
    h.ok("settings.set", {"auto_lock_seconds": 3})
    h.clock.advance(2)
    h.ok("settings.set", {"auto_lock_seconds": 3})  # an active request: restarts the idle timer
    h.clock.advance(2)
    # Passive requests (status, tick) neither extend the session nor unlock anything.
    assert h.ok("engine.status")["unlocked"] is True
    h.clock.advance(0.5)
    assert h.ok("engine.tick")["unlocked"] is True
    h.clock.advance(0.6)  # 3.1 s since the last activity
    assert h.ok("engine.tick")["unlocked"] is False
    assert "session.sign_private" not in h.store.data
    assert h.ok("engine.status")["has_identity"] is True
    assert h.refused("settings.set", {"auto_lock_seconds": 0})["code"] == "bad_request"


def test_security_phrase_is_kept_for_extension_pages_only():
    h = Harness()
    assert h.ok("settings.get")["security_phrase"] is None
    out = h.ok("settings.set", {"security_phrase": "  blue heron at dawn  "})
    assert out["security_phrase"] == "blue heron at dawn" and out["auto_lock_seconds"] == E.DEFAULT_AUTO_LOCK_SECONDS
    assert h.ok("settings.get", sender="frame:viewer")["security_phrase"] == "blue heron at dawn"
    # the page's content script can neither read nor set it
    h.call("settings.get", sender="content", router_rejects=True)
    h.call("settings.set", {"security_phrase": "x"}, sender="content", router_rejects=True)
    assert h.refused("settings.set", {"security_phrase": ""})["code"] == "bad_request"
    assert h.refused("settings.set", {"security_phrase": "x" * 61})["code"] == "bad_request"


def test_default_auto_lock_is_thirty_minutes():
    h = imported()
    h.clock.advance(29 * 60)
    assert h.ok("engine.status")["unlocked"] is True
    h.clock.advance(61)
    assert h.ok("engine.status")["unlocked"] is False


def test_reset():
    h = imported()
    assert h.refused("identity.reset", {"confirm": "yes"})["code"] == "bad_request"
    assert h.ok("engine.status")["has_identity"] is True
    assert h.ok("identity.reset", {"confirm": "RESET"}) == {"has_identity": False, "unlocked": False}
    assert h.ok("engine.status")["has_identity"] is False
    assert not any(k.startswith("session") or k == "identity" for k in h.store.data)
    imported(h)  # a new identity can be set up again


@pytest.mark.parametrize("index", [0, 1, 2])
def test_import_vector_identities_all_forms(index):
    case = vec("identities")["cases"][index]
    ref = run(identity.import_identity(default_primitives(), case["exports"][0]["private"]))
    fp = run(identity.fingerprint(default_primitives(), ref)).hex()
    forms = [(case["exports"][0]["private"], None, "identity"),
             (pack.pack_identity(case["exports"][0]["private"]), None, "packed"),
             (case["exports"][1]["private"], case["exports"][1]["passphrase"], "protected"),
             (case["exports"][2]["private"], case["exports"][2]["passphrase"], "protected")]
    for text, pw, how in forms:
        h = Harness()
        payload = {"text": text, "new_passphrase": PASS, **({"passphrase": pw} if pw else {})}
        res = h.ok("identity.import", payload)
        assert res["fingerprint"] == fp and res["imported_from"] == how and res["version"] == case["version"]
        assert h.ok("identity.public")["public"] == case["exports"][0]["public"]


def test_import_errors():
    case = vec("identities")["cases"][0]
    h = Harness()
    assert h.err("identity.import", {"text": case["exports"][0]["public"], "new_passphrase": PASS})["code"] == "bad_request"
    assert h.err("identity.import", {"text": case["exports"][1]["private"], "new_passphrase": PASS,
                                     "passphrase": "wrong"})["code"] == "wrong_passphrase"
    assert h.err("identity.import", {"text": "garbage", "new_passphrase": PASS})["code"] == "malformed_input"
    assert h.refused("identity.import", {"text": case["exports"][0]["private"], "new_passphrase": "short"})["code"] == "bad_request"
    imported(h)
    assert h.err("identity.import", {"text": case["exports"][0]["private"], "new_passphrase": PASS})["code"] == "identity_exists"


def test_import_paper_key_label_map_and_loose_typing():
    pk = next(c for c in vec("paper_keys")["cases"] if c["op"] == "paper_key_identity" and c["label"].startswith("paper_"))
    ident_case = vec("identities")["cases"][int(pk["identity_index"])]
    fp = run(identity.fingerprint(default_primitives(),
                                  run(identity.import_identity(default_primitives(), ident_case["exports"][0]["private"])))).hex()
    label_map = json.dumps({"device": "1$bogus", pk["label"]: pk["private"]})
    h = Harness()
    res = h.ok("identity.import", {"text": label_map, "passphrase": pk["paper_key"], "new_passphrase": PASS})
    assert res["fingerprint"] == fp and res["imported_from"] == "label_map"
    # The protected string alone, with the paper key typed in lower case with odd spacing.
    h = Harness()
    loose = "  " + "\n".join(pk["paper_key"].lower().split(" ")) + " "
    res = h.ok("identity.import", {"text": pk["private"], "passphrase": loose, "new_passphrase": PASS})
    assert res["fingerprint"] == fp


def test_generate_paper_key_round_trip():
    h = imported()
    out = h.ok("identity.paperkey", {"passphrase": PASS})
    words = out["paper_key"].split(" ")
    assert len(words) == 12 and out["label"] == "paper_" + words[0].lower()
    assert out["label_map"] == {out["label"]: out["identity"]}
    # The protected identity opens with the paper key, and a fresh engine imports the label map.
    h2 = Harness()
    res = h2.ok("identity.import", {"text": json.dumps(out["label_map"]), "passphrase": out["paper_key"],
                                    "new_passphrase": PASS})
    assert res["fingerprint"] == h.ok("identity.public")["fingerprint"]
    assert paperkey.decode(out["paper_key"])  # a valid paper key


def _post_vector(name):
    posts = vec("posts")
    post = next(c for c in posts["cases"] if c["name"] == name)
    wrapped = next(c for c in vec("topic_keys")["cases"]
                   if str(c["topic_key_index"]) == str(post["topic_key_index"]) and str(c["identity_index"]) == "0")["wrapped"]
    return post, wrapped


@pytest.mark.parametrize("name", ["create_signed_one_upload", "v0_unicode", "title_1"])
def test_post_decrypt_vector(name):
    post, wrapped = _post_vector(name)
    h = imported()
    h.ok("identity.lock")
    assert h.err("post.decrypt", {"wrapped_key": wrapped, "ciphertext": post["ciphertext"]})["code"] == "locked"
    h.ok("identity.unlock", {"passphrase": PASS})
    out = h.ok("post.decrypt", {"wrapped_key": wrapped, "ciphertext": post["ciphertext"]})
    assert out["post"] == post["decrypted"]
    # A key wrapped for someone else is refused.
    other = next(c for c in vec("topic_keys")["cases"] if str(c["identity_index"]) == "1")["wrapped"]
    assert h.err("post.decrypt", {"wrapped_key": other, "ciphertext": post["ciphertext"]})["code"] == "wrong_key"


def test_unknown_type_and_bad_payload():
    h = Harness()
    assert h.refused("nope.nothing")["code"] == "unknown_type"
    r = run(h.engine.handle("engine.status", "not a dict", {}))
    assert r["ok"] is False and r["error"]["code"] == "bad_request"


def test_a_handler_gets_the_engine_the_payload_and_the_context():
    seen = {}

    async def whoami(engine, payload, context):
        ident = await engine.require_unlocked()
        seen["ctx"] = context
        return {"fingerprint": (await identity.fingerprint(engine.prims, ident)).hex(), "echo": payload.get("x"),
                "now": engine.clock()}

    h = Harness()
    h.engine.handlers["conv.whoami"] = whoami
    assert h.call_unrouted("conv.whoami")["error"]["code"] == "locked"
    imported(h)
    res = h.call_unrouted("conv.whoami", {"x": 5})["result"]
    assert res["echo"] == 5 and res["now"] == h.clock() and res["fingerprint"] == h.ok("identity.public")["fingerprint"]
    assert seen["ctx"]["marker"] == "m1"

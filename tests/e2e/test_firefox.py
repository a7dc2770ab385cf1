"""Firefox ESR smoke test: the engine in the background page; create, lock/unlock, import, decrypt."""
import pytest

from .conftest import PASSPHRASE, vectors

pytestmark = [pytest.mark.e2e, pytest.mark.firefox, pytest.mark.forum_independent]


def test_firefox_create_unlock_decrypt(firefox):
    b = firefox("alice")
    b.open_page("ui/options.html")
    b.wait_state("none", timeout=120)
    # Create (RSA-4096 generation in Firefox's WebCrypto, through the UI).
    b.type_into("#create-pass", PASSPHRASE)
    b.type_into("#create-confirm", PASSPHRASE)
    b.click("#create-btn")
    b.wait_state("unlocked", timeout=180)
    st = b.status()
    assert st["has_identity"] and st["version"] == 1 and st["kdf_iterations"] >= 1_000_000
    b.click("#lock-btn")
    b.wait_state("locked")
    r = b.send("identity.unlock", {"passphrase": "wrong passphrase, wrong"})
    assert r["ok"] is False and r["error"]["code"] == "wrong_passphrase"
    b.type_into("#unlock-pass", PASSPHRASE)
    b.click("#unlock-btn")
    b.wait_state("unlocked")
    # The engine restarts (background page suspended / Pyodide dropped): still unlocked.
    b.drop_engine()
    assert b.status()["unlocked"] is True
    info = b.engine_info()
    assert info["boots"] == 2 and info["snapshot"] == "restored", info
    # Replace it with the vector identity and decrypt a vector post through the engine.
    b.call("identity.reset", {"confirm": "RESET"})
    case = vectors("identities")["cases"][0]
    b.import_identity(case["exports"][1]["private"], PASSPHRASE, passphrase=case["exports"][1]["passphrase"])
    assert b.call("identity.public")["public"] == case["exports"][0]["public"]
    post = next(c for c in vectors("posts")["cases"] if c["name"] == "reply_markdown")
    wrapped = next(c for c in vectors("topic_keys")["cases"]
                   if str(c["topic_key_index"]) == str(post["topic_key_index"]) and str(c["identity_index"]) == "0")["wrapped"]
    assert b.call("post.decrypt", {"wrapped_key": wrapped, "ciphertext": post["ciphertext"]})["post"] == post["decrypted"]

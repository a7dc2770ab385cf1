// Loads Pyodide exactly as shipped in a built extension (trimmed python_stdlib.zip, pycore.zip),
// imports every pycore module and runs the engine with WebCrypto on an in-memory store.
// Usage: node tests/build_pyodide_check.mjs <dist/chromium> <identities.json> <posts.json> <topic_keys.json>
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [dist, idsPath, postsPath, keysPath] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(path.join(dist, "pyodide", "pyodide.mjs")).href);
const py = await loadPyodide({ indexURL: path.join(dist, "pyodide") + "/", packages: [] });
py.unpackArchive(new Uint8Array(readFileSync(path.join(dist, "pycore.zip"))), "zip", { extractDir: "/lib/efd" });
py.globals.set("IDS", readFileSync(idsPath, "utf8"));
py.globals.set("POSTS", readFileSync(postsPath, "utf8"));
py.globals.set("KEYS", readFileSync(keysPath, "utf8"));
const out = await py.runPythonAsync(`
import sys, json, importlib, pkgutil
sys.path.insert(0, "/lib/efd")
import pycore
mods = sorted(m.name for m in pkgutil.walk_packages(pycore.__path__, "pycore."))
failed = {}
for m in mods:
    try:
        importlib.import_module(m)
    except Exception as e:
        failed[m] = repr(e)
std = ["asyncio", "json", "base64", "hashlib", "hmac", "secrets", "dataclasses", "typing", "re", "struct",
       "zlib", "datetime", "traceback", "inspect", "logging", "zipfile", "pathlib", "tempfile", "shutil",
       "subprocess", "argparse", "random", "unicodedata", "difflib", "statistics", "decimal", "copy", "enum"]
for m in std:
    try:
        importlib.import_module(m)
    except Exception as e:
        failed[m] = repr(e)
# the lazy import inside traceback formatting (suggestions use difflib etc.)
try:
    undefined_name_xyz
except NameError:
    import traceback; traceback.format_exc()

from pycore.engine import Engine, MemoryStore
from pycore.primitives import default_primitives
prims = default_primitives()
clock = [1000.0]
eng = Engine(prims, MemoryStore(), lambda: clock[0])
ctx = {"sender": "page:options", "marker": "m"}
ids, posts, keys = json.loads(IDS), json.loads(POSTS), json.loads(KEYS)
P = "a long enough passphrase 1"
steps = {}
steps["import"] = await eng.handle("identity.import", {"text": ids["cases"][0]["exports"][0]["private"], "new_passphrase": P}, ctx)
steps["lock"] = await eng.handle("identity.lock", {}, ctx)
steps["wrong"] = await eng.handle("identity.unlock", {"passphrase": "nope nope nope nope"}, ctx)
steps["unlock"] = await eng.handle("identity.unlock", {"passphrase": P}, ctx)
post = next(c for c in posts["cases"] if c["name"] == "reply_unicode")
wrapped = next(c for c in keys["cases"] if str(c["topic_key_index"]) == str(post["topic_key_index"]) and str(c["identity_index"]) == "0")["wrapped"]
steps["decrypt"] = await eng.handle("post.decrypt", {"wrapped_key": wrapped, "ciphertext": post["ciphertext"]}, ctx)
expected = post["decrypted"]
json.dumps({"platform": sys.platform, "prims": prims.name, "modules": mods, "failed": failed, "steps": steps,
            "decrypt_matches": steps["decrypt"].get("result", {}).get("post") == expected})
`);
console.log(out);

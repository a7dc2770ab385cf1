"""`python build.py bench [--json FILE] [--runs N]`: engine figures in a real headless Chromium.

Prints a table; no assertions (numbers are noisy on a 2-core machine). Uses dist/chromium-test
(the test hooks drop the engine and time the content-script round trip) and the store zips.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "benchmark passphrase, long enough"
TARGETS = {"engine_cold_start_ms": None, "engine_wake_ms": 300, "roundtrip_warm_ms": 30, "zip_bytes": 5_000_000}

_TIME_SEND = """
const [type, payload, done] = arguments;
const t0 = performance.now();
chrome.runtime.sendMessage({type, payload}).then((r) => done({ms: performance.now() - t0, sinceNav: performance.now(), ok: !!(r && r.ok), r}));
"""


def _timed(b, type, payload=None, timeout=180):
    b.driver.set_script_timeout(timeout)
    out = b.driver.execute_async_script(_TIME_SEND, type, payload or {})
    if not out["ok"]:
        raise RuntimeError(f"{type} failed: {out['r']}")
    return out


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


def _serve(root: Path):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


def run(runs: int = 3) -> dict:
    from tests.e2e.browser import ChromiumExt, wait_until
    from tests.e2e.conftest import DISCOURSE_PAGE
    ext = REPO / "dist" / "chromium-test"
    if not (ext / "manifest.json").is_file():
        raise SystemExit("build first: python build.py")
    res: dict = {"cold": [], "wake": [], "roundtrip": [], "create": [], "unlock": [], "boot_in_doc": []}
    ids = json.loads(((REPO.parent / "shared") / "vectors" / "identities.json").read_text())
    site_root = Path(tempfile.mkdtemp(prefix="efd-bench-site-"))
    (site_root / "index.html").write_text(DISCOURSE_PAGE)
    srv, origin = _serve(site_root)
    try:
        for i in range(runs):
            b = ChromiumExt.launch(ext, Path(tempfile.mkdtemp(prefix="efd-bench-")))
            try:
                # Cold start in a fresh profile: opening the options page starts the engine; time
                # from navigation start until an engine request is answered.
                b.driver.get(b.url("ui/options.html"))
                res["cold"].append(_timed(b, "engine.status")["sinceNav"])
                res["boot_in_doc"].append(b.call("test.engine_info")["lastBootMs"])
                if i == 0:
                    b.call("identity.import", {"text": ids["cases"][0]["exports"][0]["private"], "new_passphrase": PASSPHRASE})
                    # Wake after the engine was dropped (offscreen document closed).
                    for _ in range(runs):
                        b.call("test.drop_engine")
                        wait_until(lambda: not b.offscreen_open(), timeout=20, what="offscreen closed")
                        res["wake"].append(_timed(b, "engine.status")["ms"])
                        res.setdefault("wake_boot_in_doc", []).append(b.call("test.engine_info")["lastBootMs"])
                    # Unlock at the stored KDF cost.
                    for _ in range(3):
                        b.call("identity.lock")
                        res["unlock"].append(_timed(b, "identity.unlock", {"passphrase": PASSPHRASE})["ms"])
                    res["kdf_iterations"] = b.call("engine.status")["kdf_iterations"]
                    # Key generation (create = 2x RSA-4096 generation + PBKDF2 + storing).
                    for _ in range(2):
                        b.call("identity.reset", {"confirm": "RESET"})
                        res["create"].append(_timed(b, "identity.create", {"passphrase": PASSPHRASE})["ms"])
                    # Warm round trip content script -> router -> engine -> back.
                    b.call("site.enable", {"origin": origin})
                    b.driver.get(origin + "/index.html")
                    wait_until(lambda: b.driver.execute_script("return document.documentElement.dataset.efdContent"),
                               timeout=30, what="content script")
                    for _ in range(25):
                        b.driver.execute_script("document.documentElement.removeAttribute('data-efd-roundtrip');"
                                                "document.dispatchEvent(new CustomEvent('efd-test-roundtrip'))")
                        rt = json.loads(wait_until(lambda: b.driver.execute_script(
                            "return document.documentElement.getAttribute('data-efd-roundtrip')"), timeout=30,
                            what="round trip"))
                        res["roundtrip"].append(rt["ms"])
                    res["roundtrip"] = res["roundtrip"][5:]  # the first few warm the path up
            finally:
                b.close()
    finally:
        srv.shutdown()
        srv.server_close()
    zips = {p.name: p.stat().st_size for p in sorted((REPO / "dist").glob("encrypt-for-discourse-*.zip"))}
    return {"raw": res, "zips": zips}


def summarize(data: dict) -> list[tuple[str, str, str, str]]:
    r = data["raw"]
    med = lambda xs: statistics.median(xs) if xs else float("nan")
    rows = [
        ("engine cold start, fresh profile (page open -> answer)", f"{med(r['cold']):.0f} ms",
         f"min {min(r['cold']):.0f} / max {max(r['cold']):.0f}, n={len(r['cold'])}", "-"),
        ("  first boot in the engine document (incl. making the snapshot)", f"{med(r['boot_in_doc']):.0f} ms", "", "-"),
        ("engine wake after being dropped (request -> answer)", f"{med(r['wake']):.0f} ms",
         f"min {min(r['wake']):.0f} / max {max(r['wake']):.0f}, n={len(r['wake'])}", "<= 300 ms"),
        ("  of which booting Pyodide from the snapshot in the document", f"{med(r['wake_boot_in_doc']):.0f} ms",
         f"min {min(r['wake_boot_in_doc']):.0f} / max {max(r['wake_boot_in_doc']):.0f}", "<= 300 ms"),
        ("warm round trip content script -> engine -> back", f"{med(r['roundtrip']):.1f} ms",
         f"min {min(r['roundtrip']):.1f} / max {max(r['roundtrip']):.1f}, n={len(r['roundtrip'])}", "<= 30 ms"),
        ("create identity (2x RSA-4096 keygen + KDF)", f"{med(r['create']):.0f} ms",
         f"min {min(r['create']):.0f} / max {max(r['create']):.0f}, n={len(r['create'])}", "-"),
        (f"unlock (PBKDF2-SHA256 x {r.get('kdf_iterations', '?'):,})", f"{med(r['unlock']):.0f} ms",
         f"n={len(r['unlock'])}", "-"),
    ]
    for name, size in data["zips"].items():
        rows.append((f"zip {name}", f"{size:,} B", f"{size / 1e6:.2f} MB", "<= 5 MB"))
    return rows


def main(argv: list[str]) -> int:
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 3
    data = run(runs)
    rows = summarize(data)
    w = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(w)}  {'median':>12}  {'spread':<34} target")
    for name, val, spread, target in rows:
        print(f"{name.ljust(w)}  {val:>12}  {spread:<34} {target}")
    if "--json" in argv:
        out = Path(argv[argv.index("--json") + 1])
        out.write_text(json.dumps({"rows": [dict(zip(("measure", "median", "spread", "target"), r)) for r in rows],
                                   **data}, indent=2))
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

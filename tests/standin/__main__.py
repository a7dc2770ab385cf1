"""python -m tests.standin [--port 8080] [--demo] [--inject FILE.js ...] [--hostile] [--settings FILE.json] [--set key=value ...]"""
from __future__ import annotations

import argparse
import json
import signal
import threading

from .profile import load_settings_file
from .server import StandinServer, hostile_scripts, seed_demo


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.standin", description="Discourse stand-in server")
    ap.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0 = any free port)")
    ap.add_argument("--demo", action="store_true", help="seed demo users (alice, bob, carol, dave=TL0, admin)")
    ap.add_argument("--inject", action="append", default=[], metavar="FILE.js",
                    help="inject this script into every page's main world (repeatable)")
    ap.add_argument("--hostile", action="store_true", help="inject all built-in hostile scripts")
    ap.add_argument("--settings", metavar="FILE.json",
                    help="a settings profile (JSON object), e.g. tests/e2e/profiles/real-forum.json")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a site setting (value parsed as JSON when possible)")
    a = ap.parse_args(argv)
    settings = load_settings_file(a.settings) if a.settings else {}
    for kv in a.set:
        k, _, v = kv.partition("=")
        try:
            settings[k] = json.loads(v)
        except ValueError:
            settings[k] = v
    inject = list(a.inject) + (hostile_scripts() if a.hostile else [])
    srv = StandinServer(inject=inject, settings=settings, port=a.port).start()
    print(f"Discourse stand-in running at {srv.url}/", flush=True)
    if a.demo:
        for name, pw, tl in seed_demo(srv):
            print(f"  login: {name:6s} password: {pw}  (trust level {tl})", flush=True)
        print("Try the extension (step by step: docs/DEMO.md):\n"
              "  1. Load the unpacked extension, one browser profile per user:\n"
              "     Chromium: chrome://extensions > Developer mode > Load unpacked > dist/chromium\n"
              "               (or: chromium --user-data-dir=/tmp/efd-demo-alice --load-extension=$PWD/dist/chromium)\n"
              "     Firefox:  about:debugging#/runtime/this-firefox > Load Temporary Add-on > dist/firefox/manifest.json\n"
              f"  2. Log in at {srv.url}/login, click the toolbar button > Enable on this site (allow access).\n"
              "  3. Create an identity in the options page; on Your messages > Encrypted inbox > Publish my key.\n"
              "  4. Your messages > New encrypted message; the recipient opens the topic to read it.", flush=True)
    for i in inject:
        print(f"  injecting: {i}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(0.5):   # short waits so the SIGTERM handler gets to run
            pass
    except KeyboardInterrupt:
        pass
    srv.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

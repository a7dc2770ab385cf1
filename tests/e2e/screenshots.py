"""Store screenshots of the real product, taken from the demo in real headless Chromium at 1280×800:

    python build.py screenshots [--out DIR]      (default docs/store/screenshots; needs a build)

alice and bob on the Discourse stand-in with demo users (no hostile page scripts: these are
pictures of the product, not tests of it). Writes popup.png, options.png, composer.png,
viewer.png, inbox.png, safety-code.png and prints each path.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SIZE = (1280, 800)
PASSPHRASE = "demo passphrase for screenshots"
NAMES = ["popup", "options", "composer", "viewer", "inbox", "safety-code"]


def take(out: Path, ext_dir: Path) -> list[Path]:
    from tests.standin.server import StandinServer

    from .browser import ChromiumExt, wait_until
    from .convo import ForumUser, enable_and_publish, import_vector, send_new_message

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    srv = StandinServer().start()
    users = []
    # The profiles are removed only after the browsers have quit: a running Chromium keeps writing
    # into its profile, and removing it under the browser fails.
    tmp = tempfile.mkdtemp(prefix="efd-shots-")
    try:
        for name in ("alice", "bob"):
            srv.create_user(name, "demo-password-123", trust_level=1, age_days=30)
        for i, name in enumerate(("alice", "bob")):
            u = ForumUser(ChromiumExt.launch(ext_dir, Path(tmp) / name), srv, name)
            users.append(u)
            u.d.set_window_size(*SIZE)
            u.login()
            import_vector(u, i, PASSPHRASE)
            u.call("settings.set", {"security_phrase": f"{name}'s blue heron"})
            enable_and_publish(u)
        alice, bob = users

        def shot(u, name):
            u.d.switch_to.default_content()
            # exactly the stores' 1280×800, whatever the headless window's frame takes
            u.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": SIZE[0], "height": SIZE[1], "deviceScaleFactor": 1, "mobile": False})
            p = out / f"{name}.png"
            u.d.save_screenshot(str(p))
            written.append(p)

        alice.b.open_page("ui/popup.html")
        shot(alice, "popup")
        alice.ext_page("ui/options.html")
        shot(alice, "options")
        send_new_message(alice, ["bob"], "Dinner on Saturday?",
                         "Shall we meet at **eight**? I can book the table by the window.", send=False)
        shot(alice, "composer")
        alice.send_composer()
        topic_id = alice.wait_topic_page()
        bob.to_forum(f"/t/{topic_id}")
        bob.read_viewer(srv.posts(topic_id)[0]["id"])
        shot(bob, "viewer")
        bob.inbox()
        wait_until(lambda: bob.d.find_elements("css selector", "#conversations .conv-title"), timeout=60,
                   what="bob's inbox lists the conversation")
        shot(bob, "inbox")
        bob.type("#lookup-user", "alice")
        bob.b.click("#lookup-btn")
        wait_until(lambda: bob.d.find_element("css selector", "#safety").is_displayed(), timeout=30,
                   what="the safety code with alice")
        bob.d.execute_script("document.querySelector('#safety').scrollIntoView({block: 'center'})")
        shot(bob, "safety-code")
    finally:
        for u in users:
            u.b.close()
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return written


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="build.py screenshots", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "store" / "screenshots")
    ap.add_argument("--ext", type=Path, default=REPO / "dist" / "chromium-test",
                    help="the built extension to photograph (test build: no permission prompt)")
    a = ap.parse_args(argv)
    if not (a.ext / "manifest.json").is_file():
        print(f"screenshots: no build in {a.ext} (run python build.py first)", file=sys.stderr)
        return 2
    for p in take(a.out.resolve(), a.ext.resolve()):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

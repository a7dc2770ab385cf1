"""The store listing material in docs/store/ matches the manifests."""
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STORE = REPO / "docs" / "store"


def manifest(target: str) -> dict:
    import sys
    sys.path.insert(0, str(REPO))
    import build
    m = build.manifest_for(target, test=False)
    # the words as the browser and the store read them: __MSG_key__ from the default locale
    words = build.locale_messages(m["default_locale"])
    return {k: re.sub(r"__MSG_(\w+)__", lambda g: words[g.group(1)]["message"], v) if isinstance(v, str) else v
            for k, v in m.items()}


@pytest.mark.parametrize("target", ["chromium", "firefox"])
def test_every_manifest_permission_has_a_one_sentence_justification(target):
    rows = {}
    for ln in (STORE / "PERMISSIONS.md").read_text().splitlines():
        m = re.match(r"\| (`[^|]+`(?: `[^|]+`)*) \| (.+) \|$", ln)
        if m:
            rows.update({name: m.group(2) for name in re.findall(r"`([^`]+)`", m.group(1))})
    m = manifest(target)
    wanted = m["permissions"] + ["optional_host_permissions"] + m["optional_host_permissions"] \
        + m.get("host_permissions", [])
    for p in wanted:
        assert p in rows, f"docs/store/PERMISSIONS.md has no justification for {p}"
        text = rows[p].removeprefix("(Chrome only) ")
        assert text.endswith(".") and text.count(". ") == 0, f"{p}: one sentence"


def test_short_description_is_the_manifest_description():
    text = (STORE / "DESCRIPTION.md").read_text()
    short = text.split("## Short description", 1)[1].split("##", 1)[0].split("\n", 2)[2].strip()
    assert short == manifest("chromium")["description"] == manifest("firefox")["description"]
    assert len(short) <= 132
    assert "## Long description" in text


def test_privacy_policy_says_what_is_stored_and_sent():
    text = (STORE / "PRIVACY.md").read_text()
    for phrase in ("collects no data", "IndexedDB", "What goes to the forum", "public key", "key backup",
                   "drafts", "PERMISSIONS.md"):
        assert phrase in text, phrase

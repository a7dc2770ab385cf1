"""Passphrase strength (extension/common/strength.js): zxcvbn-ts' estimate, with the shipped
browser builds, refuses what is easy to guess, with the estimator's advice."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
import build  # noqa: E402

ZXCVBN = ["vendor/zxcvbn-core.js", "vendor/zxcvbn-language-common.js", "vendor/zxcvbn-language-en.js"]


def strength(passphrases, user_inputs=()):
    files = [str(build.NODE / build.VENDOR[name]) for name in ZXCVBN]
    ask = json.dumps({"passphrases": list(passphrases), "userInputs": list(user_inputs)})
    r = subprocess.run([shutil.which("node"), str(REPO / "tests" / "js" / "strength_check.mjs"), *files, "--", ask],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_easy_passphrases_are_refused_with_the_estimator_s_advice():
    weak = ["aaaaaaaaaaaaaaaa", "password12345678", "qwertyuiopasdfgh", "1234567890123456"]
    for p, st in zip(weak, strength(weak)):
        assert st["ok"] is False and st["score"] <= 1, (p, st)
        assert st["warning"] or st["suggestions"], p   # the user is told why
    repeated = strength(["aaaaaaaaaaaaaaaa"])[0]
    assert "Repeated" in repeated["warning"]


def test_unrelated_words_pass_and_the_user_s_own_words_count_against():
    good = ["plinth marmot ochre fjord gusty", "e2e test passphrase, long enough"]
    assert [st["ok"] for st in strength(good)] == [True, True]
    # the forum user name and the forum's host are easy to guess for whoever knows the account
    own = "zorblaxquintek2026"
    plain = strength([own])[0]
    named = strength([own], user_inputs=["zorblax", "quintek.example"])[0]
    assert plain["ok"] is True and named["ok"] is False and named["score"] < plain["score"]


def test_middling_passphrases_are_refused_too():
    """zxcvbn's score 3 (10^8 to 10^10 guesses) is not enough: it lets these through."""
    middling = ["password Password", "summer2024summer", "letmein letmein1"]
    assert [(st["score"], st["ok"]) for st in strength(middling)] == [(3, False)] * 3

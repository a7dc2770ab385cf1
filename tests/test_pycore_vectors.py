"""The known-answer vectors, through the stable command, on both engines."""

import json
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO_DIR

ENGINES = ["cpython", "pyodide"]


def run_vectors(directory, engine):
    proc = subprocess.run([sys.executable, "-m", "pycore", "vectors", str(directory), "--engine", engine],
                          cwd=REPO_DIR, capture_output=True, text=True, timeout=600)
    lines = proc.stdout.strip().splitlines()
    return proc.returncode, lines, proc.stderr


@pytest.mark.parametrize("engine", ENGINES)
def test_every_shared_vector_passes(vectors_dir, engine):
    code, lines, err = run_vectors(vectors_dir, engine)
    assert lines, err
    assert lines[0] == f"primitives: {'webcrypto' if engine == 'pyodide' else 'cpython'}"
    match = re.fullmatch(r"(\d+) passed, (\d+) failed", lines[-1])
    assert match, lines[-1]
    manifest = json.loads((vectors_dir / "manifest.json").read_text())
    expected_cases = sum(v.get("cases", 0) + v.get("exports", 0) for v in manifest["files"].values())
    assert int(match.group(1)) >= expected_cases and match.group(2) == "0", "\n".join(lines)
    assert code == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_a_wrong_known_answer_fails_the_run(vectors_dir, tmp_path, engine):
    copy = tmp_path / "vectors"
    shutil.copytree(vectors_dir, copy)
    posts = json.loads((copy / "posts.json").read_text())
    posts["cases"][0]["decrypted"]["raw"] += "!"
    (copy / "posts.json").write_text(json.dumps(posts))
    code, lines, _ = run_vectors(copy, engine)
    assert code == 1
    assert lines[-1].endswith(" 1 failed")
    assert any(line.startswith("FAIL posts.json #0") for line in lines)

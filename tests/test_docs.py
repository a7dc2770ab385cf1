"""The docs point at the code: every `file:line` in docs/ARCHITECTURE.md's encryption table is
the definition of the function named just before it, and the README's layout names files that exist."""
import re

from tests.conftest import REPO_DIR

REF = re.compile(r"`(\w+)` `([\w/.]+\.py):(\d+)`")


def test_every_encryption_site_in_the_architecture_doc_is_where_it_says():
    text = (REPO_DIR / "docs" / "ARCHITECTURE.md").read_text()
    refs = REF.findall(text)
    assert len(refs) >= 15, "the table of where a byte is encrypted lost its references"
    wrong = []
    for name, path, line in refs:
        lines = (REPO_DIR / path).read_text().splitlines()
        n = int(line)
        found = n <= len(lines) and re.match(rf"(async )?def {name}\(", lines[n - 1])
        if not found:
            actual = [i + 1 for i, ln in enumerate(lines) if re.match(rf"(async )?def {name}\(", ln)]
            wrong.append(f"{name} is not at {path}:{line} (it is at line {actual})")
    assert not wrong, "\n".join(wrong) + "\n(python tools/update_doc_lines.py rewrites the lines)"


def test_the_readme_layout_names_paths_that_exist():
    text = (REPO_DIR / "README.md").read_text()
    table = text[text.index("## Layout"):]
    paths = re.findall(r"^\| `([^`]+)` \|", table, re.M)
    assert paths, "README has no layout table"
    missing = [p for p in paths if not (REPO_DIR / p.rstrip("/")).exists()]
    assert not missing, missing

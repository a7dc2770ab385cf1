#!/usr/bin/env python3
"""Rewrites the `name` `path:line` references of docs/ARCHITECTURE.md to where each function is
defined now (tests/test_docs.py fails when one is off). Usage: python tools/update_doc_lines.py"""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ARCHITECTURE.md"
REF = re.compile(r"`(\w+)` `([\w/.]+\.py):(\d+)`")


def definition_line(path: str, name: str) -> int | None:
    for i, line in enumerate((ROOT / path).read_text().splitlines(), 1):
        if re.match(rf"(async )?def {name}\(", line):
            return i
    return None


def main() -> int:
    text = DOC.read_text()

    def fix(m):
        line = definition_line(m.group(2), m.group(1))
        if line is None:
            raise SystemExit(f"{m.group(1)} is not defined in {m.group(2)}: edit the table by hand")
        return f"`{m.group(1)}` `{m.group(2)}:{line}`"
    DOC.write_text(REF.sub(fix, text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

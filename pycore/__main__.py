"""Command line: python -m pycore vectors DIR [--engine cpython|pyodide]"""

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def zip_package(target: Path) -> None:
    """pycore as the archive Pyodide unpacks (sources and data, no caches)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(PACKAGE_DIR.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                zf.write(path, Path("pycore") / path.relative_to(PACKAGE_DIR))


def run_in_pyodide(directory: str) -> int:
    """Runs the same vector checks inside Pyodide under Node, with WebCrypto as the backend."""
    node = shutil.which("node")
    runner = REPO_DIR / "tools" / "pyodide-run.mjs"
    pyodide_dir = Path(os.environ.get("PYODIDE_DIR", REPO_DIR / "node_modules" / "pyodide"))
    if not node or not runner.exists() or not (pyodide_dir / "pyodide.mjs").exists():
        print("pyodide engine unavailable: needs node, tools/pyodide-run.mjs and node_modules/pyodide "
              "(run tools/bootstrap.sh)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "pycore.zip"
        zip_package(archive)
        code = ("import sys\nfrom pycore.vectors import run_vectors\n"
                "passed, failed = await run_vectors('/vectors')\nfailed")
        proc = subprocess.run([node, str(runner), "--pyodide", str(pyodide_dir), "--package", str(archive),
                               "--mount", f"{Path(directory).resolve()}:/vectors", "--code", code])
        return proc.returncode


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pycore")
    sub = parser.add_subparsers(dest="command", required=True)
    vec = sub.add_parser("vectors", help="run a known-answer vector directory")
    vec.add_argument("directory")
    vec.add_argument("--engine", choices=("cpython", "pyodide"), default="cpython")
    args = parser.parse_args(argv)

    if not Path(args.directory).is_dir():
        parser.error(f"{args.directory} is not a directory")
    if args.engine == "pyodide":
        return run_in_pyodide(args.directory)
    from .vectors import run_vectors

    _, failed = asyncio.run(run_vectors(args.directory))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

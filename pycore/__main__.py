"""Command line: python -m pycore vectors DIR [--engine cpython|pyodide]"""

import argparse
import asyncio
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same sources give the same archive


# Development and build-time modules: the vector runner and this command line, and the JS
# constants generator. The extension never imports them, so its archive leaves them out.
DEV_MODULES = ("__main__.py", "vectors.py", "js_constants.py")


def package_zip(*, dev: bool = False) -> bytes:
    """pycore as the archive Pyodide unpacks (sources and data, no caches): sorted entries, fixed
    dates and permissions, so build.py's store packages are reproducible. `dev=True` adds the
    development modules (the vector runner inside Pyodide needs them)."""
    out = io.BytesIO()
    files = sorted(p for p in PACKAGE_DIR.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith((".pyc", "~"))
                   and (dev or p.relative_to(PACKAGE_DIR).as_posix() not in DEV_MODULES))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(REPO_DIR).as_posix(), ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes(), compresslevel=9)
    return out.getvalue()


def zip_package(target: Path, *, dev: bool = False) -> None:
    Path(target).write_bytes(package_zip(dev=dev))


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
        zip_package(archive, dev=True)
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

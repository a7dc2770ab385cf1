// Runs Python code inside Pyodide under Node, with pycore unpacked from an archive and WebCrypto
// (Node's globalThis.crypto.subtle) as the primitives backend. Used by
// `python -m pycore vectors DIR --engine pyodide` and by the tests.
//
//   node tools/pyodide-run.mjs --pyodide DIR --package pycore.zip [--mount HOSTDIR:/path]... --code SRC
//
// The code runs with top-level await; if its last expression is an integer it becomes the exit
// status (0 = success). Nothing is fetched from the network: Pyodide loads from DIR.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

function parseArgs(argv) {
  const args = { mounts: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`missing value for ${flag}`);
    if (flag === "--pyodide") args.pyodide = value;
    else if (flag === "--package") args.package = value;
    else if (flag === "--mount") args.mounts.push(value);
    else if (flag === "--code") args.code = value;
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!args.pyodide || !args.code) throw new Error("--pyodide and --code are required");
  return args;
}

// Copies a host directory into Pyodide's in-memory file system (small test data only).
function copyTree(py, hostDir, target) {
  py.FS.mkdirTree(target);
  for (const name of readdirSync(hostDir)) {
    const src = join(hostDir, name);
    const dst = `${target}/${name}`;
    if (statSync(src).isDirectory()) copyTree(py, src, dst);
    else py.FS.writeFile(dst, new Uint8Array(readFileSync(src)));
  }
}

const args = parseArgs(process.argv.slice(2));
const { loadPyodide } = await import(pathToFileURL(join(args.pyodide, "pyodide.mjs")).href);
const py = await loadPyodide({
  indexURL: args.pyodide.endsWith("/") ? args.pyodide : args.pyodide + "/",
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
if (args.package) {
  // A Node Buffer is not accepted here: copy into a plain Uint8Array first.
  py.unpackArchive(new Uint8Array(readFileSync(args.package)), "zip", { extractDir: "/lib/efd" });
  py.runPython("import sys; sys.path.insert(0, '/lib/efd')");
  // The extension's JavaScript helpers, as its engine host installs them: the code under test
  // here takes the same paths as in the browser (efd_host.store is the extension's only).
  // (Imported from their text: the repository's package.json does not declare ES modules.)
  const engineDir = new URL("../extension/engine/", import.meta.url);
  const load = (name) => import("data:text/javascript;base64,"
    + readFileSync(new URL(name, engineDir)).toString("base64"));
  const { a256Decoder } = await load("a256.js");
  const { cryptoBatch } = await load("crypto_batch.js");
  py.registerJsModule("efd_host", { a256Decoder, cryptoBatch });
  py.runPython("import efd_host\nfrom pycore.engine.pyodide_adapter import install_host_helpers\n"
    + "install_host_helpers(efd_host)");
}
for (const mount of args.mounts) {
  const cut = mount.lastIndexOf(":");
  copyTree(py, mount.slice(0, cut), mount.slice(cut + 1));
}
let status = 0;
try {
  const result = await py.runPythonAsync(args.code);
  if (typeof result === "number") status = result === 0 ? 0 : 1;
} catch (err) {
  process.stderr.write(String(err && err.message ? err.message : err) + "\n");
  status = 3;
}
process.exit(status);

// The router's checks, for the Python engine tests: reads one JSON request per line on stdin and
// answers one JSON line, using extension/common/messages.js exactly as the extension does.
//   {"op": "check", "type", "payload", "sender", "testHooks"?}  -> {"ok": true} | {"ok": false, "error": "..."}
//   (testHooks: checked as a test build checks it)
//   {"op": "describe"}                            -> {"ok": true, "types": EFD_MESSAGES.describe()}
// Usage: node tests/contract/router.mjs <messages.js> [constants.json]
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const [messagesPath, constantsPath] = process.argv.slice(2);
if (constantsPath) globalThis.EFD_CONSTANTS = Object.freeze(JSON.parse(readFileSync(constantsPath, "utf8")));
await import(pathToFileURL(messagesPath).href);
const M = globalThis.EFD_MESSAGES;

function answer(req) {
  if (req.op === "describe") return { ok: true, types: M.describe() };
  if (req.op === "senders") return { ok: true, from: (M.TYPES[req.type] || { from: [] }).from };
  if (req.op !== "check") return { ok: false, error: `unknown op ${req.op}` };
  try {
    const decl = M.check({ type: req.type, payload: req.payload }, req.sender, { testHooks: req.testHooks === true });
    return { ok: true, to: decl.to };
  } catch (e) {
    if (e instanceof M.Rejected) return { ok: false, error: e.message };
    throw e;
  }
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  process.stdout.write(JSON.stringify(answer(JSON.parse(line))) + "\n");
}

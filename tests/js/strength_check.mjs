// extension/common/strength.js with the zxcvbn-ts browser builds the package ships, loaded as a
// page loads them (classic scripts, then the module).
//   node strength_check.mjs VENDOR_FILE... -- '{"passphrases": [...], "userInputs": [...]}'
// prints one JSON line: [{score, ok, warning, suggestions}] in the order of the passphrases.
import fs from "node:fs";
import vm from "node:vm";

const sep = process.argv.indexOf("--");
for (const file of process.argv.slice(2, sep)) vm.runInThisContext(fs.readFileSync(file, "utf8"), { filename: file });
const { passphraseStrength } = await import("../../extension/common/strength.js");
const ask = JSON.parse(process.argv[sep + 1]);
console.log(JSON.stringify(ask.passphrases.map((p) => passphraseStrength(p, { userInputs: ask.userInputs || [] }))));

// How hard a passphrase is to guess, estimated by zxcvbn-ts (dictionaries of common passwords,
// words, names, keyboard patterns, dates, repeats and sequences). Its browser builds are classic
// scripts (vendor/zxcvbn-*.js) that a page loads before its modules; they define
// globalThis.zxcvbnts. Extension pages only: a passphrase never leaves them. (The minimum length
// is the pages' rule, checked beside this estimate: ui/common.js.)

// zxcvbn's score is 0..4 by the guesses an attacker needs; only 4 (at least 10^10 guesses) is
// accepted. Score 3 still lets "password Password" through. A device passphrase guards the keys
// stored on this device; a backup passphrase guards the backup in the forum, which whoever runs
// the forum can attack offline without limit.
export const MIN_SCORE = 4;
// Long inputs cost the estimator time per keystroke and gain nothing in the estimate.
const MAX_CHECKED = 128;

let estimator = null;
function zxcvbn() {
  if (!estimator) {
    const z = globalThis.zxcvbnts;
    if (!z || !z.core || !z["language-common"] || !z["language-en"]) {
      throw new Error("the passphrase estimator (vendor/zxcvbn-*.js) is not loaded on this page");
    }
    const common = z["language-common"], en = z["language-en"];
    // Levenshtein matching is left off: it costs about a second per keystroke.
    estimator = new z.core.ZxcvbnFactory({
      translations: en.translations,
      graphs: common.adjacencyGraphs,
      dictionary: { ...common.dictionary, ...en.dictionary },
    });
  }
  return estimator;
}

// {score 0..4, ok, warning, suggestions}: `ok` when the score is at least MIN_SCORE.
// `userInputs`: words the user's own context makes easy to guess (the forum user name, the
// forum's host name).
export function passphraseStrength(passphrase, { userInputs = [] } = {}) {
  const p = String(passphrase || "");
  if (!p) return { score: 0, ok: false, warning: "", suggestions: [] };
  // zxcvbn matches whole inputs: "forum.example.org" is also "forum" and "example"
  const words = userInputs.flatMap((w) => [w, ...String(w).split(/[^\p{L}\p{N}]+/u)]).filter((w) => w.length >= 3);
  const r = zxcvbn().check(p.slice(0, MAX_CHECKED), ["encrypt", "discourse", ...words]);
  return { score: r.score, ok: r.score >= MIN_SCORE, warning: r.feedback.warning || "",
    suggestions: r.feedback.suggestions || [] };
}

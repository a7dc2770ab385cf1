// What the user reads when something fails: the sentences of common/constants.js USER_TEXT
// (pycore/errors.py FOR_USERS), never an exception's message, which is written for developers
// and may name internals. Extension pages and frames only.
import "./constants.js";

const C = globalThis.EFD_CONSTANTS;
const FALLBACKS = { username: "A recipient", excess: "some", retry_after: "a few" };

// e: an error with a `code` (RequestError from common/client.js: `info` holds the error's fields).
// The forum's own refusals (forum_refused, forbidden) add the forum's words: Discourse writes
// them for its users, in their language.
export function userText(e) {
  const code = e && typeof e.code === "string" && Object.prototype.hasOwnProperty.call(C.USER_TEXT, e.code)
    ? e.code : "unexpected";
  const fields = (e && e.info) || {};
  const fill = (t) => t.replace(/\{(\w+)\}/g, (_, k) => {
    const v = fields[k];
    if (k === "retry_after" && Number.isFinite(Number(v))) return String(Math.max(1, Math.ceil(Number(v))));
    return typeof v === "string" || typeof v === "number" ? String(v) : FALLBACKS[k] || "";
  });
  const [what, next] = C.USER_TEXT[code];
  let text = `${fill(what)} ${fill(next)}`;
  if ((code === "forum_refused" || code === "forbidden") && e.message) text += ` The forum says: \u201c${String(e.message).slice(0, 300)}\u201d`;
  return text;
}

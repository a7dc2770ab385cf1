// Posting to a forum that asks to wait: Discourse answers 429 with Retry-After when a rate limit
// is reached (5 s between posts and 15 s between PMs by default, longer for new users), 5xx when
// it is read-only or failing, and the network may drop. The operation is tried again after what
// the forum asks (or a growing pause), counting down through `tell`; nothing is lost meanwhile.
// Extension pages and frames only.
import { fieldValues, knownCode } from "./user_text.js";

export const RETRYABLE = new Set(["rate_limited", "server_error", "offline", "no_content", "send_failed"]);
export const MAX_ATTEMPTS = 6;
export const MAX_WAIT_SECONDS = 300;

// fn(): the operation; tell({why, left, attempt, of}) is called every second while waiting.
export async function withRetry(fn, tell) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!RETRYABLE.has(e.code) || attempt >= MAX_ATTEMPTS) throw e;
      // the content script's message carries the forum's Retry-After as "retry after N"
      const m = /retry after (\d+)/.exec(e.message || "");
      const asked = m ? parseInt(m[1], 10) : null;
      const wait = Math.min(asked !== null ? Math.max(asked, 1) : 2 ** attempt, MAX_WAIT_SECONDS);
      const code = knownCode(e.code);
      const why = globalThis.EFD_I18N.t(`error_${code}_what`, fieldValues(code, e.info || {}));
      for (let left = wait; left > 0; left--) {
        tell({ why, left, attempt: attempt + 1, of: MAX_ATTEMPTS });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
}

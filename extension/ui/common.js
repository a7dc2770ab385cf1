// Shared helpers for the extension's own pages (popup, options). Extension pages only.
import { $, api, RequestError, send, t, tNodes, localizePage } from "../common/client.js";

export { $, api, RequestError, send, t, tNodes };

export const C = globalThis.EFD_CONSTANTS;
export const patterns = globalThis.EFD_MESSAGES.patterns;
localizePage();

export function show(el, on = true) { el.hidden = !on; }

export function setMessage(el, text, kind = "info") {
  el.textContent = text || "";
  el.className = "msg " + kind;
  el.hidden = !text;
}

import { userText as errorText } from "../common/user_text.js";

export { errorText };

// Rough strength estimate for feedback: entropy from length and character variety, with a
// penalty for repeats. Words separated by spaces count as about 11 bits each when long enough.
export function passphraseStrength(p) {
  if (!p) return { score: 0, label: "", bits: 0 };
  let pool = 0;
  if (/[a-z]/.test(p)) pool += 26;
  if (/[A-Z]/.test(p)) pool += 26;
  if (/[0-9]/.test(p)) pool += 10;
  if (/[^A-Za-z0-9]/.test(p)) pool += 33;
  const unique = new Set(p).size;
  let bits = Math.log2(Math.max(pool, 2)) * Math.min(p.length, unique * 2);
  const words = p.trim().split(/\s+/).filter((w) => w.length >= 3);
  if (words.length >= 4) bits = Math.max(bits, words.length * 11);
  const score = p.length < C.MIN_PASSPHRASE_LENGTH ? 0 : bits < 50 ? 1 : bits < 70 ? 2 : bits < 90 ? 3 : 4;
  const label = [t("strength_too_short"), t("strength_weak"), t("strength_fair"), t("strength_good"), t("strength_strong")][score];
  return { score, label, bits: Math.round(bits) };
}

// An error in `el`, in the user's words; a passphrase throttle counts down to the moment the
// next attempt is accepted.
export function setErrorMessage(el, e) {
  clearTimeout(el.efdCountdown);
  const wait = e && e.code === "throttled" && e.info ? Math.ceil(Number(e.info.retry_after)) : NaN;
  if (!Number.isFinite(wait)) return setMessage(el, errorText(e), "error");
  let left = wait;
  const tick = () => {
    if (left <= 0) return setMessage(el, t("passphrase_try_again_now"), "info");
    setMessage(el, errorText({ ...e, info: { ...e.info, retry_after: left } }), "error");
    left--;
    el.efdCountdown = setTimeout(tick, 1000);
  };
  tick();
}

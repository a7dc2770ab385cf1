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

import { passphraseStrength as estimate } from "../common/strength.js";

// The estimate of common/strength.js with the words to show: its label (one of strength_*), and
// the estimator's advice when the passphrase is refused. use: "device" or "backup" (whose advice
// says why it matters there).
export function passphraseStrength(p, use = "device", userInputs = []) {
  const est = estimate(p, { userInputs });
  const tooShort = String(p || "").length < C.MIN_PASSPHRASE_LENGTH;
  const st = { ...est, too_short: tooShort, ok: est.ok && !tooShort };
  const label = st.too_short ? t("strength_too_short")
    : [t("strength_weak"), t("strength_weak"), t("strength_fair"), t("strength_fair"), t("strength_strong")][st.score];
  const advice = st.ok ? "" : st.too_short ? t("strength_advice_length", [C.MIN_PASSPHRASE_LENGTH])
    : [st.warning, ...st.suggestions, t(use === "backup" ? "strength_advice_backup" : "strength_advice_device")]
      .filter(Boolean).join(" ");
  return { ...st, label, advice };
}

// Shows the strength of `input` in `out` (and the bar `meter`, if any); returns the estimate.
export function showStrength(input, out, { use = "device", meter = null, userInputs = [] } = {}) {
  const st = passphraseStrength(input.value, use, userInputs);
  out.textContent = input.value ? [t("options_strength", [st.label]), st.advice].filter(Boolean).join(" ") : "";
  out.dataset.ok = st.ok ? "1" : "0";
  if (meter) {
    meter.style.width = `${st.score * 25}%`;
    meter.style.background = ["#b42318", "#d4580f", "#d4a017", "#4c9a2a", "#1a7f37"][st.score];
  }
  return st;
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

// What `origin` holds of the user's key, asked through an open tab of the forum: the backup PM
// (find_backup) and the key in the profile (keys.published). Setup looks here before a new key is
// made. Resolves to {found: "backup" | "published" | "nothing", backup, published, username};
// rejects with the forum's error (no tab, not logged in) so that callers can say why they do not know.
export async function lookForMyKeyOn(origin) {
  const forum = (op, args = {}) => send("forum.request", { op, args, origin });
  const who = await forum("me");
  if (!who.username) throw Object.assign(new Error("not logged in to the forum"), { code: "not_logged_in" });
  const backup = await forum("find_backup");
  const u = await forum("user", { username: who.username });
  const published = await send("keys.published", { bio_raw: u.bio_raw || "" });
  const found = backup.found ? "backup" : published.state === "published" ? "published" : "nothing";
  return { found, backup, published, username: who.username, base: who.base || "" };
}

// What keeps the forum page out of the user's decisions in our frames. A frame sits in the page's
// DOM: the page cannot read it or send it events, but it can move it, cover it, make it
// transparent, put its own button over ours, take the keyboard focus, or draw a fake frame.
//
//   decisionGuard(button)   a button that sends, or accepts a key, works only after the frame
//                           has been fully visible and unobstructed for a moment (Chromium's
//                           IntersectionObserver v2 `trackVisibility`); where the browser cannot
//                           tell (Firefox), the decision is confirmed in an extension window the
//                           page cannot reach (`confirmOutside`).
//   watchFocus(inputs, el)  warns when the page takes the keyboard focus while the user types.
//   showSecurityPhrase()    the user's own words, in every frame: a page-drawn fake cannot show them.
import { $, send, t } from "../common/client.js";

// Visible for this long, unobstructed, before a decision button arms: a page that reveals the
// frame under the pointer right before a click gains nothing.
const ARM_AFTER_MS = 800;

export const canTellVisibility = typeof IntersectionObserverEntry !== "undefined" &&
  "isVisible" in IntersectionObserverEntry.prototype;

// Arms `button` while it is fully visible and unobstructed; returns {armed(): bool}.
// Without visibility tracking the button stays usable and every use is confirmed outside.
export function decisionGuard(button) {
  if (!canTellVisibility) {
    button.dataset.armed = "confirm";
    return { armed: () => true, confirmOutside: true };
  }
  let timer = null;
  const set = (on) => {
    button.dataset.armed = on ? "1" : "0";
    button.classList.toggle("unarmed", !on);
    button.title = on ? "" : t("guard_waiting_visible");
  };
  set(false);
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) {
      clearTimeout(timer);
      if (e.isVisible && e.intersectionRatio >= 0.99) timer = setTimeout(() => set(true), ARM_AFTER_MS);
      else set(false);
    }
  }, { threshold: [0.99], trackVisibility: true, delay: 100 });
  io.observe(button);
  return { armed: () => button.dataset.armed === "1", confirmOutside: false };
}

// Asks the user in an extension window (opened by the router, out of the page's reach) whether
// to go on. Resolves to true only on the user's click there.
export async function confirmOutside(token, question, action) {
  const r = await send("ui.confirm", { token, question: String(question).slice(0, 600), action });
  return r.confirmed === true;
}

// Shows `warning` when the page takes the focus away from one of `inputs` within a moment of a
// keystroke there: what the user types next would reach the page, not us.
export function watchFocus(inputs, warning) {
  let lastKey = 0;
  for (const input of inputs) {
    input.addEventListener("keydown", () => { lastKey = Date.now(); warning.hidden = true; });
    input.addEventListener("blur", () => {
      if (Date.now() - lastKey > 1500) return;
      // Give the browser a tick to move the focus, then see whether it left this frame.
      setTimeout(() => { if (!document.hasFocus()) warning.hidden = false; }, 0);
    });
    input.addEventListener("focus", () => { warning.hidden = true; });
  }
}

export async function showSecurityPhrase() {
  const slots = document.querySelectorAll("[data-security-phrase]");
  if (!slots.length) return;
  let phrase = null;
  try { phrase = (await send("settings.get")).security_phrase; } catch (_) { /* engine not ready */ }
  for (const slot of slots) {
    slot.textContent = phrase || t("guard_no_phrase");
    slot.classList.toggle("missing", !phrase);
  }
}

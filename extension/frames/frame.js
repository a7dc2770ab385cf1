// Shared helpers of the extension frames (viewer, composer). Extension origin only.
import { $, api, RequestError, send, t, tNodes, localizePage } from "../common/client.js";
import { applyTheme, themeCss } from "./theme.js";

export { $, api, RequestError, send, t, tNodes };

export const C = globalThis.EFD_CONSTANTS;
export const patterns = globalThis.EFD_MESSAGES.patterns;
localizePage();

// The token the content script put in the fragment (then removed from the visible URL).
export const TOKEN = (location.hash || "").slice(1);

// A forum request done by the content script of this frame's tab (ciphertext/public data only).
export function forum(op, args = {}) {
  return send("forum.request", { op, args, token: TOKEN });
}

export function el(tag, attrs = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of [].concat(children)) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

// A frame of a fixed height (the content scrolls inside): reports it once, and again when set()
// chooses another. Returns {set(px)}.
export function fixedHeight(px) {
  let current = null;
  const set = (h) => {
    if (h === current) return;
    current = h;
    document.documentElement.style.height = document.body.style.height = h + "px";
    document.body.style.overflowY = "auto";
    send("frame.resize", { token: TOKEN, height: h }).catch(() => {});
  };
  set(px);
  return { set };
}

// Reports the document height to the content script (numbers only), when it changes.
export function followHeight(extra = 0) {
  let last = -1;
  const report = () => {
    // The body's own height (the root element is never smaller than the frame's viewport).
    const h = Math.ceil(document.body.getBoundingClientRect().height) + extra;
    if (h !== last) { last = h; send("frame.resize", { token: TOKEN, height: h }).catch(() => {}); }
  };
  new ResizeObserver(report).observe(document.body);
  report();
  return report;
}

// The forum's look from the frame's bundle (frames/theme.js); themeStyle() is the same for the
// sandboxed renderer's document.
let sandboxCss = "";
export function useForumTheme(theme) { sandboxCss = themeCss(applyTheme(theme)); }
export function themeStyle() { return sandboxCss; }
